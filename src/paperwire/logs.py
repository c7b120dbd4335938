"""Logging for every process: readable lines, or one JSON object per line (PAPERWIRE_LOG_JSON=1).

Secrets never reach a log: URL passwords and the configured secret key are masked in every record.
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import datetime, timezone
from typing import Any

import orjson

from paperwire.settings import Settings

URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://[^:/@\s]*):(?P<password>[^@\s]+)@", re.IGNORECASE)
STANDARD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def mask_secrets(text: str, secrets: tuple[str, ...] = ()) -> str:
    text = URL_PASSWORD.sub(r"\g<scheme>:********@", text)
    for secret in secrets:
        text = text.replace(secret, "********")
    return text


class RedactingFilter(logging.Filter):
    """Renders the message once, masked, so neither formatter sees a secret."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__()
        self.secrets = tuple(secret for secret in secrets if len(secret) >= 8)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_secrets(record.getMessage(), self.secrets)
        record.args = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, process, any `extra=` fields, error."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        for name, value in vars(record).items():
            if name not in STANDARD_ATTRIBUTES and not name.startswith("_"):
                entry[name] = value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def make_handler(settings: Settings) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    secrets = (settings.secret_key.get_secret_value(),)
    handler.addFilter(RedactingFilter(secrets))
    return handler


def configure_logging(settings: Settings, level: str = "INFO") -> None:
    """Route every logger (paperwire, uvicorn, alembic …) through one handler on the root logger.

    The log_level setting (PAPERWIRE_LOG_LEVEL: DEBUG, INFO, WARNING …) overrides `level`.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "paperwire", False):
            root.removeHandler(handler)
    handler = make_handler(settings)
    handler.paperwire = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(settings.log_level or level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "alembic"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    if not settings.log_level:
        logging.getLogger("alembic").setLevel(logging.WARNING)  # "Context impl …" on every start
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)  # /metrics counts requests instead


def uvicorn_log_config() -> dict:
    """For uvicorn.run(log_config=…): keep uvicorn's loggers flowing into the root handler above."""
    return {"version": 1, "disable_existing_loggers": False}
