"""Start the local stand-ins for Azure services: PostgreSQL + pgvector and Azurite.

Used by ``python -m kanta.local`` and by the test fixtures, so both run on the same setup.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]

#: Azurite's published development account (Learn: "Use Azurite emulator"); not a secret.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout_s: float = 30.0) -> None:
    """Block until 127.0.0.1:``port`` accepts TCP connections. Raises ``TimeoutError``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


@dataclass
class LocalPostgres:
    """An embedded PostgreSQL 16 with pgvector, run by ``pgserver`` from ``data_dir``.

    The server stops when the process that started it exits (pgserver's ``cleanup_mode``).
    """

    data_dir: Path

    def start(self) -> LocalPostgres:
        import pgserver

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.server = pgserver.get_server(self.data_dir, cleanup_mode="stop")
        return self

    def dsn(self, database: str) -> str:
        """DSN of ``database``, created on first use."""
        with psycopg.connect(self.server.get_uri(), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
                conn.execute(f'CREATE DATABASE "{database}"')
        return self.server.get_uri(database)

    def stop(self) -> None:
        self.server.cleanup()


def azurite_connection_string(blob_port: int, queue_port: int) -> str:
    """Connection string for Azurite's blob and queue services on 127.0.0.1."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint=http://127.0.0.1:{blob_port}/{AZURITE_ACCOUNT};"
        f"QueueEndpoint=http://127.0.0.1:{queue_port}/{AZURITE_ACCOUNT};"
    )


def azurite_executable() -> str:
    """Path of the ``azurite`` launcher installed by ``npm install`` in the repo (or on PATH).

    Raises ``FileNotFoundError`` when neither exists.
    """
    local = ROOT / "node_modules" / ".bin" / "azurite"
    if local.exists():
        return str(local)
    found = shutil.which("azurite")
    if found:
        return found
    raise FileNotFoundError("azurite is not installed: run scripts/bootstrap (npm install)")


@dataclass
class LocalAzurite:
    """Azurite's blob and queue services (the blob trigger uses queues too) in a child process."""

    data_dir: Path
    blob_port: int = 10000
    queue_port: int = 10001

    def start(self, timeout_s: float = 30.0) -> LocalAzurite:
        """Start Azurite and wait until it listens. Raises ``RuntimeError`` when a port is
        taken (another Azurite?) and ``TimeoutError`` when it does not come up."""
        for port in (self.blob_port, self.queue_port):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    raise RuntimeError(
                        f"port {port} is in use (another Azurite or Kanta running?): stop it or choose other ports"
                    )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "azurite.log", "ab")
        self.process = subprocess.Popen(
            [
                azurite_executable(), "--silent", "--skipApiVersionCheck", "--loose",
                "--location", str(self.data_dir),
                "--blobHost", "127.0.0.1", "--blobPort", str(self.blob_port),
                "--queueHost", "127.0.0.1", "--queuePort", str(self.queue_port),
                "--tableHost", "127.0.0.1", "--tablePort", str(free_port()),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for_port(self.blob_port, timeout_s)
            wait_for_port(self.queue_port, timeout_s)
        except TimeoutError:
            self.stop()
            raise
        return self

    @property
    def connection_string(self) -> str:
        return azurite_connection_string(self.blob_port, self.queue_port)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
