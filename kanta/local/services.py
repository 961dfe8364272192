"""Start the local stand-ins for Azure services: PostgreSQL + pgvector and Azurite.

Used by ``python -m kanta.local`` and by the test fixtures, so both run on the same setup.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
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


def azurite_connection_string(blob_port: int, queue_port: int, scheme: str = "http") -> str:
    """Connection string for Azurite's blob and queue services on 127.0.0.1 (``scheme``:
    ``http``, or ``https`` when Azurite was started with a certificate)."""
    return (
        f"DefaultEndpointsProtocol={scheme};AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint={scheme}://127.0.0.1:{blob_port}/{AZURITE_ACCOUNT};"
        f"QueueEndpoint={scheme}://127.0.0.1:{queue_port}/{AZURITE_ACCOUNT};"
    )


def self_signed_certificate(directory: Path, valid_for: dt.timedelta = dt.timedelta(days=2)) -> tuple[Path, Path]:
    """Write a self-signed TLS certificate for 127.0.0.1 and localhost, and its private key,
    to ``directory`` as ``cert.pem`` and ``key.pem`` (PEM, key unencrypted); return both paths.

    For local HTTPS only (Azurite's OAuth mode needs HTTPS): clients trust it by using
    ``cert.pem`` as their CA bundle, the certificate being its own issuer. Uses the
    ``cryptography`` package (installed with azure-identity). ``valid_for`` counts from now.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # Back-dated a little so a client whose clock is slightly behind still accepts it.
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + valid_for)
        # Clients check the address they dialled against the SANs, not the CN.
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        # A CA certificate so that it can be its own trust anchor in a CA bundle.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return cert_path, key_path


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
    """Azurite's blob and queue services (the blob trigger uses queues too) in a child process.

    With ``oauth=True`` Azurite serves HTTPS with a self-signed certificate made at start
    (``ca_bundle``) and accepts OAuth bearer tokens (``--oauth basic``): the stand-in for an
    account reached with Managed Identity, including Get User Delegation Key. In basic mode
    Azurite checks a token's issuer, audience and lifetime but not its signature or roles
    (Azurite README, "OAuth Configuration"). The account key keeps working as well.
    """

    data_dir: Path
    blob_port: int = 10000
    queue_port: int = 10001
    oauth: bool = False

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
        args = [
            azurite_executable(), "--silent", "--skipApiVersionCheck", "--loose",
            "--location", str(self.data_dir),
            "--blobHost", "127.0.0.1", "--blobPort", str(self.blob_port),
            "--queueHost", "127.0.0.1", "--queuePort", str(self.queue_port),
            "--tableHost", "127.0.0.1", "--tablePort", str(free_port()),
        ]
        if self.oauth:
            # Azurite accepts bearer tokens only over HTTPS, and the Azure SDK sends them only
            # to https URLs, hence the certificate.
            cert, key = self_signed_certificate(self.data_dir / "tls")
            args += ["--cert", str(cert), "--key", str(key), "--oauth", "basic"]
        log = open(self.data_dir / "azurite.log", "ab")  # noqa: SIM115 - Azurite writes to it while it runs
        self.process = subprocess.Popen(
            args,
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
    def scheme(self) -> str:
        """``https`` when started with ``oauth=True``, else ``http``."""
        return "https" if self.oauth else "http"

    @property
    def connection_string(self) -> str:
        """Account-key connection string of this Azurite (``https`` endpoints with ``oauth``)."""
        return azurite_connection_string(self.blob_port, self.queue_port, self.scheme)

    @property
    def blob_service_uri(self) -> str:
        """URL of the blob service, as ``KANTA_STORAGE__blobServiceUri`` takes it."""
        return f"{self.scheme}://127.0.0.1:{self.blob_port}/{AZURITE_ACCOUNT}"

    @property
    def ca_bundle(self) -> Path:
        """PEM file that clients trust to reach this Azurite over HTTPS (``oauth=True`` only)."""
        if not self.oauth:
            raise ValueError("Azurite was started without oauth=True: it serves plain HTTP")
        return self.data_dir / "tls" / "cert.pem"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
