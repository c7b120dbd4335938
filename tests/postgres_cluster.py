"""A throw-away PostgreSQL cluster (initdb + pg_ctl in a temporary directory, on a free local port).

Used by the test suite (one cluster per session, one database per test) and by bench/web.py.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg

BIN_DIRS = ("/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin")
SUPERUSER = "postgres"


def find_binaries() -> Path | None:
    """The directory holding initdb and pg_ctl: PATH first, then Debian's versioned directories."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    for directory in BIN_DIRS:
        if (Path(directory) / "pg_ctl").exists() and (Path(directory) / "initdb").exists():
            return Path(directory)
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Cluster:
    """initdb refuses to run as root, so as root the server runs as the `postgres` system user."""

    def __init__(self, binaries: Path, *, max_connections: int = 300) -> None:
        self.binaries = binaries
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="paperwire-pg-"))
        self.data = self.directory / "data"
        self.max_connections = max_connections
        self.run_as: list[str] = []
        if os.geteuid() == 0:
            self.run_as = ["runuser", "-u", SUPERUSER, "--"]
            shutil.chown(self.directory, SUPERUSER)

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self.run_as, *args], check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.directory
        )

    def start(self) -> Cluster:
        self._run(
            str(self.binaries / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
            "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        # Durability is worthless for a throw-away cluster; speed is not.
        options = (
            f"-c port={self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.directory}"
            f" -c max_connections={self.max_connections} -c fsync=off -c synchronous_commit=off"
            " -c full_page_writes=off -c shared_buffers=128MB"
        )
        self._run(
            str(self.binaries / "pg_ctl"), "-D", str(self.data), "-o", options, "-l",
            str(self.directory / "server.log"), "-w", "start",
        )  # fmt: skip
        return self

    def stop(self) -> None:
        try:
            self._run(str(self.binaries / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.url(), autocommit=True)

    def create_database(self, name: str, template: str | None = None) -> str:
        with self.admin() as connection:
            clause = f" TEMPLATE {template}" if template else ""
            connection.execute(f'CREATE DATABASE "{name}"{clause}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with self.admin() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
