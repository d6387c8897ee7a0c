"""The state directory (`--home` / `SHUGU_HOME`, default `~/.shugu`).

Layout::

    HOME/
      secret.key            key-encryption key (base64, mode 0600) unless SHUGU_SECRET_KEY is set
      hub.db                the embedded hub's SQLite database (with -wal and -shm files)
      identities/NAME.json  the CLI's participant identities, private keys sealed under the key
      cli.json              CLI preferences (the default identity)
      files/                datasets and outputs kept by later features
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shugu.errors import ConflictError, NotFoundError
from shugu.i18n import N_
from shugu.sealing import KeyEncryptionKey, write_secret_file
from shugu.settings import Settings

SECRET_FILE = "secret.key"  # noqa: S105 - a file name, not a secret
CLI_FILE = "cli.json"


@dataclass(frozen=True, slots=True)
class Home:
    """Paths inside a home folder."""

    root: Path

    @property
    def secret_file(self) -> Path:
        """The key-encryption key file."""
        return self.root / SECRET_FILE

    @property
    def identities(self) -> Path:
        """The folder of the CLI's participant identities."""
        return self.root / "identities"

    @property
    def files(self) -> Path:
        """The folder for data files."""
        return self.root / "files"

    @property
    def cli_file(self) -> Path:
        """The CLI preferences file."""
        return self.root / CLI_FILE

    def is_initialised(self) -> bool:
        """Whether `shugu init` has run here."""
        return self.secret_file.exists()

    def create(self) -> KeyEncryptionKey:
        """Create the folders and a new key-encryption key; refuses an initialised home."""
        if self.is_initialised():
            raise ConflictError(N_("{home} is already initialised"), home=str(self.root))
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        self.identities.mkdir(exist_ok=True)
        self.files.mkdir(exist_ok=True)
        kek = KeyEncryptionKey.generate()
        write_secret_file(self.secret_file, kek.to_text())
        return kek

    def read_preferences(self) -> dict[str, Any]:
        """The CLI preferences (empty when none were written)."""
        if not self.cli_file.exists():
            return {}
        data = json.loads(self.cli_file.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}

    def write_preferences(self, **values: Any) -> None:
        """Merge `values` into the CLI preferences."""
        data = self.read_preferences() | values
        self.cli_file.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def load_kek(settings: Settings) -> KeyEncryptionKey:
    """The key-encryption key: `SHUGU_SECRET_KEY`, else the home's `secret.key`.

    Raises:
        NotFoundError: neither is there (the home was never initialised).
    """
    if settings.secret_key is not None:
        return KeyEncryptionKey.from_text(settings.secret_key.get_secret_value())
    path = Home(settings.home).secret_file
    if not path.exists():
        raise NotFoundError(
            N_("{home} is not a shugu home; run `shugu --home {home} init` first"),
            home=str(settings.home),
        )
    return KeyEncryptionKey.from_text(path.read_text(encoding="ascii"))
