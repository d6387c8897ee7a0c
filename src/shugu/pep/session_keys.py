"""A job's session keys at rest: sealed under the home's key-encryption key, never in clear.

`shugu pep session-key` combines a session's key from the transcryptors' shares and keeps it
here; `shugu pep decrypt` opens it. A key file is JSON, mode 0600::

    {"format": "shugu-pep-session-key/1", "job", "session", "context", "public_key",
     "sealed_secret_key": base64 of the secret key sealed with purpose "pep-session:<context>"}

By default it lives in ``HOME/pep-sessions/`` (named by a digest of the context), where
`shugu key rotate` finds it; a file written elsewhere opens only while the home keeps its key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

from shugu.errors import ConflictError, InvalidInputError
from shugu.i18n import N_
from shugu.keys import purposes
from shugu.keys.sealing import KeyEncryptionKey
from shugu.pep.group import G, GroupElement, Scalar

__all__ = ["FORMAT", "default_path", "read_session_key", "write_session_key"]

FORMAT = "shugu-pep-session-key/1"


def default_path(folder: Path, context: str) -> Path:
    """Where a home keeps the key of session `context`, in its `folder` of session keys
    (``HOME/pep-sessions``)."""
    digest = hashlib.sha256(context.encode("utf-8")).hexdigest()[:32]
    return folder / f"{digest}.json"


def write_session_key(
    path: Path,
    kek: KeyEncryptionKey,
    *,
    job: str,
    session: str,
    context: str,
    secret: Scalar,
) -> GroupElement:
    """Seal and write a session key to a new file (mode 0600); returns its public key.

    Raises:
        ConflictError: the file exists.
    """
    public = secret * G
    record = {
        "format": FORMAT,
        "job": job,
        "session": session,
        "context": context,
        "public_key": public.hex(),
        "sealed_secret_key": base64.b64encode(
            kek.seal(secret.to_bytes(), purpose=purposes.pep_session(context))
        ).decode("ascii"),
    }
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConflictError(
            N_("{path} exists; a session key is never overwritten"), path=str(path)
        ) from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(record, indent=2) + "\n")
    return public


def read_session_key(path: Path, kek: KeyEncryptionKey) -> Scalar:
    """Open a session key file written by `write_session_key`.

    Raises:
        InvalidInputError: not such a file, sealed under another home's key, or damaged.
    """
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if record["format"] != FORMAT:
            raise ValueError(record["format"])
        sealed = base64.b64decode(record["sealed_secret_key"], validate=True)
        context, public = str(record["context"]), GroupElement.from_hex(record["public_key"])
    except (OSError, ValueError, KeyError, TypeError, InvalidInputError) as exc:
        raise InvalidInputError(
            N_("{path} is not a session key file from `shugu pep session-key`"), path=str(path)
        ) from exc
    try:
        secret = Scalar.from_bytes(kek.open(sealed, purpose=purposes.pep_session(context)))
    except InvalidInputError as exc:
        raise InvalidInputError(
            N_("{path} does not open with this home's key (fetched by another home?)"),
            path=str(path),
        ) from exc
    if secret * G != public:
        raise InvalidInputError(
            N_("{path}: the secret key does not match its public key"), path=str(path)
        )
    return secret
