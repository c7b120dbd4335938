"""The one Settings object: environment PAPERWIRE_* (and an optional TOML file), secrets masked when shown."""

from __future__ import annotations

import contextlib
import os
import secrets
import time
import tomllib
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, PrivateAttr, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_FIELDS = ("secret_key",)
URL_FIELDS_WITH_PASSWORDS = ("database_url", "smtp_url")


def default_home() -> Path:
    return Path.home() / ".local" / "share" / "paperwire"


class Settings(BaseSettings):
    """Everything an operator can set. Passed down explicitly; never read as a global."""

    model_config = SettingsConfigDict(env_prefix="PAPERWIRE_", extra="ignore")
    _generated_key: str | None = PrivateAttr(default=None)

    home: Path = Field(default_factory=default_home, description="data directory")
    database_url: str = Field("", description="sqlite:///… (default: HOME/paperwire.db) or postgresql://…")
    base_url: str = Field("http://127.0.0.1:8000", description="public address used in links and mails")
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

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("arxiv_rss_url", "arxiv_api_url", "arxiv_oai_url", "hf_api_url")
    @classmethod
    def _strip_source_slash(cls, value: str) -> str:
        return value.rstrip("/")

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
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Berlin)") from error
        return value

    @field_validator("arxiv_daily_at")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        from datetime import time

        try:
            return time.fromisoformat(value.strip()).strftime("%H:%M")
        except ValueError as error:
            raise ValueError(f"expected a time of day HH:MM, got {value!r}") from error

    @classmethod
    def load(cls, toml_file: Path | None = None, **overrides: Any) -> Settings:
        """Environment first, then values from an optional TOML file, then explicit overrides."""
        values: dict[str, Any] = {}
        if toml_file is not None:
            values.update(tomllib.loads(Path(toml_file).read_text(encoding="utf-8")))
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values) if values else cls()
        return settings

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


def mask_url_password(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":********@")
    return urlunsplit(parts._replace(netloc=netloc))
