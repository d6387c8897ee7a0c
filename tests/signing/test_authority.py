"""The names a server answers to (RFC 9421 §2.2.3 `@authority`), configured or derived."""

from __future__ import annotations

from pathlib import Path

import pytest

from shugu.settings import Settings
from shugu.signing import authority


@pytest.mark.parametrize(
    ("scheme", "host", "port", "expected"),
    [
        pytest.param("http", "Hub.Example", None, "hub.example", id="lower-case"),
        pytest.param("http", "hub", 80, "hub", id="http-default-port"),
        pytest.param("https", "hub", 443, "hub", id="https-default-port"),
        pytest.param("http", "hub", 443, "hub:443", id="other-schemes-default"),
        pytest.param("https", "hub", 8443, "hub:8443", id="port"),
        pytest.param("http", "::1", 8000, "[::1]:8000", id="ipv6"),
    ],
)
def test_normalise(scheme: str, host: str, port: int | None, expected: str) -> None:
    assert authority.normalise(scheme, host, port) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("HUB:8000", "hub:8000", id="plain"),
        pytest.param("hub:80", "hub", id="default-port"),
        pytest.param("[::1]:9000", "[::1]:9000", id="ipv6"),
        pytest.param(None, "", id="missing"),
        pytest.param("", "", id="empty"),
        pytest.param("hub:99999", "", id="port-out-of-range"),
        pytest.param("hub:x", "", id="bad-port"),
        pytest.param("a b", "", id="space"),
        pytest.param("user@hub", "", id="userinfo"),
    ],
)
def test_host_header(value: str | None, expected: str) -> None:
    assert authority.from_host_header("http", value) == expected


def test_configured_names_replace_the_derived_ones(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, authority=["Hub.Example.org", " "])
    assert authority.hub_authorities(settings) == {"hub.example.org"}
    assert authority.server_authorities(settings) == {"hub.example.org"}


def test_derived_names_of_a_hub(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, host="0.0.0.0", port=8080, hub_url="https://hub.example/")
    assert authority.hub_authorities(settings) == {
        "0.0.0.0:8080",
        "127.0.0.1:8080",
        "localhost:8080",
        "[::1]:8080",
        "hub.example",
        "hub",
        "embedded.shugu",
    }


def test_a_transcryptor_server_answers_where_it_listens_only(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, host="10.1.2.3", port=8443)
    assert authority.server_authorities(settings) == {"10.1.2.3:8443"}


def test_the_default_port_follows_tls(tmp_path: Path) -> None:
    tls = Settings(
        home=tmp_path,
        host="hub.example",
        port=443,
        tls_cert_file=tmp_path / "c",
        tls_key_file=tmp_path / "k",
    )
    assert authority.server_authorities(tls) == {"hub.example"}
