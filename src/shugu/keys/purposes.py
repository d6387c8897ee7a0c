"""The registry of key purposes: every kind of secret shugu seals, and where it is kept.

A purpose label is the HKDF info and the associated data of a sealed blob (`KeyEncryptionKey`),
so a blob sealed for one purpose never opens as another. The labels below are fixed byte for
byte: homes and databases written by earlier versions open with them.

Secrets live in two kinds of places, both listed here so that rotation (`shugu.keys.rotation`)
iterates one registry and a new kind of key cannot be forgotten:

- rows of the ``hub_keys`` table, by row name (`HUB_KEYS`);
- JSON files in a home's folders, one sealed field each (`HOME_FILES`).

Code that seals or opens a secret takes its label from here (a test checks that no other module
spells one).

>>> hub_key_purpose("ca"), hub_key_purpose("pep:custodian"), hub_key_purpose("pep!custodian")
('hub-key:ca', 'pep-transcryptor:custodian', None)
>>> identity("exchange-operator")
'identity:exchange-operator'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "CA_KEY",
    "CLIENT_KEY",
    "HOME_FILES",
    "HUB_KEYS",
    "JOINED_PREFIX",
    "LOG_KEY",
    "PEP_SYSTEM_KEY",
    "PUBLIC_ROW_PREFIXES",
    "TRANSCRYPTOR_PREFIX",
    "HomeFileKind",
    "HubKeyKind",
    "hub_key_purpose",
    "identity",
    "pep_session",
    "pseudonym",
]

CA_KEY = "ca"
"""The hub CA's signing key."""
LOG_KEY = "log"
"""The ledger's log (checkpoint) key."""
CLIENT_KEY = "pep-client"
"""The hub's key for signing its calls to transcryptor servers."""
PEP_SYSTEM_KEY = "pep:system"
"""The PEP system: the blinded global secret key and the chain of transcryptors."""
TRANSCRYPTOR_PREFIX = "pep:"
"""``pep:<name>``: an in-process transcryptor's secrets (or a transcryptor server's own)."""
JOINED_PREFIX = "pep!"
"""``pep!<name>``: the point a transcryptor server was set up with (public)."""
PUBLIC_ROW_PREFIXES = (JOINED_PREFIX,)
"""Rows that hold only a public record (a transcryptor server's set-up point), nothing sealed."""


@dataclass(frozen=True, slots=True)
class HubKeyKind:
    """A kind of ``hub_keys`` row: its name (or name prefix) and its sealing purpose."""

    name: str
    purpose: str
    prefix: bool = False

    def matches(self, row_name: str) -> bool:
        """Whether the row `row_name` is of this kind."""
        return row_name.startswith(self.name) if self.prefix else row_name == self.name

    def purpose_of(self, row_name: str) -> str:
        """The purpose label of the row `row_name` (of this kind)."""
        return self.purpose + row_name.removeprefix(self.name) if self.prefix else self.purpose


HUB_KEYS: tuple[HubKeyKind, ...] = (
    HubKeyKind(CA_KEY, "hub-key:ca"),
    HubKeyKind(LOG_KEY, "hub-key:log"),
    HubKeyKind(CLIENT_KEY, "pep-client"),
    HubKeyKind(PEP_SYSTEM_KEY, "pep-system"),
    HubKeyKind(TRANSCRYPTOR_PREFIX, "pep-transcryptor:", prefix=True),
)
"""Every kind of sealed ``hub_keys`` row. Exact names are listed before prefixes."""


def hub_key_purpose(row_name: str) -> str | None:
    """The sealing purpose of the ``hub_keys`` row `row_name` (None: unknown, or public only)."""
    if row_name.startswith(PUBLIC_ROW_PREFIXES):
        return None
    for kind in HUB_KEYS:
        if kind.matches(row_name):
            return kind.purpose_of(row_name)
    return None


def identity(name: str) -> str:
    """The purpose of the CLI identity `name` (``identities/<name>.json``)."""
    return f"identity:{name}"


def pseudonym(holder: str) -> str:
    """The purpose of a holder's pseudonymisation key (``keys/<holder>.json``)."""
    return f"pseudonym:{holder}"


def pep_session(context: str) -> str:
    """The purpose of a PEP session key kept by a home (``pep-sessions/*.json``)."""
    return f"pep-session:{context}"


@dataclass(frozen=True, slots=True)
class HomeFileKind:
    """A kind of sealed JSON file in a home: its folder, the sealed field, and its purpose."""

    folder: str
    field: str
    purpose: Callable[[Path, dict[str, Any]], str]


HOME_FILES: tuple[HomeFileKind, ...] = (
    HomeFileKind("identities", "sealed_private_key", lambda path, _: identity(path.stem)),
    HomeFileKind("keys", "sealed_key", lambda _, record: pseudonym(str(record["holder"]))),
    HomeFileKind(
        "pep-sessions", "sealed_secret_key", lambda _, record: pep_session(str(record["context"]))
    ),
)
"""Every kind of sealed file in a home folder."""
