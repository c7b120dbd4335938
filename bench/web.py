"""Web throughput, like against like: rendered pages against a rendered bare page, cached pages against
the bare page behind the same cache — all measured in one run.

Rendered (every request renders): a bare Starlette + Jinja2 page of the same 30 paper cards (no database),
paperwire's daily page and /api/papers with the page cache off (an anonymous reader), and the daily page
of a signed-in reader (session and CSRF cookies, their upvotes marked: the page every signed-in reader
gets) — built per request from one rendering shared by all signed-in readers, with that reader's session,
votes, name and CSRF token filled in (web/reader_pages.py: one database query per request), and with the
page cache off (rendered from scratch every time). Cached: the bare page behind paperwire's page cache (web/pagecache.py, same settings) against
paperwire's anonymous pages from that cache. Goal for the signed-in reader's page: within 1.5x of the
bare rendered page's requests/s and p99 <= 100 ms at 50 connections.

Load: wrk (1 thread) when installed, else bench/loadgen.py (one Python asyncio process; the output says
which; past a few thousand requests/s it measures its own limit). 50 connections, loopback only, a
warm-up, then a bounded measured run. Servers: uvicorn with uvloop + httptools (as `paperwire serve` gets
them), access log off. With one server process it is pinned to CPU 0 and the load generator to CPU 1;
with two processes nothing is pinned. paperwire's servers are measured once their start-up search-index
build is done (the bare page has no such work). Data: the bundled sample + the shared HF 2025 items
(SQLite; PostgreSQL rows with --postgresql); the page is the busiest day. Each row is the best of `--rounds`.

Reproduce:  .venv/bin/python bench/web.py [--duration 10] [--warmup 3] [--rounds 2] [--postgresql] [--json out.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from machine import print_load, print_machine  # bench/machine.py

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
EXTRA_DATA = [SHARED_DATA / "hf_daily" / "hf_daily_papers_2025.jsonl.gz"]

BARE_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Daily Papers — {{ day }}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="stylesheet" href="/static/style.css">
</head><body><header><a href="/">paperwire</a></header><main><h1>Daily Papers</h1><p>{{ day }}</p>
{% for paper in papers %}
<article class="paper-card">
  <form method="post" action="/api/papers/{{ paper.id }}/upvote"><button class="votes">▲ {{ paper.upvotes }}</button></form>
  <h2><a href="/papers/{{ paper.id }}">{{ paper.title }}</a></h2>
  <p class="authors">{{ paper.authors[:4] | join(", ") }}{% if paper.authors | length > 4 %} +{{ paper.authors | length - 4 }} authors{% endif %}</p>
  <p class="abstract">{{ paper.abstract | truncate(400) }}</p>
  <p class="meta">{% if paper.submitted_by %}Submitted by {{ paper.submitted_by }} {% endif %}{{ paper.categories[:1] | join("") }}
  <a href="https://arxiv.org/abs/{{ paper.id }}">arXiv</a> <a href="https://arxiv.org/pdf/{{ paper.id }}">PDF</a></p>
</article>
{% endfor %}
</main><footer>paperwire</footer></body></html>
"""


# ---- the two applications (uvicorn factories: `--app-dir bench web:<name> --factory`) ---------------


def bare_app():
    """Starlette + Jinja2, no database: the papers are read once from BENCH_BARE_PAPERS."""
    import jinja2
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    data = json.loads(Path(os.environ["BENCH_BARE_PAPERS"]).read_text(encoding="utf-8"))
    template = jinja2.Environment(autoescape=True).from_string(BARE_TEMPLATE)

    async def page(_request):
        return HTMLResponse(template.render(day=data["day"], papers=data["papers"]))

    # /papers too: the path paperwire's page cache serves from memory (bare_cached_app)
    return Starlette(routes=[Route("/html", page), Route("/papers", page)])


def bare_cached_app():
    """The bare page behind paperwire's page cache, with the settings paperwire uses (same database probe)."""
    from paperwire.settings import Settings
    from paperwire.storage import open_store
    from paperwire.web.pagecache import PageCache

    settings = Settings()
    store = open_store(os.environ["BENCH_BARE_DATABASE_URL"])
    return PageCache(
        bare_app(), store=store, max_age=settings.page_cache_seconds, probe_seconds=settings.page_cache_probe_seconds
    )


def paperwire_app():
    """The real application, configured from PAPERWIRE_* like `paperwire serve --no-jobs`."""
    from paperwire.app import create_app
    from paperwire.settings import Settings

    return create_app(Settings(), run_jobs=False)


# ---- measurement ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str, timeout: float = 10.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # loopback only
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@contextmanager
def server(factory: str, workers: int, environment: dict[str, str], probe: str, settle: str | None = None):
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", f"web:{factory}", "--factory", "--app-dir", str(ROOT / "bench"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--loop", "uvloop",
        "--http", "httptools", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    if workers == 1 and shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
    process = subprocess.Popen(command, env={**os.environ, **environment}, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if get(base + probe, timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{factory} did not start (exit {process.poll()})")
            time.sleep(0.3)
        for _ in range(workers * 20):  # every worker process answers once before timing
            get(base + probe)
        if settle:  # paperwire builds its search index in the background at start: let it finish first
            while json.loads(get(base + settle)[1]).get("index", {}).get("state") == "building":
                if time.monotonic() > deadline + 120:
                    raise RuntimeError("the search index was still being built after 3.5 minutes")
                time.sleep(0.5)
        yield base
    finally:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def load(url: str, seconds: int, connections: int, pin: bool, headers: list[str]) -> dict:
    """wrk's figures when it is installed, else bench/loadgen.py's."""
    if shutil.which("wrk"):
        return wrk(url, seconds, connections, pin, headers)
    command = [sys.executable, str(ROOT / "bench" / "loadgen.py"), url, "--connections", str(connections),
               "--duration", str(seconds), *(f"--header={header}" for header in headers)]  # fmt: skip
    if pin and shutil.which("taskset"):
        command = ["taskset", "-c", "1", *command]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    figures = json.loads(output)
    figures["wrk_cpu"] = figures.pop("load_cpu")
    return figures


def wrk(url: str, seconds: int, connections: int, pin: bool, headers: list[str]) -> dict:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", *(f"-H{h}" for h in headers), url]
    if pin and shutil.which("taskset"):
        command = ["taskset", "-c", "1", *command]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    text = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / wall

    def latency(percent: str) -> float:
        match = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
        return round(float(match.group(1)) * UNITS[match.group(2)], 2) if match else float("nan")

    requests = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.MULTILINE)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return {
        "rps": round(float(requests.group(1)), 1) if requests else 0.0,
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": sum(int(n) for n in socket_errors.groups()) if socket_errors else 0,
        "wrk_cpu": round(load_cpu, 2),  # cores the load generator itself used (it shares the machine)
    }


def get_with(url: str, headers: list[str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=dict(h.split(": ", 1) for h in headers))
    with urllib.request.urlopen(request, timeout=10) as response:  # loopback only
        return response.status, response.read()


def measure(base: str, path: str, arguments: argparse.Namespace, pin: bool, headers: list[str]) -> dict:
    status, body = get_with(base + path, headers)
    if status != 200:
        raise RuntimeError(f"{base + path} answered {status}")
    if headers and b'class="upvote voted"' not in body:
        raise RuntimeError("the signed-in reader's page shows no upvote of theirs: not signed in?")
    load(base + path, arguments.warmup, arguments.connections, pin, headers)
    result = load(base + path, arguments.duration, arguments.connections, pin, headers)
    return {**result, "bytes": len(body)}


# ---- data ----------------------------------------------------------------------------------------


def prepare_sqlite(home: Path) -> tuple[str, str, dict]:
    """Load the data; returns (database URL, busiest day, the bare page's data for that day)."""
    from paperwire.ingest import ingest_files
    from paperwire.sample import load_sample
    from paperwire.storage import open_store

    url = f"sqlite:///{home / 'paperwire.db'}"
    store = open_store(url)
    try:
        load_sample(store)
        ingest_files(store, [path for path in EXTRA_DATA if path.exists()])
        counts: dict[str, int] = {}
        for paper in store.iter_papers():
            counts[paper.listed_on] = counts.get(paper.listed_on, 0) + 1
        day = max(counts, key=counts.__getitem__)
        top = store.papers_listed_between(day, day, limit=30).papers
        bare = {
            "day": day,
            "papers": [
                {"id": p.id, "title": p.title, "authors": list(p.authors), "abstract": p.abstract,
                 "upvotes": p.upvotes, "submitted_by": p.submitted_by, "categories": list(p.categories)}
                for p in top
            ],
        }  # fmt: skip
        return url, day, bare | {"papers_in_db": store.count_papers(), "papers_on_day": counts[day]}
    finally:
        store.close()


def prepare_reader(url: str, secret_key: str, paper_ids: list[str]) -> str:
    """A signed-in reader who upvoted a few of the day's papers; returns their Cookie header."""
    from datetime import datetime, timedelta, timezone

    from paperwire.settings import Settings
    from paperwire.storage import open_store
    from paperwire.web.security import CSRF_COOKIE, SESSION_COOKIE, _session_serializer, hash_token

    store = open_store(url)
    try:
        user = store.ensure_user("reader@example.org", "reader")
        session_id = "bench-reader-session-0123456789"
        expires = (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        store.create_session(hash_token(session_id), user["id"], expires)
        for paper_id in paper_ids[:3]:
            store.set_vote(paper_id, user["id"], True)
    finally:
        store.close()
    cookie = _session_serializer(Settings(secret_key=secret_key)).dumps(session_id)
    # a browser keeps the CSRF cookie its first page set; without it every answer would set a new one
    return f"Cookie: {SESSION_COOKIE}={cookie}; {CSRF_COOKIE}=bench-reader-csrf-cookie-0123456789"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="measured seconds per URL")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up seconds per URL")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2, help="repeat everything; each row reports its best round")
    parser.add_argument("--json", type=Path, help="append one JSON line per measurement here")
    parser.add_argument("--postgresql", action="store_true", help="also PostgreSQL, 1 and 2 processes")
    arguments = parser.parse_args()
    print_machine(__doc__.strip().splitlines()[0])
    generator = "wrk -t1" if shutil.which("wrk") else "bench/loadgen.py (Python; wrk is not installed)"

    sys.path.insert(0, str(ROOT / "tests"))
    from paperwire.storage.transfer import copy_database
    from postgres_cluster import Cluster, find_binaries

    work = Path(tempfile.mkdtemp(prefix="paperwire-bench-web-"))
    cluster = None
    rows: list[dict] = []
    try:
        sqlite_home = work / "sqlite"
        sqlite_home.mkdir()
        sqlite_url, day, bare = prepare_sqlite(sqlite_home)
        (work / "bare.json").write_text(json.dumps(bare), encoding="utf-8")
        print(
            f"data: {bare['papers_in_db']} papers; daily page of {day} ({bare['papers_on_day']} papers, 30 shown)",
            file=sys.stderr,
        )
        daily = f"/papers?date={day}"
        api = f"/api/papers?period=day&date={day}&limit=30"
        secret = "bench-secret-key-0123456789-0123456789"
        common = {"PAPERWIRE_EMBEDDER": "none", "PAPERWIRE_SECRET_KEY": secret}
        reader = prepare_reader(sqlite_url, secret, [paper["id"] for paper in bare["papers"]])
        bare_env = {**common, "BENCH_BARE_PAPERS": str(work / "bare.json"), "BENCH_BARE_DATABASE_URL": sqlite_url,
                    "PAPERWIRE_HOME": str(work / "bare-home")}  # fmt: skip
        sqlite_env = {**common, "PAPERWIRE_HOME": str(sqlite_home), "PAPERWIRE_DATABASE_URL": sqlite_url}
        off = {"PAPERWIRE_PAGE_CACHE_SECONDS": "0"}
        # (group, row name, factory, processes, environment, paths, request headers)
        setups = [
            ("rendered", "bare Starlette + Jinja2", "bare_app", 1, bare_env, ["/html"], []),
            ("rendered", "paperwire, SQLite, anonymous, cache off", "paperwire_app", 1, {**sqlite_env, **off},
             [daily, api], []),
            ("rendered", "paperwire, SQLite, signed-in reader", "paperwire_app", 1, sqlite_env, [daily], [reader]),
            ("rendered", "paperwire, SQLite, signed-in reader, cache off", "paperwire_app", 1, {**sqlite_env, **off},
             [daily], [reader]),
            ("cached", "bare Starlette + Jinja2 behind the page cache", "bare_cached_app", 1, bare_env, ["/papers"], []),
            ("cached", "paperwire, SQLite, anonymous, page cache", "paperwire_app", 1, sqlite_env, [daily, api], []),
        ]  # fmt: skip
        binaries = find_binaries() if arguments.postgresql else None
        if binaries:
            cluster = Cluster(binaries).start()
            postgres_url = cluster.create_database("paperwire")
            copy_database(sqlite_url, postgres_url)
            for workers in (1, 2):
                home = work / f"postgresql-{workers}"
                home.mkdir()
                environment = {**common, "PAPERWIRE_HOME": str(home), "PAPERWIRE_DATABASE_URL": postgres_url}
                setups += [
                    ("rendered", "paperwire, PostgreSQL, anonymous, cache off", "paperwire_app", workers,
                     {**environment, **off}, [daily, api], []),
                    ("rendered", "paperwire, PostgreSQL, signed-in reader", "paperwire_app", workers, environment,
                     [daily], [reader]),
                    ("cached", "paperwire, PostgreSQL, anonymous, page cache", "paperwire_app", workers, environment,
                     [daily, api], []),
                ]  # fmt: skip
        elif arguments.postgresql:
            print("PostgreSQL binaries not found: PostgreSQL rows left out", file=sys.stderr)

        for round_number in range(1, arguments.rounds + 1):
            for group, name, factory, workers, environment, paths, headers in setups:
                settle = (
                    f"/api/papers/{bare['papers'][0]['id']}/similar?limit=1" if factory == "paperwire_app" else None
                )
                with server(factory, workers, environment, paths[0] if not headers else "/healthz", settle) as base:
                    for path in paths:
                        result = measure(base, path, arguments, pin=workers == 1, headers=headers)
                        row = {"group": group, "app": name, "processes": workers, "path": path,
                               "round": round_number, "generator": generator, **result}  # fmt: skip
                        rows.append(row)
                        print(json.dumps(row), file=sys.stderr)
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(work, ignore_errors=True)

    report(rows, arguments)


def best_rounds(rows: list[dict]) -> list[dict]:
    """Per (app, processes, path): the round with the most requests/s (the least disturbed by other load)."""
    best: dict[tuple, dict] = {}
    for row in rows:
        key = (row["app"], row["processes"], row["path"])
        if key not in best or row["rps"] > best[key]["rps"]:
            best[key] = row
    return list(best.values())


def report(all_rows: list[dict], arguments: argparse.Namespace) -> None:
    rows = best_rounds(all_rows)
    generator = rows[0]["generator"] if rows else ""
    print(
        f"\n{generator}, {arguments.connections} connections, {arguments.warmup} s warm-up + {arguments.duration} s, "
        f"loopback; best of {arguments.rounds} rounds"
    )
    for group, baseline_name in (("rendered", "bare Starlette + Jinja2"),
                                 ("cached", "bare Starlette + Jinja2 behind the page cache")):  # fmt: skip
        members = [row for row in rows if row["group"] == group]
        bare = next((row for row in members if row["app"] == baseline_name and row["processes"] == 1), None)
        print(f"\n{group.capitalize()} against {group}: ratio = req/s ÷ {baseline_name} (1 process)")
        print("| app | processes | path | req/s | p50 ms | p99 ms | bytes | errors | load generator CPU | ratio |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for row in members:
            ratio = f"{row['rps'] / bare['rps']:.2f}" if bare and bare["rps"] else ""
            print(
                f"| {row['app']} | {row['processes']} | `{row['path']}` | {row['rps']:,.0f} | {row['p50_ms']} | "
                f"{row['p99_ms']} | {row['bytes']:,} | {row['non_2xx'] + row['socket_errors']} | "
                f"{row.get('wrk_cpu', '')} | {ratio} |"
            )
    bare = next((r for r in rows if r["app"] == "bare Starlette + Jinja2" and r["processes"] == 1), None)
    reader = next((r for r in rows if r["app"] == "paperwire, SQLite, signed-in reader"), None)
    if bare and reader and reader["rps"]:
        share = reader["rps"] / bare["rps"]
        print(
            f"\nsigned-in reader's daily page (SQLite, 1 process): {share:.2f}x the bare rendered page's requests/s "
            f"(goal: within 1.5x of it, i.e. >= {1 / 1.5:.2f}x: {'met' if share >= 1 / 1.5 else 'NOT met'}); "
            f"p99 {reader['p99_ms']} ms at {arguments.connections} connections "
            f"(goal <= 100 ms: {'met' if reader['p99_ms'] <= 100 else 'NOT met'})"
        )
    if arguments.json:
        with arguments.json.open("a", encoding="utf-8") as stream:
            for row in all_rows:
                stream.write(json.dumps({**row, "duration_s": arguments.duration}) + "\n")


if __name__ == "__main__":
    main()
    print_load("after the run")
