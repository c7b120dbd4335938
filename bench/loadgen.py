"""A small closed-loop HTTP/1.1 load generator (keep-alive, N connections), for machines without wrk.

    python bench/loadgen.py http://127.0.0.1:8000/papers --connections 50 --duration 10 [--header "Cookie: …"]

Prints one JSON object: requests/s, p50/p99 latency (ms), errors, and the CPU the generator itself used.
It is one Python process (asyncio, raw sockets): past a few thousand requests/s it measures its own
limit rather than the server's — bench/web.py says which generator produced its figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from urllib.parse import urlsplit


async def one_response(reader: asyncio.StreamReader) -> int:
    """Read one response; returns its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def connection(host: str, port: int, request: bytes, until: float, latencies: list[float], errors: list[int]):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < until:
            started = time.perf_counter()
            writer.write(request)
            status = await one_response(reader)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors.append(status)
    except (OSError, asyncio.IncompleteReadError, ValueError):
        errors.append(-1)
    finally:
        writer.close()


async def run(url: str, connections: int, seconds: float, headers: list[str]) -> dict:
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    extra = "".join(f"{header}\r\n" for header in headers)
    request = f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n{extra}\r\n".encode("latin-1")
    latencies: list[float] = []
    errors: list[int] = []
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(
        *(connection(parts.hostname or "127.0.0.1", parts.port or 80, request, until, latencies, errors)
          for _ in range(connections))
    )  # fmt: skip
    wall = time.perf_counter() - started
    latencies.sort()

    def percentile(share: float) -> float:
        return round(1000 * latencies[min(len(latencies) - 1, int(share * len(latencies)))], 2) if latencies else 0.0

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "rps": round(len(latencies) / wall, 1),
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
        "non_2xx": sum(1 for e in errors if e > 0),
        "socket_errors": sum(1 for e in errors if e < 0),
        "load_cpu": round((usage.ru_utime + usage.ru_stime) / wall, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--header", action="append", default=[])
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(run(args.url, args.connections, args.duration, args.header))))


if __name__ == "__main__":
    main()
