"""Where mail leaves: SMTP (smtp://, smtp+starttls://, smtps://) or a Maildir when no SMTP_URL is set.

A transport sends one message at a time over one reused connection. The caller's `commit` is called
after the whole message has reached the server but before the final "." that makes the server
accept it: the outbox records the mail as sent there and sends the dot the moment its commit
returns. A process killed before the commit never sent the dot (the server discards the unfinished
transaction and the mail is retried); one killed after it sent the dot (delivered once). In this order
a mail is never sent twice; only a kill in the microseconds between the commit and the dot's write
could lose one. That is what makes "exactly one digest" hold across SIGKILLs.
"""

from __future__ import annotations

import os
import re
import smtplib
import socket
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from paperwire.settings import Settings, mask_url_password

DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
LEADING_DOT = re.compile(rb"(?m)^\.")


# commit(release) records the mail as sent and, right after the commit, calls release() to let the
# message go; False when the mail is no longer this sender's (nothing may be released then).
Commit = Callable[[Callable[[], None]], bool]


class TransportUnavailable(RuntimeError):
    """The mail server cannot be reached or refuses us as a client; nothing was sent."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one send ended. status: sent | temporary | permanent | lost (another sender holds the mail)."""

    status: str
    code: int = 0
    detail: str = ""
    committed: bool = False  # the outbox already says "sent" (undo it unless status is sent)


class Transport(Protocol):
    def eight_bit(self) -> bool:
        """Whether messages may carry 8bit bodies (connects first when needed)."""
        ...

    def send(self, sender: str, recipient: str, message: bytes, commit: Commit) -> Outcome: ...

    def close(self) -> None: ...


def _reply_outcome(code: int, reply: bytes | str, committed: bool = False) -> Outcome:
    detail = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    status = "temporary" if 400 <= code < 500 else "permanent"
    return Outcome(status, code, f"{code} {detail}".strip(), committed)


def socket_of(connection: smtplib.SMTP) -> socket.socket:
    """The connected socket of an SMTP session (an OSError, as a dropped one gives, when it has none)."""
    if connection.sock is None:
        raise smtplib.SMTPServerDisconnected("not connected")
    return connection.sock


class SmtpTransport:
    """SMTP over one connection, opened on first use and reopened once if the server dropped it."""

    def __init__(self, url: str, timeout: float = 30.0, local_hostname: str | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS:
            raise ValueError(f"unsupported SMTP URL scheme {parts.scheme!r}: use smtp://, smtp+starttls:// or smtps://")
        self.scheme = parts.scheme
        self.host = parts.hostname or "localhost"
        self.port = parts.port or DEFAULT_PORTS[parts.scheme]
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        query = parse_qs(parts.query)
        self.timeout = float(query.get("timeout", [timeout])[0])
        self.shown_url = mask_url_password(url)
        self.local_hostname = local_hostname
        self._connection: smtplib.SMTP | None = None

    def _tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        try:
            if self.scheme == "smtps":
                connection: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=self._tls_context(),
                    local_hostname=self.local_hostname,
                )  # fmt: skip
            else:
                connection = smtplib.SMTP(
                    self.host, self.port, timeout=self.timeout, local_hostname=self.local_hostname
                )
            # The final "." goes out as its own small write after the body: without NODELAY, Nagle's
            # algorithm holds it for the server's delayed ACK (~40 ms a message).
            socket_of(connection).setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection.ehlo()
            if self.scheme == "smtp+starttls":
                if not connection.has_extn("starttls"):
                    connection.close()
                    raise TransportUnavailable(
                        f"{self.shown_url}: the server does not offer STARTTLS; refusing to send in plaintext"
                    )
                connection.starttls(context=self._tls_context())
                connection.ehlo()
            if self.username:
                connection.login(self.username, self.password or "")
        except TransportUnavailable:
            raise
        except smtplib.SMTPAuthenticationError as error:
            raise TransportUnavailable(f"{self.shown_url}: login refused ({error.smtp_code})") from error
        except (OSError, smtplib.SMTPException) as error:
            raise TransportUnavailable(f"cannot reach the mail server {self.shown_url}: {error}") from error
        return connection

    def eight_bit(self) -> bool:
        if self._connection is None:
            self._connection = self._connect()
        return bool(self._connection.has_extn("8bitmime"))

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except OSError:
                pass
        self._connection = None

    def send(self, sender: str, recipient: str, message: bytes, commit: Commit) -> Outcome:
        for attempt in (1, 2):
            if self._connection is None:
                self._connection = self._connect()
            try:
                return self._transaction(self._connection, sender, recipient, message, commit)
            except smtplib.SMTPServerDisconnected as error:
                # An idle connection the server closed: reconnect once (nothing was committed yet).
                self._drop()
                if attempt == 2 or getattr(error, "after_commit", False):
                    return Outcome("temporary", 0, f"connection lost: {error}", getattr(error, "after_commit", False))
            except (OSError, smtplib.SMTPException) as error:
                committed = getattr(error, "after_commit", False)
                self._drop()
                return Outcome("temporary", 0, f"{type(error).__name__}: {error}", committed)
        raise AssertionError("unreachable")

    def _transaction(
        self, connection: smtplib.SMTP, sender: str, recipient: str, message: bytes, commit: Commit
    ) -> Outcome:
        eight_bit = b"\r\nContent-Transfer-Encoding: 8bit\r\n" in message
        if eight_bit and not connection.has_extn("8bitmime"):
            return Outcome("temporary", 0, "an 8bit message for a server without 8BITMIME (reconnected to another?)")
        code, reply = connection.mail(sender, ["BODY=8BITMIME"] if eight_bit else [])
        if code != 250:
            connection.rset()
            return _reply_outcome(code, reply)
        code, reply = connection.rcpt(recipient)
        if code not in (250, 251):
            connection.rset()
            return _reply_outcome(code, reply)
        code, reply = connection.docmd("data")
        if code != 354:
            connection.rset()
            return _reply_outcome(code, reply)
        body = LEADING_DOT.sub(b"..", message) if message.startswith(b".") or b"\n." in message else message
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        connection.send(body)
        released: list[BaseException | None] = []

        def release() -> None:
            # The final dot: from here on the server owns the message. Runs right after the commit.
            try:
                socket_of(connection).sendall(b".\r\n")
                released.append(None)
            except OSError as error:
                released.append(error)

        try:
            still_ours = commit(release)
        except BaseException:
            self._drop()  # the server discards a DATA that never got its final dot
            raise
        if not still_ours:
            # Another sender holds this mail now: abandon the transaction (a DATA cannot be cancelled).
            self._drop()
            return Outcome("lost", 0, "lease lost to another sender")
        try:
            failure = released[0] if released else smtplib.SMTPServerDisconnected("final dot not sent")
            if failure is not None:
                raise failure
            code, reply = connection.getreply()
        except (OSError, smtplib.SMTPException) as error:
            error.after_commit = True  # type: ignore[attr-defined]
            raise
        if code == 250:
            return Outcome("sent", code, "", True)
        return _reply_outcome(code, reply, committed=True)

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.quit()
            except (OSError, smtplib.SMTPException):
                pass
        self._drop()


class MaildirTransport:
    """Writes each mail into HOME/maildir (tmp → new), for offline instances and inspection."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for sub in ("tmp", "new", "cur"):
            (root / sub).mkdir(parents=True, exist_ok=True, mode=0o700)

    def eight_bit(self) -> bool:
        return True

    def send(self, sender: str, recipient: str, message: bytes, commit: Commit) -> Outcome:
        name = f"{time.time():.6f}.{uuid.uuid4().hex}.{socket.gethostname()}"
        staged = self.root / "tmp" / name
        # 0600: mails hold sign-in and subscription links, for the owner's eyes only
        with open(os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
            handle.write(b"Delivered-To: " + recipient.encode() + b"\r\n" + message)
            handle.flush()
            os.fsync(handle.fileno())
        if not commit(lambda: os.rename(staged, self.root / "new" / name)):
            staged.unlink(missing_ok=True)
            return Outcome("lost", 0, "lease lost to another sender")
        return Outcome("sent", 250, "", True)

    def close(self) -> None:
        pass


def maildir_path(settings: Settings) -> Path:
    return settings.home / "maildir"


def open_transport(settings: Settings) -> Transport:
    """The transport PAPERWIRE_SMTP_URL names, or the Maildir under HOME when it is empty."""
    if settings.smtp_url:
        host = urlsplit(settings.base_url).hostname or "localhost"
        return SmtpTransport(settings.smtp_url, local_hostname=host)
    return MaildirTransport(maildir_path(settings))
