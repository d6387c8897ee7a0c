"""Key custody: the key-encryption key, sealing secrets at rest, the hub's key rows, the registry
of key purposes, and rotation.

Every secret shugu stores is sealed under the key-encryption key (KEK) with a purpose label (the
HKDF info and associated data of the blob). The labels are listed once, in `shugu.keys.purposes`,
and rotation iterates that registry, so a new kind of key cannot be forgotten by rotation.
"""

from __future__ import annotations

from shugu.keys.kek import load_kek
from shugu.keys.sealing import KeyEncryptionKey, write_secret_file

__all__ = ["KeyEncryptionKey", "load_kek", "write_secret_file"]
