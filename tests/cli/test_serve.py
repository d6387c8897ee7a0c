"""`shugu up` serves the hub over real HTTP (and HTTPS with certificate files); the CLI works
against it with --hub exactly as against the embedded hub."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SHUGU_")} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "shugu", "--home", str(home), *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        check=False,
    )


def _serve(home: Path, port: int, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SHUGU_")} | (env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "shugu", "--home", str(home), "up", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
    )


def _wait(url: str, verify: ssl.SSLContext | bool = True) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, verify=verify, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    assert _cli(path, "init", "--operator", "exchange").returncode == 0
    return path


@pytest.fixture
def served(home: Path) -> Iterator[str]:
    port = _free_port()
    server = _serve(home, port)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url + "/health")
        yield url
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=20)
        logs = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
        assert any(e.get("event") == "http.request" for e in logs)


def test_the_cli_works_against_a_served_hub(home: Path, served: str) -> None:
    hub = {"SHUGU_HUB_URL": served}
    applied = _cli(
        home, "participant", "apply", "remote-holder", "--role", "holder", "--json", env=hub
    )
    assert applied.returncode == 0, applied.stderr
    approved = _cli(home, "participant", "approve", "remote-holder", "--json", env=hub)
    assert approved.returncode == 0, approved.stderr
    listing = json.loads(_cli(home, "participant", "list", "--json", env=hub).stdout)
    assert [p["name"] for p in listing["items"]] == ["exchange", "remote-holder"]
    assert httpx.get(served + "/ready").json()["status"] == "ready"
    assert httpx.get(served + "/v1/me").status_code == 401


def test_an_unreachable_hub_exits_unavailable(home: Path) -> None:
    result = _cli(
        home, "participant", "list", env={"SHUGU_HUB_URL": f"http://127.0.0.1:{_free_port()}"}
    )
    assert result.returncode == 7
    assert "cannot reach the hub" in result.stderr


def _tls_files(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "tls.crt", folder / "tls.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_tls_is_served_when_certificate_files_are_configured(home: Path, tmp_path: Path) -> None:
    cert_file, key_file = _tls_files(tmp_path)
    port = _free_port()
    server = _serve(
        home, port, env={"SHUGU_TLS_CERT_FILE": str(cert_file), "SHUGU_TLS_KEY_FILE": str(key_file)}
    )
    try:
        context = ssl.create_default_context(cafile=str(cert_file))
        _wait(f"https://127.0.0.1:{port}/health", verify=context)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
    finally:
        server.terminate()
        server.communicate(timeout=20)
