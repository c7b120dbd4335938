"""Build a MIME message (multipart/alternative, text + HTML, quoted-printable) straight to bytes.

Kept instead of the stdlib `email` builder because it is 8.5x cheaper per digest (1.99 vs 0.23 ms a
message, 199 vs 23 s of CPU for 100,000 digests: `bench/mime.py`, same run, 2-core machine at load 5.8);
it writes the same standard shape directly, so a digest run is bound by the network, not by MIME. Bodies are quoted-printable, or
8bit when the server announced 8BITMIME (fewer, longer lines: less work for both ends).
"""

from __future__ import annotations

import binascii
import hashlib
import uuid
from email.header import Header
from email.utils import formataddr, formatdate, parseaddr
from functools import lru_cache

MAX_8BIT_LINE = 990  # RFC 5321 allows 998 octets a line


def new_message_id(domain: str) -> str:
    return f"<{uuid.uuid4().hex}@{domain}>"


def encode_header(value: str) -> str:
    """A header value, single line, RFC 2047-encoded when it is not plain ASCII."""
    value = " ".join(value.split())  # no CR/LF: a header can never be injected
    if value.isascii() and len(value) < 900:
        return value
    return Header(value, "utf-8", maxlinelen=76).encode(linesep="\r\n ").replace("\r\n  ", "\r\n ")


@lru_cache(maxsize=256)
def encode_address(value: str) -> str:
    name, address = parseaddr(value)
    return formataddr((name, address), charset="utf-8") if name else address


def quoted_printable(text: str) -> bytes:
    body = binascii.b2a_qp(text.replace("\r\n", "\n").encode("utf-8"), istext=True)
    return body.replace(b"\n", b"\r\n")


def encode_body(text: str, eight_bit: bool) -> tuple[str, bytes]:
    """(Content-Transfer-Encoding, body). 8bit keeps lines as they are (far fewer lines for the
    server to read) when the server takes 8BITMIME and no line is too long; else quoted-printable."""
    if eight_bit:
        raw = text.replace("\r\n", "\n").encode("utf-8")
        if b"\r" not in raw and all(len(line) <= MAX_8BIT_LINE for line in raw.split(b"\n")):
            return "8bit", raw.replace(b"\n", b"\r\n")
    return "quoted-printable", quoted_printable(text)


def build_message(
    *,
    sender: str,
    recipient: str,
    subject: str,
    text: str,
    html: str | None,
    message_id: str,
    headers: dict[str, str] | None = None,
    date: str | None = None,
    eight_bit: bool = False,
) -> bytes:
    """RFC 5322 bytes with CRLF line ends: text/plain, plus text/html as an alternative when given.

    `eight_bit`: the server announced 8BITMIME (send with BODY=8BITMIME); otherwise all 7-bit."""
    lines = [
        f"From: {encode_address(sender)}",
        f"To: {recipient}",
        f"Subject: {encode_header(subject)}",
        f"Date: {date or formatdate(usegmt=True)}",
        f"Message-ID: {message_id}",
        "MIME-Version: 1.0",
    ]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {encode_header(value)}")
    text_encoding, text_part = encode_body(text, eight_bit)
    if html is None:
        lines += ['Content-Type: text/plain; charset="utf-8"', f"Content-Transfer-Encoding: {text_encoding}"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + text_part + b"\r\n"
    html_encoding, html_part = encode_body(html, eight_bit)
    # The boundary is made of "=_", which quoted-printable never produces, plus 18 hex digits from
    # the Message-ID, which the 8bit bodies are checked not to contain.
    boundary = "=_pw_" + hashlib.blake2b(message_id.encode(), digest_size=9).hexdigest()
    if boundary.encode() in text_part or boundary.encode() in html_part:
        boundary = "=_pw_" + uuid.uuid4().hex
    lines.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
    part_head = f'--{boundary}\r\nContent-Type: text/%s; charset="utf-8"\r\nContent-Transfer-Encoding: %s\r\n\r\n'
    return b"".join(
        (
            head,
            (part_head % ("plain", text_encoding)).encode("ascii"),
            text_part,
            b"\r\n",
            (part_head % ("html", html_encoding)).encode("ascii"),
            html_part,
            f"\r\n--{boundary}--\r\n".encode("ascii"),
        )
    )
