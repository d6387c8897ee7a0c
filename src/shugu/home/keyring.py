"""The CLI's participant identities, kept in the home: `identities/<name>.json`.

Each file holds the participant's name, id, public key, its latest certificate, and its Ed25519
private key sealed under the home's key-encryption key (never in clear, never printed). Files are
written atomically with mode 0600.
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shugu.errors import ConflictError, InvalidInputError, NotFoundError
from shugu.i18n import N_
from shugu.keys import purposes
from shugu.keys.sealing import KeyEncryptionKey

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$")


@dataclass(frozen=True, slots=True)
class LocalIdentity:
    """A participant identity the CLI can act as."""

    name: str
    participant_id: str | None
    key: Ed25519PrivateKey
    certificate_pem: str | None

    def __repr__(self) -> str:
        return f"LocalIdentity(name={self.name!r}, participant_id={self.participant_id!r})"

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte public key."""
        return self.key.public_key().public_bytes_raw()


class Keyring:
    """The identities stored in one folder, sealed under one key."""

    def __init__(self, folder: Path, kek: KeyEncryptionKey) -> None:
        self._folder = folder
        self._kek = kek

    def _path(self, name: str) -> Path:
        if not _NAME.match(name):
            raise InvalidInputError(N_("invalid identity name {name}"), name=name)
        return self._folder / f"{name}.json"

    def names(self) -> list[str]:
        """The names of the stored identities, sorted."""
        if not self._folder.exists():
            return []
        return sorted(p.stem for p in self._folder.glob("*.json"))

    def create(self, name: str) -> LocalIdentity:
        """Generate a new key pair for `name` and store it (no participant id yet)."""
        if self._path(name).exists():
            raise ConflictError(N_("an identity named {name} already exists here"), name=name)
        identity = LocalIdentity(name, None, Ed25519PrivateKey.generate(), None)
        self.save(identity)
        return identity

    def save(self, identity: LocalIdentity) -> None:
        """Write the identity file atomically (mode 0600)."""
        raw = identity.key.private_bytes_raw()
        record = {
            "name": identity.name,
            "participant_id": identity.participant_id,
            "public_key": base64.b64encode(identity.public_key).decode(),
            "sealed_private_key": base64.b64encode(
                self._kek.seal(raw, purpose=purposes.identity(identity.name))
            ).decode(),
            "certificate_pem": identity.certificate_pem,
        }
        path = self._path(identity.name)
        self._folder.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(record, handle, indent=2)
            handle.write("\n")
        temporary.replace(path)

    def load(self, name: str) -> LocalIdentity:
        """Read and unseal an identity.

        Raises:
            NotFoundError: no identity of that name in this home.
            InvalidInputError: the file is damaged or sealed under another key.
        """
        path = self._path(name)
        if not path.exists():
            known = ", ".join(self.names()) or "-"
            raise NotFoundError(
                N_("no identity named {name} in this home (known: {known})"),
                name=name,
                known=known,
            )
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            sealed = base64.b64decode(record["sealed_private_key"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInputError(
                N_("the identity file {path} is damaged"), path=str(path)
            ) from exc
        raw = self._kek.open(sealed, purpose=purposes.identity(name))
        return LocalIdentity(
            name=name,
            participant_id=record.get("participant_id"),
            key=Ed25519PrivateKey.from_private_bytes(raw),
            certificate_pem=record.get("certificate_pem"),
        )

    def remove(self, name: str) -> None:
        """Delete an identity file (used to undo a failed application)."""
        self._path(name).unlink(missing_ok=True)
