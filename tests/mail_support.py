"""A real SMTP server for mail tests (aiosmtpd on a free localhost port) with failure injection.

`SmtpSink.fail(address, "451 …", "451 …")` makes the next RCPT TO for that address answer with
those replies in turn, then accept again; `always_fail(address, "550 …")` refuses it for good.
Received mail is kept as parsed `email.message.EmailMessage` objects.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from collections import defaultdict
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer

# An outbox sender as its own process (argv: HOME, SMTP URL, database URL, lease seconds): short leases
# so a killed sender's batch is taken over quickly; prints "ready" once started, and runs until nothing
# is queued or leased any more. For the crash test and bench/mail_kills.py.
SENDER_SCRIPT = """
import sys, time
from paperwire.mail.outbox import DeliveryPolicy, OutboxSender
from paperwire.settings import Settings
from paperwire.storage import open_store
settings = Settings(home=sys.argv[1], smtp_url=sys.argv[2], base_url="http://testserver", secret_key="test-secret-key-0123456789abcdefghijklmnop",
                    embedder="none", database_url=sys.argv[3])
store = open_store(settings.effective_database_url, upgrade=False)
policy = DeliveryPolicy(batch_size=25, lease_seconds=float(sys.argv[4]), rate_per_second=0)
sender = OutboxSender(store, settings, policy=policy)
print("ready", flush=True)
while True:
    sender.send_due()
    counts = store.outbox_counts()
    if not counts.get("queued") and not counts.get("sending"):
        break
    time.sleep(0.2)
sender.close()
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SinkHandler:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[tuple[str, bytes]] = []  # (envelope recipient, raw message), parsed on demand
        self.scripted: dict[str, list[str]] = defaultdict(list)
        self.permanent: dict[str, str] = {}
        self.rcpt_attempts: dict[str, int] = defaultdict(int)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            self.rcpt_attempts[address] += 1
            if address in self.permanent:
                return self.permanent[address]
            if self.scripted.get(address):
                return self.scripted[address].pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            for recipient in envelope.rcpt_tos:
                self.messages.append((recipient, envelope.content))
        return "250 Message accepted for delivery"


class SmtpSink:
    def __init__(self) -> None:
        self.handler = SinkHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def fail(self, address: str, *replies: str) -> None:
        with self.handler.lock:
            self.handler.scripted[address].extend(replies)

    def always_fail(self, address: str, reply: str) -> None:
        with self.handler.lock:
            self.handler.permanent[address] = reply

    def messages_to(self, address: str) -> list[EmailMessage]:
        with self.handler.lock:
            raw = [content for recipient, content in self.handler.messages if recipient == address]
        return [email.message_from_bytes(content, policy=email.policy.default) for content in raw]

    @property
    def count(self) -> int:
        with self.handler.lock:
            return len(self.handler.messages)

    def wait_for(self, address: str, count: int = 1, timeout: float = 10.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.messages_to(address)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{count} mail(s) to {address} did not arrive within {timeout}s")


__all__ = ["SMTPServer", "SmtpSink", "free_port"]
