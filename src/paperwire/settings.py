"""The one Settings object: environment PAPERWIRE_* (and an optional TOML file), secrets masked when shown."""

from __future__ import annotations

import contextlib
import os
import secrets
import time
import tomllib
from collections.abc import Mapping
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, PrivateAttr, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_FIELDS = ("secret_key",)
URL_FIELDS_WITH_PASSWORDS = ("database_url", "smtp_url")
MIN_SECRET_KEY = 32  # characters: an HMAC key shorter than this can be guessed or was typed by hand
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SMTP_SCHEMES = ("smtp", "smtp+starttls", "smtps")
DEFAULT_BASE_URL = "http://127.0.0.1:8000"  # where `paperwire serve` listens by default
LISTENING_FILE = "listening_url"  # HOME/listening_url: where the last `serve` answered


class SettingsError(ValueError):
    """Settings an operator must fix; each problem names its PAPERWIRE_ variable and what is expected."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid settings:\n" + "\n".join(f"  {problem}" for problem in problems))


def env_name(field: str) -> str:
    return f"PAPERWIRE_{field.upper()}"


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL with a host, got {value!r}")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError as error:
        raise ValueError(f"expected a URL with a valid port, got {value!r}") from error
    return value.rstrip("/")


def _clock(value: str) -> str:
    from datetime import time

    text = value.strip()
    if len(text) != 5 or text[2] != ":" or not (text[:2] + text[3:]).isascii() or not (text[:2] + text[3:]).isdigit():
        raise ValueError(f"expected a time of day HH:MM (24-hour, such as 07:00), got {value!r}")
    try:
        return time.fromisoformat(text).strftime("%H:%M")
    except ValueError as error:
        raise ValueError(f"expected a time of day HH:MM (24-hour, such as 07:00), got {value!r}") from error


def default_home() -> Path:
    return Path.home() / ".local" / "share" / "paperwire"


class Settings(BaseSettings):
    """Everything an operator can set. Passed down explicitly; never read as a global."""

    model_config = SettingsConfigDict(env_prefix="PAPERWIRE_", extra="ignore")
    _generated_key: str | None = PrivateAttr(default=None)
    _base_url_configured: bool = PrivateAttr(default=True)

    home: Path = Field(default_factory=default_home, description="data directory")
    database_url: str = Field("", description="sqlite:///… (default: HOME/paperwire.db) or postgresql://…")
    base_url: str = Field(
        "", description="public address used in links and mails (default: the address serve/demo listens on)"
    )
    secret_key: SecretStr = Field(SecretStr(""), description="signs cookies and tokens (generated once if empty)")
    smtp_url: str = Field("", description="smtp://, smtp+starttls:// or smtps://user:password@host:port")
    mail_from: str = Field("paperwire <paperwire@localhost>", description="From: of every mail")
    site_name: str = Field("paperwire", description="name shown in pages and mails")
    contact: str = Field("", description="operator contact put into the User-Agent of fetchers")
    log_json: bool = Field(False, description="structured JSON logs")
    live_sources: bool = Field(True, description="fetch new papers from arXiv and Hugging Face on schedule")
    embedder: str = Field("all-MiniLM-L6-v2", description="embedding model name, or 'none' to disable")
    page_cache_seconds: float = Field(
        10.0, ge=0, description="longest time an anonymous list page is served from memory (0: off)"
    )
    page_cache_probe_seconds: float = Field(
        1.0, ge=0, description="how often a web process checks the database for changes made by other processes"
    )
    # Live sources and the scheduler (issue 7). Every base URL is a setting so tests use a local server.
    arxiv_rss_url: str = Field("https://rss.arxiv.org", description="arXiv announcement feeds (/atom/<cats>)")
    arxiv_api_url: str = Field("https://export.arxiv.org/api/query", description="arXiv API query endpoint")
    arxiv_oai_url: str = Field("https://oaipmh.arxiv.org/oai", description="arXiv OAI-PMH endpoint")
    hf_api_url: str = Field("https://huggingface.co", description="Hugging Face (/api/daily_papers)")
    arxiv_categories: str = Field("cs.AI,cs.CL,cs.LG", description="categories of the scheduled arXiv ingest")
    arxiv_request_interval: float = Field(3.0, ge=0, description="seconds between requests to an arXiv host")
    hf_request_interval: float = Field(1.0, ge=0, description="seconds between requests to Hugging Face")
    http_timeout: float = Field(30.0, gt=0, description="seconds before a fetch times out")
    http_retries: int = Field(4, ge=0, description="retries of a failed fetch (429, 5xx, timeouts)")
    http_backoff: float = Field(2.0, ge=0, description="first retry delay in seconds, doubled each retry")
    http_max_wait: float = Field(600.0, ge=0, description="longest Retry-After honoured, in seconds")
    schedule_time_zone: str = Field("America/New_York", description="time zone of the daily schedules")
    arxiv_daily_at: str = Field("00:30", description="HH:MM when the arXiv daily ingest runs (after the announcement)")
    hf_refresh_minutes: int = Field(60, ge=1, description="minutes between Hugging Face refreshes of the week")
    # Mail (issue 5).
    mail_rate: float = Field(20.0, ge=0, description="most mails sent per second by one sender (0: no limit)")
    digest_at: str = Field("07:00", description="HH:MM (in schedule_time_zone) when digests are composed and sent")
    # Limits and trust at the edge (issue 13; docs/deploy.md "Security").
    max_body_bytes: int = Field(65_536, ge=1024, description="largest request body (JSON or form) in bytes (413)")
    max_header_bytes: int = Field(16_384, ge=1024, description="largest request line and headers in bytes (431)")
    client_timeout: float = Field(
        10.0, gt=0, description="seconds a client may stay idle between requests or between parts of a body"
    )
    trusted_proxies: str = Field(
        "", description="addresses or CIDRs of reverse proxies whose X-Forwarded-For is believed (default: none)"
    )
    mail_cap_per_address: int = Field(
        3, ge=0, description="most mails (sign-in, confirmation …; not digests) to one address per hour (0: no cap)"
    )
    # Operations (issue 13).
    log_level: str = Field(
        "", description="DEBUG, INFO, WARNING, ERROR (default: INFO for serve/worker/demo, WARNING for commands)"
    )
    submit_pending_per_reader: int = Field(3, ge=1, description="arXiv fetches one reader may have waiting")
    submit_pending_total: int = Field(50, ge=1, description="arXiv fetches waiting for the whole site")

    @field_validator("base_url", "arxiv_rss_url", "arxiv_api_url", "arxiv_oai_url", "hf_api_url")
    @classmethod
    def _checked_url(cls, value: str, info: ValidationInfo) -> str:
        if info.field_name == "base_url" and not value.strip():
            return ""  # resolved below: the address the server listens on
        return _http_url(value)

    @model_validator(mode="after")
    def _resolve_base_url(self) -> Settings:
        """Links need an absolute address: the configured one, else where `serve` last listened
        (HOME/listening_url, written at start-up), else the default address of `serve`."""
        if not self.base_url:
            self._base_url_configured = False
            recorded = self.home / LISTENING_FILE
            try:
                self.base_url = _http_url(recorded.read_text(encoding="utf-8").strip())
            except (OSError, ValueError):
                self.base_url = DEFAULT_BASE_URL
        return self

    def listening_at(self, url: str) -> Settings:
        """These settings for a server answering at `url`: the links follow it unless PAPERWIRE_BASE_URL
        is set. Recorded in HOME so that commands run beside the server (`digest run`) agree with it."""
        if self._base_url_configured:
            return self
        url = _http_url(url)
        recorded = self.ensure_home() / LISTENING_FILE
        recorded.write_text(url + "\n", encoding="utf-8")
        return self.model_copy(update={"base_url": url})

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str) -> str:
        if value and (urlsplit(value).scheme not in SMTP_SCHEMES or not urlsplit(value).hostname):
            raise ValueError("expected empty (mail goes to HOME/maildir) or smtp://, smtp+starttls:// or "
                             f"smtps://user:password@host:port, got {mask_url_password(value)!r}")  # fmt: skip
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        scheme = urlsplit(value).scheme.split("+")[0]
        if value and scheme not in ("sqlite", "postgresql", "postgres"):
            raise ValueError("expected empty (SQLite in HOME), sqlite:///PATH or postgresql://user@host/db, "
                             f"got {mask_url_password(value)!r}")  # fmt: skip
        return value

    @field_validator("home")
    @classmethod
    def _usable_home(cls, value: Path) -> Path:
        existing = value
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise ValueError(f"expected a directory (or a path where one can be made), got {str(value)!r}: "
                             f"{existing} is not a directory")  # fmt: skip
        if not os.access(existing, os.W_OK | os.X_OK):
            raise ValueError(f"expected a writable directory, got {str(value)!r} ({existing} is not writable)")
        return value

    @field_validator("secret_key")
    @classmethod
    def _long_secret(cls, value: SecretStr) -> SecretStr:
        key = value.get_secret_value()
        if key and len(key.strip()) < MIN_SECRET_KEY:
            raise ValueError(f"expected at least {MIN_SECRET_KEY} characters (or leave it unset to have one "
                             f"generated in HOME/secret_key), got {len(key.strip())}")  # fmt: skip
        return SecretStr(key.strip())

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value and value.strip().upper() not in LOG_LEVELS:
            raise ValueError(f"expected one of {', '.join(LOG_LEVELS)} (or empty), got {value!r}")
        return value.strip().upper()

    @field_validator("mail_from")
    @classmethod
    def _mail_from(cls, value: str) -> str:
        from email.utils import parseaddr

        if "@" not in parseaddr(value)[1]:
            raise ValueError(f"expected an address such as 'paperwire <papers@example.org>', got {value!r}")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        parse_networks(value)  # raises ValueError naming the entry that is not an address or CIDR
        return value.strip()

    @property
    def trusted_proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        return parse_networks(self.trusted_proxies)

    @field_validator("schedule_time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"expected an IANA time zone name such as Europe/Berlin, got {value!r}") from error
        return value

    @field_validator("arxiv_daily_at", "digest_at")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        return _clock(value)

    @classmethod
    def load(cls, toml_file: Path | None = None, **overrides: Any) -> Settings:
        """Environment first, then values from an optional TOML file, then explicit overrides.

        SettingsError (every problem, each naming its variable) when a value is not what is expected."""
        settings, problems = cls.load_checked(toml_file, **overrides)
        if problems:
            raise SettingsError(problems)
        return settings

    @classmethod
    def load_checked(cls, toml_file: Path | None = None, **overrides: Any) -> tuple[Settings, list[str]]:
        """The settings with each invalid value replaced by its default, and the list of problems
        (for `paperwire config --check` and `paperwire status`, which must work with bad settings)."""
        values: dict[str, Any] = {}
        if toml_file is not None:
            values.update(tomllib.loads(Path(toml_file).read_text(encoding="utf-8")))
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values), []
        except ValidationError as error:
            problems = describe_errors(error)
            invalid = {str(item["loc"][0]) for item in error.errors() if item["loc"]}
        for name in invalid & set(cls.model_fields):
            values[name] = cls.model_fields[name].get_default(call_default_factory=True)
        return cls(**values), problems

    def check_secret_key(self, *, generate: bool = True) -> None:
        """SettingsError unless the signing key (set, or in HOME/secret_key) is long enough: run at start-up.

        `generate=False` only reads: a missing key file is fine (it is generated on first start)."""
        if not generate and not self.secret_key.get_secret_value():
            key_file = self.home / "secret_key"
            if not key_file.exists():
                return
            key = key_file.read_text(encoding="utf-8").strip()
        else:
            key = self.effective_secret_key()
        if len(key) < MIN_SECRET_KEY:
            raise SettingsError([
                f"{env_name('secret_key')}: the key in {self.home / 'secret_key'} has {len(key)} characters, "
                f"expected at least {MIN_SECRET_KEY}; delete the file to have a new one generated, or set "
                f"{env_name('secret_key')}"
            ])  # fmt: skip

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'paperwire.db'}"

    def ensure_home(self) -> Path:
        """The data directory, created (or narrowed) to 0700: it holds the key, the database and mail."""
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.home.stat().st_mode & 0o077:
            with contextlib.suppress(PermissionError):  # not ours to narrow: leave it as the operator set it
                self.home.chmod(0o700)
        return self.home

    def effective_secret_key(self) -> str:
        """The configured key, or one generated once and kept in the data directory."""
        if self.secret_key.get_secret_value():
            return self.secret_key.get_secret_value()
        if self._generated_key is None:
            key_file = self.ensure_home() / "secret_key"
            try:  # O_EXCL: of several processes starting together, exactly one writes the key
                descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(descriptor, "w", encoding="utf-8") as out:
                    out.write(secrets.token_urlsafe(48))
            for _ in range(100):  # another process may be between creating and writing the file
                key = key_file.read_text(encoding="utf-8").strip()
                if key:
                    break
                time.sleep(0.01)
            self._generated_key = key
        return self._generated_key

    def masked(self) -> dict[str, str]:
        """Effective settings as strings, with secrets and URL passwords masked."""
        shown: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name in SECRET_FIELDS:
                text = "********" if value.get_secret_value() else "(generated, in HOME/secret_key)"
            elif name == "database_url":
                text = mask_url_password(self.effective_database_url)
            elif name in URL_FIELDS_WITH_PASSWORDS:
                text = mask_url_password(str(value))
            else:
                text = str(value)
            shown[name] = text
        return shown


def parse_networks(text: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """`10.0.0.1, 192.168.0.0/16, ::1` → networks; ValueError naming an entry that is neither."""
    networks = []
    for entry in text.replace(";", ",").split(","):
        if entry.strip():
            try:
                networks.append(ip_network(entry.strip(), strict=False))
            except ValueError as error:
                raise ValueError(f"{entry.strip()!r} is not an IP address or CIDR (e.g. 10.0.0.0/8, ::1)") from error
    return tuple(networks)


def describe_errors(error: ValidationError) -> list[str]:
    """One line per invalid value: the variable, what is expected, and what was given."""
    problems = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else "?"
        message = str(item["msg"]).removeprefix("Value error, ")
        given = item.get("input")
        shown = (
            "" if field in SECRET_FIELDS or field in URL_FIELDS_WITH_PASSWORDS or given is None else f" (got {given!r})"
        )
        if "got" in message:
            shown = ""
        problems.append(f"{env_name(field)}: {message}{shown}")
    return problems


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """PAPERWIRE_* variables that no setting reads (usually a typo)."""
    known = {env_name(name) for name in Settings.model_fields}
    return sorted(name for name in (environ or os.environ) if name.startswith("PAPERWIRE_") and name not in known)


def mask_url_password(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":********@")
    return urlunsplit(parts._replace(netloc=netloc))
