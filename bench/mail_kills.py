"""Kill-stress of the outbox sender: many SIGKILLs at random moments, then count what arrived.

The crash test of the suite kills the sender 3 times; this runs the same thing with hundreds of kills
to measure how often a kill lands in the one window exactly-once cannot close (between the commit
that marks a mail sent and the write of its final "."; see docs/mail.md). Each cycle starts the
sender as its own process (short leases, as in the test), waits a random 20–400 ms into its sending,
SIGKILLs it; at the end one sender drains the rest. The aiosmtpd sink counts per recipient.

`--command digest-run` kills the real `paperwire digest run` instead (default settings: 120 s leases),
once it has started sending, and drains with one plain `paperwire digest run`: what that leaves leased
is in the "left leased" column (issue 13: a rerun after a crash finishes the period).

Prints, per backend: kills, digests expected, received, lost, doubled, and the mean time per mail; the
first row of each backend is the baseline of the same run: the same mails sent by one sender, no kill.
Reproduce:  .venv/bin/python bench/mail_kills.py --kills 200            # SQLite and PostgreSQL
            .venv/bin/python bench/mail_kills.py --kills 50 --backend sqlite
            .venv/bin/python bench/mail_kills.py --kills 40 --command digest-run
"""

from __future__ import annotations

import argparse
import io
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

from machine import print_load, print_machine  # bench/machine.py

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

DAY = date(2025, 6, 10)


def run(backend: str, kills: int, subscribers: int, seed: int, mode: str = "sender") -> dict:
    from mail_support import SENDER_SCRIPT, SmtpSink
    from paperwire.mail.compose import run_digest
    from paperwire.mail.subscribers import import_subscribers
    from paperwire.models import Paper
    from paperwire.settings import Settings
    from paperwire.storage import open_store

    cluster = None
    if backend == "postgresql":
        from postgres_cluster import Cluster, find_binaries

        binaries = find_binaries()
        if binaries is None:
            raise SystemExit("PostgreSQL binaries not found")
        cluster = Cluster(binaries).start()
    sink = SmtpSink().start()
    workdir = Path(tempfile.mkdtemp(prefix="paperwire-kills-"))
    try:
        database_url = cluster.create_database("kills") if cluster else ""
        settings = Settings(home=workdir / "home", base_url="http://testserver", secret_key="test-secret-key-0123456789abcdefghijklmnop",
                            smtp_url=sink.url, embedder="none", database_url=database_url)  # fmt: skip
        store = open_store(settings.effective_database_url)
        store.upsert_papers([
            Paper(id=f"2506.10{i:03d}", title=f"Paper {i} on graph neural networks", abstract="We study graphs. " * 20,
                  authors=("Ada Lovelace",), categories=("cs.LG",), listed_on=DAY.isoformat(), upvotes=100 - i)
            for i in range(8)
        ])  # fmt: skip
        rows = "".join(f"user{i}@example.org,daily,\n" for i in range(subscribers))
        import_subscribers(store, io.StringIO("email,cadence,topics\n" + rows), confirmed=True)
        run_digest(store, settings, "daily", DAY, send=False)

        randomness = random.Random(seed)
        command = [sys.executable, "-c", SENDER_SCRIPT, str(settings.home), sink.url, database_url, "1.0"]
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        if mode == "digest-run":
            command = [sys.executable, "-m", "paperwire", "digest", "run", "--date", DAY.isoformat()]
            environment.update({
                "PAPERWIRE_HOME": str(settings.home), "PAPERWIRE_SMTP_URL": sink.url, "PAPERWIRE_EMBEDDER": "none",
                "PAPERWIRE_SECRET_KEY": settings.secret_key.get_secret_value(), "PAPERWIRE_DATABASE_URL": database_url,
                "PAPERWIRE_MAIL_RATE": "0",
            })  # fmt: skip
        killed = 0
        sending_time = 0.0
        sent_while_timed = 0
        while killed < kills:
            before = sink.count
            process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE)
            assert process.stdout is not None
            if mode == "digest-run":  # it prints at the end only: wait for its first mail instead
                while sink.count == before and process.poll() is None:
                    time.sleep(0.001)
                before = sink.count
            else:
                process.stdout.readline()  # imported and connected: sending starts now
            started = time.monotonic()
            time.sleep(randomness.uniform(0.02, 0.4))
            if process.poll() is not None:
                break  # everything was sent
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            sending_time += time.monotonic() - started
            sent_while_timed += sink.count - before
            killed += 1
            print(f"\r{backend}: {killed}/{kills} kills, {sink.count} received", end="", file=sys.stderr)
        print(file=sys.stderr)
        before, drain_started = sink.count, time.monotonic()
        subprocess.run(command, env=environment, timeout=600, check=True, stdout=subprocess.DEVNULL)
        left_leased = store.outbox_counts(kind="digest").get("sending", 0)  # right when the rerun exits
        if not kills:  # the baseline: one uninterrupted sender (its start-up included) sends everything
            sending_time, sent_while_timed = time.monotonic() - drain_started, sink.count - before
        time.sleep(0.3)
        received = Counter(recipient for recipient, _ in sink.handler.messages)
        store.close()
        return {
            "backend": backend, "kills": killed, "expected": subscribers, "received": len(received),
            "lost": subscribers - len(received), "doubled": sum(1 for n in received.values() if n > 1),
            "ms_per_mail": 1000 * sending_time / max(sent_while_timed, 1), "left_leased": left_leased,
        }  # fmt: skip
    finally:
        sink.stop()
        if cluster is not None:
            cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--subscribers", type=int, default=0, help="default: 150 per kill")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--command",
        choices=["sender", "digest-run"],
        default="sender",
        help="what is killed: a bare outbox sender, or the real `paperwire digest run`",
    )
    options = parser.parse_args()
    print_machine(__doc__.strip().splitlines()[0])
    backends = ["sqlite", "postgresql"] if options.backend == "both" else [options.backend]
    subscribers = options.subscribers or 150 * options.kills
    results = []
    for backend in backends:  # the baseline first, in the same run: the same mails, no kill
        results.append(run(backend, 0, subscribers, options.seed, options.command))
        results.append(run(backend, options.kills, subscribers, options.seed, options.command))
    print(f"killed: {options.command}")
    print("| backend | kills | digests | received | lost | doubled | left leased after the rerun "
          "| ms per mail (while killed; kills 0: uninterrupted) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['backend']} | {r['kills']} | {r['expected']:,} | {r['received']:,} | {r['lost']} | {r['doubled']} "
              f"| {r['left_leased']} | {r['ms_per_mail']:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
    print_load("after the run")
