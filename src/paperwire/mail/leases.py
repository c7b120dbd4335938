"""Is the sender that holds outbox leases still alive? Dead holders' mail is reclaimed at once.

A sender records who it is before it leases mail (host, pid, the process's start time). A later
sender (a rerun of `paperwire digest run` after a crash) reclaims the mail of holders that are gone:
- PostgreSQL: the holder's session lock is free (its process or connection ended, on any host);
- SQLite (one host): the holder ran on this host and its process is gone, a zombie, or its pid now
  belongs to a process started at another time.
A holder on another host of a SQLite database, or one that never recorded itself, keeps its lease
until the lease lapses (DeliveryPolicy.lease_seconds), as before.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

from paperwire.storage import Store

log = logging.getLogger("paperwire.mail")


def host_name() -> str:
    return socket.gethostname()[:255]


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (Linux); None where there is no /proc entry."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return text.rsplit(")", 1)[-1].split()


def process_start(pid: int) -> str:
    """When process `pid` started, as an opaque string ('' where the system does not say): tells a
    reused pid from the process that held a lease."""
    fields = _proc_stat(pid)
    return f"boot+{fields[19]}" if fields and len(fields) > 19 else ""  # field 22: start time in clock ticks


def process_is_gone(pid: int, started: str) -> bool:
    """True when no live process is the one that recorded (pid, started) on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # exists, owned by someone else
    fields = _proc_stat(pid)
    if fields and fields[0] in ("Z", "X"):
        return True  # killed, not yet reaped by its parent
    current = process_start(pid)
    return bool(started and current and current != started)


def holder_is_dead(store: Store, holder: dict) -> bool:
    if holder["host"] is None:
        return False  # an unknown holder: wait for its lease to lapse
    if store.dialect == "postgresql":
        return store.sender_session_ended(holder["worker"])
    if holder["host"] != host_name():
        return False
    return process_is_gone(int(holder["pid"]), holder["process_start"])


def recover_dead_leases(store: Store) -> dict[str, int]:
    """Reclaim the mail leased by senders that died: {worker: mails put back in the queue}."""
    recovered = store.reclaim_dead_mail_leases(lambda holder: holder_is_dead(store, holder))
    for worker, count in recovered.items():
        if count:
            log.warning("reclaimed %d mails leased by %s, a sender that is gone", count, worker)
    return {worker: count for worker, count in recovered.items() if count}


def register_sender(store: Store, worker: str) -> None:
    pid = os.getpid()
    store.register_mail_sender(worker, host_name(), pid, process_start(pid))
