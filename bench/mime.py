"""MIME cost per digest: paperwire's direct writer (mail/message.py) against the stdlib `email` builder, same run.

    .venv/bin/python bench/mime.py [--messages 2000]

Both build the same message: a digest-shaped text part (~3 KB) and HTML part (~12 KB), a non-ASCII
subject and List-Unsubscribe headers, quoted-printable bodies, CRLF line ends. The stdlib one is
`EmailMessage(policy=SMTP)` with set_content / add_alternative / as_bytes. The writer is kept only
while it is much cheaper: the figure printed here is the one quoted beside it in mail/message.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate
from pathlib import Path

from machine import print_load, print_machine  # bench/machine.py

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from paperwire.mail.message import build_message

SUBJECT = "Your daily papers — 12 new on “graph neural networks”"
HEADERS = {
    "List-Unsubscribe": "<https://papers.example.org/unsubscribe?token=abc>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}
TEXT = "".join(
    f"{i}. A study of graph neural networks at scale, part {i}\n   https://papers.example.org/papers/2506.{i:05d}\n"
    f"   We study graphs — and their “neighbourhoods” — with 1,000 layers. " * 3 + "\n"
    for i in range(12)
)
HTML = "".join(
    f"<article><h2><a href='https://papers.example.org/papers/2506.{i:05d}'>A study of graph neural "
    f"networks, part {i}</a></h2><p>{'We study graphs — and their “neighbourhoods”. ' * 12}</p></article>\n"
    for i in range(12)
)


def direct(number: int) -> bytes:
    return build_message(
        sender="paperwire <digest@papers.example.org>",
        recipient=f"reader{number}@example.org",
        subject=SUBJECT,
        text=TEXT,
        html=HTML,
        message_id=f"<{number}@papers.example.org>",
        headers=HEADERS,
        date=formatdate(usegmt=True),
    )


def stdlib(number: int) -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = "paperwire <digest@papers.example.org>"
    message["To"] = f"reader{number}@example.org"
    message["Subject"] = SUBJECT
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = f"<{number}@papers.example.org>"
    for name, value in HEADERS.items():
        message[name] = value
    message.set_content(TEXT, cte="quoted-printable")
    message.add_alternative(HTML, subtype="html", cte="quoted-printable")
    return message.as_bytes()


def per_message_ms(build, messages: int) -> float:
    started = time.perf_counter()
    for number in range(messages):
        build(number)
    return 1000 * (time.perf_counter() - started) / messages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()
    print_machine(__doc__.strip().splitlines()[0])
    sizes = len(direct(0)), len(stdlib(0))
    results = {
        "stdlib email (EmailMessage, policy=SMTP)": per_message_ms(stdlib, args.messages),
        "paperwire direct writer": per_message_ms(direct, args.messages),
    }
    print("| builder | ms per message | CPU for 100,000 digests | bytes |")
    print("|---|---|---|---|")
    for (label, ms), size in zip(results.items(), sizes, strict=True):
        print(f"| {label} | {ms:.3f} | {ms * 100:.0f} s | {size:,} |")
    ratio = results["stdlib email (EmailMessage, policy=SMTP)"] / results["paperwire direct writer"]
    print(f"\nstdlib / direct: {ratio:.1f}x per message ({args.messages:,} messages each)")


if __name__ == "__main__":
    main()
    print_load("after the run")
