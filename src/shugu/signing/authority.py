"""The `@authority` of RFC 9421 §2.2.3: the host (and port, when not the scheme's default) a
request is sent to, lower-cased; and the names a server answers to.

A signature covers the authority, so a request signed for one server cannot be replayed to
another: each server accepts only its own names.

>>> normalise("HTTPS", "Hub.Example.org", 443)
'hub.example.org'
>>> from_host_header("http", "127.0.0.1:8000")
'127.0.0.1:8000'
>>> normalise("http", "::1", 8001)
'[::1]:8001'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from shugu.settings import Settings

DEFAULT_PORTS = {"http": 80, "https": 443}
IN_PROCESS = ("embedded.shugu", "hub")
"""The names an in-process client (the CLI's embedded hub, the tests) gives the hub; such a
request never leaves the process. Accepted only while no `authority` is configured."""
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
WILDCARD = ("0.0.0.0", "[::]", "")  # noqa: S104 - names to compare with, not a bind

_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~-]+)(?::([0-9]{1,5}))?$")


def normalise(scheme: str, host: str, port: int | None) -> str:
    """`host[:port]` lower-cased, the port left out when it is the scheme's default."""
    name = host.lower()
    if ":" in name and not name.startswith("["):
        name = f"[{name}]"
    if port is None or DEFAULT_PORTS.get(scheme.lower()) == port:
        return name
    return f"{name}:{port}"


def from_host_header(scheme: str, value: str | None) -> str:
    """The normalised authority of a `Host` header; "" when it is missing or malformed."""
    match = _HOST.match((value or "").strip())
    if match is None:
        return ""
    port = int(match.group(2)) if match.group(2) else None
    if port is not None and port > 65535:
        return ""
    return normalise(scheme, match.group(1), port)


def of_url(url: str) -> str:
    """The normalised authority of an absolute URL; "" when it has no host."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return ""
    return normalise(parts.scheme, parts.hostname, port) if parts.hostname else ""


def listening(scheme: str, host: str, port: int) -> frozenset[str]:
    """The names of a server listening on `host:port` (every loopback name for a loopback or
    wildcard address, which a client on the same machine may use).

    >>> sorted(listening("http", "127.0.0.1", 8000))
    ['127.0.0.1:8000', '[::1]:8000', 'localhost:8000']
    """
    bare = normalise(scheme, host, None)
    names = {normalise(scheme, host, port)}
    if bare in LOOPBACK or bare in WILDCARD:
        names.update(normalise(scheme, name, port) for name in LOOPBACK)
    return frozenset(names)


def own_authorities(
    configured: Iterable[str],
    *,
    scheme: str,
    host: str,
    port: int,
    urls: Iterable[str] = (),
    in_process: bool = False,
) -> frozenset[str]:
    """The names a server answers to: `configured` when given, else derived.

    Derived: where it listens (`listening`), the authority of each of `urls` (the hub's own
    `hub_url`), and, with `in_process`, the in-process names (`IN_PROCESS`).
    """
    given = frozenset(name.strip().lower() for name in configured if name.strip())
    if given:
        return given
    names = set(listening(scheme, host, port))
    names.update(filter(None, (of_url(url) for url in urls)))
    if in_process:
        names.update(IN_PROCESS)
    return frozenset(names)


def hub_authorities(settings: Settings) -> frozenset[str]:
    """The names a hub answers to (see `Settings.authority`)."""
    urls = [settings.hub_url] if settings.hub_url else []
    return own_authorities(
        settings.authority,
        scheme=_scheme(settings),
        host=settings.host,
        port=settings.port,
        urls=urls,
        in_process=True,
    )


def server_authorities(settings: Settings) -> frozenset[str]:
    """The names a transcryptor server answers to: configured, or where it listens."""
    return own_authorities(
        settings.authority, scheme=_scheme(settings), host=settings.host, port=settings.port
    )


def _scheme(settings: Settings) -> str:
    served_tls = settings.tls_cert_file is not None and settings.tls_key_file is not None
    return "https" if served_tls else "http"
