"""/healthz and page latency while arXiv hangs, against the same server before any submission.

Starts the real `paperwire serve --port 0` (its own data directory, the bundled sample) with the arXiv
API pointed at a local server that accepts connections and never answers. Measures /healthz and /
(baseline), then signs in READERS readers (through the mailed links), has each submit 3 unknown ids
(up to the site's 50 pending fetches: the rest are refused with 429), and measures the same requests
again while every fetch hangs. Prints p50 / p99 of both runs side by side, the submit answers, the load
average and the CPU model.

Reproduce:  PYTHONPATH=src .venv/bin/python bench/submit_isolation.py --readers 17 --requests 300
"""

from __future__ import annotations

import argparse
import email
import email.policy
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from machine import cpu_model_and_flags  # bench/machine.py


def hanging_server() -> tuple[socket.socket, str]:
    """A TCP server that accepts every connection and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(512)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            held.append(connection)

    threading.Thread(target=accept, daemon=True).start()
    return listener, f"http://127.0.0.1:{listener.getsockname()[1]}/api/query"


def start_server(home: Path, arxiv_url: str) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERWIRE_")}
    env.update({"PAPERWIRE_HOME": str(home), "PAPERWIRE_EMBEDDER": "none", "PAPERWIRE_ARXIV_API_URL": arxiv_url,
                "PAPERWIRE_SECRET_KEY": "bench-secret-key-0123456789abcdefghijklmn", "PAPERWIRE_LIVE_SOURCES": "0"})  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "paperwire", "serve", "--port", "0", "--sample"], env=env,
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)  # fmt: skip
    assert process.stderr is not None
    while True:
        line = process.stderr.readline()
        if not line:
            raise SystemExit("the server did not start")
        found = re.search(r"at (http://127\.0\.0\.1:\d+)/", line)
        if found:
            break
    base = found.group(1)
    for _ in range(300):
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the server did not answer")


def latencies(client: httpx.Client, path: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        assert client.get(path).status_code == 200, path
        times.append((time.perf_counter() - started) * 1000)
    return times


def percentiles(times: list[float]) -> str:
    ordered = sorted(times)
    return f"{statistics.median(ordered):.1f} / {ordered[int(len(ordered) * 0.99) - 1]:.1f}"


def sign_in(base: str, home: Path, address: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"email": address, "csrf_token": token})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for path in (home / "maildir" / "new").glob("*"):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if message["To"] == address:
                link = re.search(r"http://\S+(/login/\S+)", message.get_body(("plain",)).get_content()).group(1)
                client.post(link, data={"csrf_token": token})
                return client
        time.sleep(0.05)
    raise SystemExit(f"no sign-in mail for {address}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readers", type=int, default=17)
    parser.add_argument("--requests", type=int, default=300)
    options = parser.parse_args()
    listener, arxiv_url = hanging_server()
    home = Path(tempfile.mkdtemp(prefix="paperwire-isolation-")) / "home"
    process, base = start_server(home, arxiv_url)
    try:
        with httpx.Client(base_url=base, timeout=30) as probe:
            baseline = {path: latencies(probe, path, options.requests) for path in ("/healthz", "/")}
            readers = [sign_in(base, home, f"reader{n}@example.org") for n in range(options.readers)]
            answers: dict[int, int] = {}
            submit_times = []
            for n, client in enumerate(readers):
                token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/submit").text).group(1)
                for k in range(3):
                    started = time.perf_counter()
                    status = client.post(
                        "/submit", data={"csrf_token": token, "paper": f"2599.{n:02d}{k:03d}"}
                    ).status_code
                    submit_times.append((time.perf_counter() - started) * 1000)
                    answers[status] = answers.get(status, 0) + 1
            hanging = {path: latencies(probe, path, options.requests) for path in ("/healthz", "/")}
        print(
            f"load average {os.getloadavg()[0]:.1f}; {cpu_model_and_flags()[0]}; {options.requests} sequential requests each"
        )
        print("| request | no submissions: p50 / p99 ms | arXiv hanging, fetches queued: p50 / p99 ms |")
        print("|---|---|---|")
        for path in baseline:
            print(f"| GET {path} | {percentiles(baseline[path])} | {percentiles(hanging[path])} |")
        shown = ", ".join(f"{count}× {status}" for status, count in sorted(answers.items()))
        print(f"POST /submit answers: {shown}; p50 / p99 {percentiles(submit_times)} ms (none waits on arXiv)")
        for client in readers:
            client.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
        listener.close()


if __name__ == "__main__":
    main()
