"""Digest benchmark: personal digests for N subscribers over one day's real papers, to a local SMTP sink.

Measures, in one run and against the same aiosmtpd sink (a separate process that counts messages):

- naive: the baseline loop — per subscriber render one Jinja2 digest (the same 10 papers for
  everyone, truncate/wordwrap filters applied per message), build an `EmailMessage`, send it over one
  reused smtplib connection; no personalisation, no database;
- paperwire: `run_digest(..., send=False)` composes every personal digest (trending + interest
  matches, history, tokens) into the SQLite outbox in one process while two `OutboxSender` processes
  drain it concurrently (render from cached per-paper pieces, MIME, SMTP, one commit per mail).

Prints composition rate, delivery rate, end-to-end time and the peak memory of each process.
Reproduce:  .venv/bin/python bench/digest.py                       # 100,000 subscribers
            .venv/bin/python bench/digest.py --subscribers 20000 --naive 5000
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing as mp
import os
import random
import resource
import secrets
import smtplib
import socket
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from email.message import EmailMessage
from pathlib import Path

from machine import print_load, print_machine  # bench/machine.py

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "arxiv_cs"
SENDERS = 2


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- data ---------------------------------------------------------------------------------------


def load_day(path: Path, day: str | None):
    """The papers first seen on `day` (default: the busiest day of the file)."""
    from paperwire.models import Paper, clean_text

    records = [json.loads(line) for line in gzip.open(path, "rt", encoding="utf-8")]
    if day is None:
        day = Counter(r.get("first_seen") for r in records if r.get("first_seen")).most_common(1)[0][0]
    rng = random.Random(7)
    papers = [
        Paper(id=r["id"], title=clean_text(r["title"]), abstract=clean_text(r.get("abstract", "")),
              authors=tuple(r.get("authors", ())), categories=tuple(r.get("categories", ())),
              comment=r.get("comment"), listed_on=day, upvotes=int(rng.paretovariate(1.2)) - 1)
        for r in records if r.get("first_seen") == day
    ]  # fmt: skip
    return day, papers


def topic_vocabulary(papers, size: int = 400) -> list[str]:
    """Two-word phrases that occur in the day's titles: what people would plausibly follow."""
    from paperwire.mail.digest import terms

    counts: Counter[str] = Counter()
    for paper in papers:
        words = terms(paper.title)
        counts.update(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))
    return [phrase for phrase, _ in counts.most_common(size)]


def add_subscribers(store, papers, count: int) -> None:
    """`count` confirmed subscribers, each with 1–3 topics, maybe categories, an author, keywords."""
    from paperwire.mail.subscribers import Interests, email_key
    from paperwire.models import utc_now_iso

    rng = random.Random(11)
    topics = topic_vocabulary(papers)
    categories = sorted({c for p in papers for c in p.categories[:1]})
    authors = [a for p in papers for a in p.authors[:2]]
    words = sorted({w for t in topics for w in t.split()})
    now = utc_now_iso()
    batch = []
    for i in range(count):
        interests = Interests(
            topics=tuple(rng.sample(topics, rng.randint(1, 3))),
            categories=tuple(rng.sample(categories, rng.randint(0, 2))),
            authors=(rng.choice(authors),) if rng.random() < 0.2 else (),
            keywords=(rng.choice(words),) if rng.random() < 0.3 else (),
        )
        address = f"reader{i}@example.org"
        batch.append({"email": address, "email_key": email_key(address), "status": "confirmed", "cadence": "daily",
                      "interests": interests.to_json(), "max_papers": 10, "nonce": secrets.token_urlsafe(12),
                      "created_at": now, "updated_at": now, "consent_at": now, "consent_source": "bench"})  # fmt: skip
        if len(batch) == 5000:
            store.add_subscribers(batch)
            batch = []
    if batch:
        store.add_subscribers(batch)


# ---- the sink -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_sink(port: int, counter, ready) -> None:
    from aiosmtpd.controller import Controller

    class Counting:
        async def handle_DATA(self, server, session, envelope):
            with counter.get_lock():
                counter.value += len(envelope.rcpt_tos)
            return "250 OK"

    controller = Controller(Counting(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


def wait_for_count(counter, target: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while counter.value < target and time.monotonic() < deadline:
        time.sleep(0.05)
    return counter.value >= target


# ---- naive baseline ------------------------------------------------------------------------------

NAIVE_HTML = """<html><body><h1>{{ site }} daily: {{ day }}</h1>
{% for paper in papers %}<div style="margin:12px 0"><a href="{{ base }}/papers/{{ paper.id }}">{{ paper.title }}</a>
<div>{{ paper.authors | join(", ") | truncate(120) }}</div><p>{{ paper.abstract | truncate(360) }}</p></div>{% endfor %}
<p><a href="{{ base }}/unsubscribe">Unsubscribe</a></p></body></html>"""
NAIVE_TEXT = """{{ site }} daily: {{ day }}
{% for paper in papers %}
{{ paper.title | wordwrap(72) }}
{{ paper.authors | join(", ") | truncate(120) | wordwrap(72) }}
{{ paper.abstract | truncate(360) | wordwrap(72) }}
{{ base }}/papers/{{ paper.id }}
{% endfor %}"""


def run_naive(papers, day: str, count: int, port: int, counter) -> dict:
    from jinja2 import Environment

    environment = Environment(autoescape=True)
    html_template = environment.from_string(NAIVE_HTML)
    text_template = Environment(autoescape=False).from_string(NAIVE_TEXT)
    top = sorted(papers, key=lambda p: -p.upvotes)[:10]
    start_count = counter.value
    started = time.perf_counter()
    cpu_started = time.process_time()
    connection = smtplib.SMTP("127.0.0.1", port)
    for i in range(count):
        context = {"site": "paperwire", "day": day, "papers": top, "base": "http://127.0.0.1:8000"}
        message = EmailMessage()
        message["From"] = "paperwire <paperwire@localhost>"
        message["To"] = f"naive{i}@example.org"
        message["Subject"] = f"paperwire daily: {day}"
        message.set_content(text_template.render(**context))
        message.add_alternative(html_template.render(**context), subtype="html")
        connection.send_message(message)
    connection.quit()
    wait_for_count(counter, start_count + count, 60)
    elapsed = time.perf_counter() - started
    return {"messages": count, "seconds": elapsed, "rate": count / elapsed, "peak_mb": peak_rss_mb(),
            "cpu": time.process_time() - cpu_started}  # fmt: skip


# ---- paperwire ----------------------------------------------------------------------------------


def settings_for(home: str, port: int):
    from paperwire.settings import Settings

    return Settings(home=Path(home), smtp_url=f"smtp://127.0.0.1:{port}", base_url="http://127.0.0.1:8000",
                    secret_key="bench-secret-0123456789abcdefghijklmnop", embedder="none", mail_rate=0)  # fmt: skip


def compose_worker(home: str, port: int, day: str, results) -> None:
    from paperwire.mail.compose import load_period, own_search, period_for, run_digest, topic_relevance_for
    from paperwire.storage import open_store

    settings = settings_for(home, port)
    store = open_store(settings.effective_database_url, upgrade=False)
    started = time.perf_counter()
    search = own_search(store, settings)
    relevance = topic_relevance_for(search, load_period(store, period_for("daily", date.fromisoformat(day))).papers)
    report = run_digest(store, settings, "daily", date.fromisoformat(day), send=False, topic_relevance=relevance)
    results.put(("compose", {"composed": report.compose.composed, "seconds": time.perf_counter() - started,
                             "relevance": "hybrid search" if relevance else "keyword", "peak_mb": peak_rss_mb(),
                             "cpu": time.process_time()}))  # fmt: skip


def send_worker(home: str, port: int, composing, results) -> None:
    from paperwire.mail.outbox import DeliveryPolicy, OutboxSender, iso, now_utc
    from paperwire.storage import open_store

    settings = settings_for(home, port)
    store = open_store(settings.effective_database_url, upgrade=False)
    sender = OutboxSender(store, settings, policy=DeliveryPolicy(batch_size=100, rate_per_second=0))
    sent = 0
    while True:
        sent += sender.send_due(("digest",)).sent
        if not composing.is_set() and not store.has_due_mail(iso(now_utc())):
            break
        time.sleep(0.05)
    sender.close()
    results.put(("send", {"sent": sent, "peak_mb": peak_rss_mb(), "cpu": time.process_time()}))


def run_paperwire(home: str, day: str, count: int, port: int, counter) -> dict:
    context = mp.get_context("fork")
    results = context.Queue()
    composing = context.Event()
    composing.set()
    start_count = counter.value
    started = time.perf_counter()
    composer = context.Process(target=compose_worker, args=(home, port, day, results))
    senders = [context.Process(target=send_worker, args=(home, port, composing, results)) for _ in range(SENDERS)]
    composer.start()
    for sender in senders:
        sender.start()
    kind, compose = results.get()
    composing.clear()
    composer.join()
    reports = [results.get()[1] for _ in senders]
    for sender in senders:
        sender.join()
    delivered_all = wait_for_count(counter, start_count + count, 60)
    elapsed = time.perf_counter() - started
    return {"compose": compose, "senders": reports, "seconds": elapsed, "delivered": counter.value - start_count,
            "complete": delivered_all, "rate": (counter.value - start_count) / elapsed}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument(
        "--naive", type=int, default=10_000, help="messages for the naive loop (its rate is per message)"
    )
    parser.add_argument("--file", type=Path, default=DATA / "arxiv_cs_2025-06.jsonl.gz")
    parser.add_argument("--day", default=None, help="YYYY-MM-DD (default: the file's busiest day)")
    arguments = parser.parse_args()
    print_machine(__doc__.strip().splitlines()[0])

    from paperwire.storage import open_store

    home = tempfile.mkdtemp(prefix="paperwire-bench-")
    day, papers = load_day(arguments.file, arguments.day)
    port = free_port()
    context = mp.get_context("fork")
    counter, ready = context.Value("q", 0), context.Event()
    sink = context.Process(target=run_sink, args=(port, counter, ready), daemon=True)
    sink.start()
    ready.wait(30)

    settings = settings_for(home, port)
    store = open_store(settings.effective_database_url)
    store.upsert_papers(papers)
    setup = time.perf_counter()
    add_subscribers(store, papers, arguments.subscribers)
    setup = time.perf_counter() - setup
    store.close()
    print(f"day {day}: {len(papers)} papers from {arguments.file.name}; {arguments.subscribers:,} subscribers "
          f"added in {setup:.1f} s; {os.cpu_count()} CPUs; Python {sys.version.split()[0]}")  # fmt: skip

    # The naive loop runs half before and half after paperwire, so both see the same machine load
    # (other work on a shared machine changes from minute to minute).
    sink_cpu = cpu_seconds(sink.pid)
    before = run_naive(papers, day, arguments.naive // 2, port, counter)
    sink_cpu_naive, sink_cpu = cpu_seconds(sink.pid) - sink_cpu, cpu_seconds(sink.pid)
    load_before = os.getloadavg()[0]
    ours = run_paperwire(home, day, arguments.subscribers, port, counter)
    ours["sink_cpu"], sink_cpu = cpu_seconds(sink.pid) - sink_cpu, cpu_seconds(sink.pid)
    load_after = os.getloadavg()[0]
    after = run_naive(papers, day, arguments.naive - arguments.naive // 2, port, counter)
    sink_cpu_naive += cpu_seconds(sink.pid) - sink_cpu
    naive = {
        "messages": before["messages"] + after["messages"], "seconds": before["seconds"] + after["seconds"],
        "cpu": before["cpu"] + after["cpu"], "peak_mb": max(before["peak_mb"], after["peak_mb"]),
        "sink_cpu": sink_cpu_naive,
    }  # fmt: skip
    naive["rate"] = naive["messages"] / naive["seconds"]
    compose = ours["compose"]
    sender_memory = " + ".join(f"{report['peak_mb']:.0f}" for report in ours["senders"])
    print()
    print("| loop | messages | time | rate | peak memory |")
    print("|---|---|---|---|---|")
    print(
        f"| naive (render + EmailMessage + smtplib, no DB, same digest for all) | {naive['messages']:,} | "
        f"{naive['seconds']:.1f} s | **{naive['rate']:.0f} msg/s** (before {before['rate']:.0f}, after "
        f"{after['rate']:.0f}) | {naive['peak_mb']:.0f} MB |"
    )
    print(
        f"| paperwire compose → outbox ({compose['relevance']} relevance, 1 process) | {compose['composed']:,} | "
        f"{compose['seconds']:.1f} s | **{compose['composed'] / compose['seconds']:.0f} digests/s** | {compose['peak_mb']:.0f} MB |"
    )
    print(
        f"| paperwire end to end: compose + outbox + deliver ({SENDERS} senders) | {ours['delivered']:,} | "
        f"{ours['seconds']:.1f} s | **{ours['rate']:.0f} msg/s** | "
        f"{sender_memory} MB (senders) |"
    )
    print()
    print(f"speed-up over naive: {ours['rate'] / naive['rate']:.2f}x; all {arguments.subscribers:,} delivered: "
          f"{ours['complete']} in {ours['seconds'] / 60:.1f} min; sent per sender: "
          f"{', '.join(str(r['sent']) for r in ours['senders'])}")  # fmt: skip
    ours_cpu = compose["cpu"] + sum(r["cpu"] for r in ours["senders"])
    print(f"CPU per message: naive client {1000 * naive['cpu'] / naive['messages']:.2f} ms + sink "
          f"{1000 * naive['sink_cpu'] / naive['messages']:.2f} ms; paperwire compose "
          f"{1000 * compose['cpu'] / ours['delivered']:.2f} ms + senders "
          f"{1000 * sum(r['cpu'] for r in ours['senders']) / ours['delivered']:.2f} ms "
          f"(together {1000 * ours_cpu / ours['delivered']:.2f} ms) + sink "
          f"{1000 * ours['sink_cpu'] / ours['delivered']:.2f} ms")  # fmt: skip
    print(
        f"machine load average (1 min) before / after the paperwire run: {load_before:.1f} / "
        f"{load_after:.1f} on {os.cpu_count()} CPUs (other work on the machine slows both loops)"
    )
    sink.terminate()


if __name__ == "__main__":
    main()
    print_load("after the run")
