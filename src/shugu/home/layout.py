"""The state directory (`--home` / `SHUGU_HOME`, default `~/.shugu`).

Layout::

    HOME/
      shugu-home.json       marks the folder as a shugu home (format version)
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

from shugu.errors import ConflictError
from shugu.i18n import N_
from shugu.keys.kek import PREVIOUS_SECRET_FILE, SECRET_FILE
from shugu.keys.sealing import KeyEncryptionKey, write_secret_file

CLI_FILE = "cli.json"
MARKER_FILE = "shugu-home.json"


@dataclass(frozen=True, slots=True)
class Home:
    """Paths inside a home folder."""

    root: Path

    @property
    def secret_file(self) -> Path:
        """The key-encryption key file."""
        return self.root / SECRET_FILE

    @property
    def previous_secret_file(self) -> Path:
        """Earlier key-encryption keys while `shugu key rotate` is under way (one per line)."""
        return self.root / PREVIOUS_SECRET_FILE

    @property
    def identities(self) -> Path:
        """The folder of the CLI's participant identities."""
        return self.root / "identities"

    @property
    def files(self) -> Path:
        """The folder for data files."""
        return self.root / "files"

    @property
    def pseudonym_keys(self) -> Path:
        """The folder of the holders' sealed pseudonymisation keys."""
        return self.root / "keys"

    @property
    def pep_sessions(self) -> Path:
        """The folder of the PEP session keys this home fetched (sealed)."""
        return self.root / "pep-sessions"

    @property
    def hierarchies(self) -> Path:
        """The folder of the space's shared generalisation hierarchies (ARX CSV tables)."""
        return self.root / "hierarchies"

    @property
    def cli_file(self) -> Path:
        """The CLI preferences file."""
        return self.root / CLI_FILE

    @property
    def marker_file(self) -> Path:
        """The file that marks an initialised home."""
        return self.root / MARKER_FILE

    def is_initialised(self) -> bool:
        """Whether `shugu init` has run here."""
        return self.marker_file.exists() or self.secret_file.exists()

    def create(self, kek: KeyEncryptionKey | None = None) -> KeyEncryptionKey:
        """Create the folders; write a new key-encryption key unless one is given (from the
        environment, in which case no key file is written). Refuses an initialised home."""
        if self.is_initialised():
            raise ConflictError(N_("{home} is already initialised"), home=str(self.root))
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        self.ensure_folders()
        if kek is None:
            kek = KeyEncryptionKey.generate()
            write_secret_file(self.secret_file, kek.to_text())
        self.marker_file.write_text(json.dumps({"format": 1}) + "\n", encoding="utf-8")
        return kek

    def ensure_folders(self) -> None:
        """Create the home's sub-folders (owner-only) if they are missing."""
        for folder in (self.identities, self.files):
            folder.mkdir(mode=0o700, exist_ok=True)

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
