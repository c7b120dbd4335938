"""The one Settings object: environment PAPERWIRE_* (and an optional TOML file), secrets masked when shown."""

from __future__ import annotations

import secrets
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_FIELDS = ("secret_key",)
URL_FIELDS_WITH_PASSWORDS = ("database_url", "smtp_url")


def default_home() -> Path:
    return Path.home() / ".local" / "share" / "paperwire"


class Settings(BaseSettings):
    """Everything an operator can set. Passed down explicitly; never read as a global."""

    model_config = SettingsConfigDict(env_prefix="PAPERWIRE_", extra="ignore")

    home: Path = Field(default_factory=default_home, description="data directory")
    database_url: str = Field("", description="sqlite:///… (default: HOME/paperwire.db) or postgresql://…")
    base_url: str = Field("http://127.0.0.1:8000", description="public address used in links and mails")
    secret_key: SecretStr = Field(SecretStr(""), description="signs cookies and tokens (generated once if empty)")
    smtp_url: str = Field("", description="smtp://, smtp+starttls:// or smtps://user:password@host:port")
    mail_from: str = Field("paperwire <paperwire@localhost>", description="From: of every mail")
    site_name: str = Field("paperwire", description="name shown in pages and mails")
    contact: str = Field("", description="operator contact put into the User-Agent of fetchers")
    log_json: bool = Field(False, description="structured JSON logs")
    embedder: str = Field("all-MiniLM-L6-v2", description="embedding model name, or 'none' to disable")

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @classmethod
    def load(cls, toml_file: Path | None = None, **overrides: Any) -> "Settings":
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
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home

    def effective_secret_key(self) -> str:
        """The configured key, or one generated once and kept in the data directory."""
        if self.secret_key.get_secret_value():
            return self.secret_key.get_secret_value()
        key_file = self.ensure_home() / "secret_key"
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(48), encoding="utf-8")
            key_file.chmod(0o600)
        return key_file.read_text(encoding="utf-8").strip()

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


def mask_url_password(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":********@")
    return urlunsplit(parts._replace(netloc=netloc))
