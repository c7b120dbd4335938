"""Acceptance (SPEC section 9): two web nodes and two workers on one PostgreSQL.

Three digest runs go out while the leading worker is SIGKILLed and restarted: every subscriber gets
exactly one digest per run. Votes cast through both web nodes add up exactly, and each node sees
the other's votes at once. PAPERWIRE_SCALE_SUBSCRIBERS sets the size (5,000 by default).
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from mail_support import SmtpSink, free_port
from paperwire.mail.compose import run_digest
from paperwire.mail.subscribers import import_subscribers
from paperwire.settings import Settings
from paperwire.storage import open_store
from test_mail_delivery import DAY, sample_papers

SUBSCRIBERS = int(os.environ.get("PAPERWIRE_SCALE_SUBSCRIBERS", "5000"))
RUN_DAYS = [DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)]
VOTERS = 40

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def start(arguments: list[str], environment: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "paperwire", *arguments], env=environment,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def wait_until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_two_workers_and_two_web_nodes_on_one_postgresql(postgres_cluster, tmp_path: Path) -> None:
    database_url = postgres_cluster.create_database(f"scale_{os.getpid()}")
    sink = SmtpSink().start()
    processes: dict[str, subprocess.Popen] = {}
    try:
        settings = Settings(home=tmp_path / "setup", base_url="http://testserver", secret_key="scale-secret-key-1234-0123456789abcdefghij",
                            smtp_url=sink.url, embedder="none", database_url=database_url, mail_rate=0)  # fmt: skip
        store = open_store(database_url)
        for day in RUN_DAYS:
            store.upsert_papers(sample_papers(day))
        rows = "".join(f"reader{i}@example.org,daily,\n" for i in range(SUBSCRIBERS))
        import_subscribers(store, io.StringIO("email,cadence,topics\n" + rows), confirmed=True)

        unreachable = f"http://127.0.0.1:{free_port()}"
        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PAPERWIRE_")},
            "PYTHONPATH": os.pathsep.join(sys.path), "PAPERWIRE_DATABASE_URL": database_url,
            "PAPERWIRE_SECRET_KEY": settings.secret_key.get_secret_value(), "PAPERWIRE_SMTP_URL": sink.url,
            "PAPERWIRE_BASE_URL": "http://testserver", "PAPERWIRE_EMBEDDER": "none", "PAPERWIRE_MAIL_RATE": "0",
            "PAPERWIRE_HF_API_URL": unreachable, "PAPERWIRE_ARXIV_RSS_URL": unreachable,
            "PAPERWIRE_ARXIV_API_URL": unreachable, "PAPERWIRE_HTTP_RETRIES": "0",
        }  # fmt: skip
        ports = [free_port(), free_port()]
        for number, port in enumerate(ports):
            processes[f"web{number}"] = start(
                ["serve", "--no-jobs", "--port", str(port)],
                {**environment, "PAPERWIRE_HOME": str(tmp_path / f"web{number}")},
            )
        for number in range(2):
            processes[f"worker{number}"] = start(
                ["worker"], {**environment, "PAPERWIRE_HOME": str(tmp_path / f"w{number}")}
            )
        nodes = [f"http://127.0.0.1:{port}" for port in ports]
        for node in nodes:
            wait_until(lambda node=node: answers(node + "/healthz"), 60, f"{node} to answer")

        # Votes through both nodes at once; each node sees all of them.
        paper_id = sample_papers(DAY)[0].id
        before = store.get_paper(paper_id).upvotes
        cookies = voter_cookies(store, settings, VOTERS)
        errors: list[str] = []

        def vote(index: int) -> None:
            with httpx.Client(base_url=nodes[index % 2], cookies={"pw_session": cookies[index]}, timeout=30) as client:
                page = client.get(f"/papers?date={DAY.isoformat()}")  # sets the CSRF cookie; forms carry the token
                token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
                try:
                    response = client.post(f"/api/papers/{paper_id}/upvote", headers={"X-CSRF-Token": token})
                except httpx.TransportError:  # the node closed the kept-alive connection (10 s idle, on a loaded
                    # machine): sent again on a new one, as a browser does; a vote is a set, so never counted twice
                    response = client.post(f"/api/papers/{paper_id}/upvote", headers={"X-CSRF-Token": token})
                if response.status_code != 200:
                    errors.append(f"{response.status_code} {response.text[:200]}")

        voters = [threading.Thread(target=vote, args=(i,)) for i in range(VOTERS)]
        for thread in voters:
            thread.start()

        # Three digest runs; the workers' outbox job sends them. Kill the leader mid-way, restart it.
        for run, day in enumerate(RUN_DAYS):
            report = run_digest(store, settings, "daily", day, send=False)
            assert report.compose.composed == SUBSCRIBERS
            if run == 1:
                target = SUBSCRIBERS + SUBSCRIBERS // 3
                wait_until(lambda target=target: sink.count >= target, 240, "the second run to be under way")
                leader = store.lease_holder("scheduler")
                victim = next(
                    name for name in ("worker0", "worker1") if leader and f":{processes[name].pid}:" in leader[0]
                )
                os.kill(processes[victim].pid, signal.SIGKILL)
                processes[victim].wait()
                processes[victim] = start(["worker"], {**environment, "PAPERWIRE_HOME": str(tmp_path / f"{victim}b")})
        # One kill may lose the one mail whose sent-mark commit it interrupted (docs/mail.md), never more.
        wait_until(lambda: sink.count >= 3 * SUBSCRIBERS - 1, 600, "every digest to be delivered")
        time.sleep(2)  # anything doubled would arrive now

        for thread in voters:
            thread.join()
        assert errors == []
        for node in nodes:
            assert httpx.get(f"{node}/api/papers/{paper_id}").json()["upvotes"] == before + VOTERS

        received = Counter(recipient for recipient, _ in sink.handler.messages)
        assert len(received) == SUBSCRIBERS, "a subscriber got no digest"
        assert max(received.values()) == len(RUN_DAYS), "one digest per subscriber per run, never two"
        assert sum(received.values()) >= len(RUN_DAYS) * SUBSCRIBERS - 1, "more lost than the one kill allows"
        assert store.outbox_counts(kind="digest") == {"sent": len(RUN_DAYS) * SUBSCRIBERS}
        store.close()
    finally:
        for process in processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        sink.stop()
        postgres_cluster.drop_database(f"scale_{os.getpid()}")


def voter_cookies(store, settings: Settings, count: int) -> list[str]:
    """Signed-in voters, as the sign-in link would leave them: a server-side session and its cookie."""
    from fastapi.responses import Response

    from paperwire.web.security import hash_token, new_token, set_session_cookie

    cookies = []
    for index in range(count):
        user = store.ensure_user(f"voter{index}@example.org")
        session_id = new_token()
        store.create_session(hash_token(session_id), user["id"], "2999-01-01T00:00:00.000000Z")
        response = Response()
        set_session_cookie(response, settings, session_id)
        header = response.headers["set-cookie"]
        cookies.append(header.split(";", 1)[0].split("=", 1)[1])
    return cookies
