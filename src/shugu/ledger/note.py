"""C2SP signed notes, verifier keys, checkpoints and witness cosignatures.

- signed-note: a UTF-8 text ending in a newline, a blank line, then lines
  ``— <key name> base64(4-byte key id || signature)``;
- verifier keys (vkeys): ``<name>+<8 hex key id>+base64(type byte || public key)``; the key id is
  ``SHA-256(name || 0x0A || type || public key)[:4]``; type 0x01 signs the note text with
  Ed25519, type 0x04 is a timestamped witness cosignature (tlog-cosignature v1) over
  ``cosignature/v1\\ntime <t>\\n`` followed by the note text;
- tlog-checkpoint: the note text ``<origin>\\n<size>\\n<base64 root>\\n[extension lines]``.

Verification follows the signed-note rules: signatures by unknown keys are ignored, a failing
signature by a known key rejects the note, and at least one known key must verify.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shugu.errors import InvalidInputError, VerificationError
from shugu.i18n import N_

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
DASH = "\u2014"
MAX_SIGNATURES = 100
_B64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
_DECIMAL = re.compile(r"^(0|[1-9][0-9]{0,19})$")


class InvalidNoteError(InvalidInputError):
    """A note, key or checkpoint is malformed."""

    code = "invalid_note"


class NoteNotVerifiedError(VerificationError):
    """A well-formed note is not validly signed by the given keys."""

    code = "note_not_verified"


def _b64(text: str) -> bytes:
    if not _B64.match(text) or len(text) % 4:
        raise binascii.Error("not standard base64")
    return base64.b64decode(text, validate=True)


def key_id(name: str, kind: int, public_key: bytes) -> bytes:
    """The 4-byte key id of a (name, signature type, public key)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public_key).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name) or not name.isprintable():
        raise InvalidNoteError(N_("invalid key name {name}"), name=name)


@dataclass(frozen=True, slots=True)
class Verifier:
    """A verifier key: name, signature type and Ed25519 public key."""

    name: str
    kind: int
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        """The key id signatures by this key carry."""
        return key_id(self.name, self.kind, self.public_key)

    def encode(self) -> str:
        """The vkey text form."""
        material = base64.b64encode(bytes([self.kind]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{material}"

    @classmethod
    def parse(cls, text: str) -> Verifier:
        """Parse a vkey ``<name>+<hex id>+<base64 key>``.

        Raises:
            InvalidNoteError: malformed, unsupported type, or an id that does not match the key.
        """
        parts = text.strip().split("+", 2)
        if len(parts) != 3 or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
            raise InvalidNoteError(N_("malformed verifier key {key}"), key=text.strip())
        name = parts[0]
        _check_name(name)
        try:
            material = _b64(parts[2])
        except (binascii.Error, ValueError) as exc:
            raise InvalidNoteError(N_("malformed verifier key {key}"), key=text.strip()) from exc
        if len(material) != 33 or material[0] not in (ED25519, COSIGNATURE_V1):
            raise InvalidNoteError(N_("unsupported verifier key type in {key}"), key=text.strip())
        verifier = cls(name, material[0], material[1:])
        if verifier.key_id.hex() != parts[1]:
            raise InvalidNoteError(
                N_("the key id of verifier key {key} does not match its key"), key=text.strip()
            )
        return verifier

    def verify(self, text: str, blob: bytes) -> bool:
        """Whether `blob` (after the key id) is a valid signature of the note `text`."""
        public = Ed25519PublicKey.from_public_bytes(self.public_key)
        if self.kind == COSIGNATURE_V1:
            if len(blob) != 8 + 64:
                return False
            (timestamp,) = struct.unpack(">Q", blob[:8])
            message = cosignature_message(text, timestamp)
            signature = blob[8:]
        else:
            if len(blob) != 64:
                return False
            message, signature = text.encode(), blob
        try:
            public.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True, slots=True)
class Signer:
    """An Ed25519 note signer (type 0x01) or witness cosigner (type 0x04)."""

    name: str
    key: Ed25519PrivateKey
    kind: int = ED25519

    @property
    def verifier(self) -> Verifier:
        """The matching verifier key."""
        return Verifier(self.name, self.kind, self.key.public_key().public_bytes_raw())

    def signature_line(self, text: str, *, timestamp: int = 0) -> str:
        """The ``— name base64`` line signing `text`."""
        if self.kind == COSIGNATURE_V1:
            body = struct.pack(">Q", timestamp) + self.key.sign(
                cosignature_message(text, timestamp)
            )
        else:
            body = self.key.sign(text.encode())
        blob = self.verifier.key_id + body
        return f"{DASH} {self.name} {base64.b64encode(blob).decode()}\n"


def cosignature_message(text: str, timestamp: int) -> bytes:
    """The message a tlog-cosignature/v1 signs."""
    return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode()


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature line of a note."""

    name: str
    key_id: bytes
    blob: bytes
    line: str


@dataclass(frozen=True, slots=True)
class Note:
    """A parsed signed note."""

    text: str
    signatures: tuple[Signature, ...]

    def encode(self) -> str:
        """The note in its text form."""
        return self.text + "\n" + "".join(s.line for s in self.signatures)


def parse_note(raw: str | bytes) -> Note:
    """Split a signed note into its text and signature lines.

    Raises:
        InvalidNoteError: not UTF-8, control characters, no signature block, malformed lines.
    """
    try:
        data = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise InvalidNoteError(N_("the note is not valid UTF-8")) from exc
    if any(ord(c) < 0x20 and c != "\n" for c in data):
        raise InvalidNoteError(N_("the note contains control characters"))
    split = data.rfind("\n\n")
    if split < 0 or not data.endswith("\n"):
        raise InvalidNoteError(N_("the note has no signature block"))
    text, block = data[: split + 1], data[split + 2 :]
    lines = block.splitlines(keepends=True)
    if not lines or len(lines) > MAX_SIGNATURES:
        raise InvalidNoteError(N_("the note has no signatures or too many"))
    return Note(text, tuple(_parse_signature(line) for line in lines))


def _parse_signature(line: str) -> Signature:
    match = re.fullmatch(f"{DASH} (\\S+) (\\S+)\n", line)
    if match is None:
        raise InvalidNoteError(N_("malformed signature line {line}"), line=line.rstrip("\n"))
    try:
        blob = _b64(match.group(2))
    except (binascii.Error, ValueError) as exc:
        raise InvalidNoteError(
            N_("malformed signature line {line}"), line=line.rstrip("\n")
        ) from exc
    if len(blob) < 5:
        raise InvalidNoteError(N_("malformed signature line {line}"), line=line.rstrip("\n"))
    _check_name(match.group(1))
    return Signature(match.group(1), blob[:4], blob[4:], line)


@dataclass(frozen=True, slots=True)
class NoteCheck:
    """The outcome of checking a note against verifier keys."""

    note: Note
    verified: tuple[str, ...]
    unknown: tuple[str, ...] = field(default=())


def verify_note(raw: str | bytes, verifiers: list[Verifier]) -> NoteCheck:
    """Verify a note: every signature by a known key must verify, and at least one must exist.

    As Go's ``note.Open``, a known key may sign a note only once; a second signature line by it
    makes the note malformed, whether or not both verify.

    Raises:
        InvalidNoteError: the note is malformed, or signed twice by one known key.
        NoteNotVerifiedError: a known key's signature fails, or there is none by a known key.
    """
    note = parse_note(raw)
    known = {(v.name, v.key_id): v for v in verifiers}
    verified: list[str] = []
    unknown: list[str] = []
    seen: set[tuple[str, bytes]] = set()
    lines_unknown: set[str] = set()
    for signature in note.signatures:
        verifier = known.get((signature.name, signature.key_id))
        if verifier is None:
            if signature.line not in lines_unknown:  # Go drops repeated identical ones too
                lines_unknown.add(signature.line)
                unknown.append(f"{signature.name}+{signature.key_id.hex()}")
            continue
        if (signature.name, signature.key_id) in seen:
            raise InvalidNoteError(
                N_("the note is signed twice by {name}; a known key may sign only once"),
                name=signature.name,
            )
        seen.add((signature.name, signature.key_id))
        if verifier.verify(note.text, signature.blob):
            verified.append(verifier.encode())
        else:
            raise NoteNotVerifiedError(
                N_("the signature by {name} does not verify"), name=signature.name
            )
    if not verified:
        raise NoteNotVerifiedError(N_("no signature by a given key is on the note"))
    return NoteCheck(note, tuple(verified), tuple(unknown))


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tlog-checkpoint body: origin, tree size, root hash, extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        """The note text of the checkpoint."""
        lines = [
            self.origin,
            str(self.size),
            base64.b64encode(self.root).decode(),
            *self.extensions,
        ]
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Read a checkpoint from its note text.

        Raises:
            InvalidNoteError: the text is not a checkpoint.
        """
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "" or not lines[0] or any(not x for x in lines[3:-1]):
            raise InvalidNoteError(N_("the note is not a checkpoint"))
        if not _DECIMAL.match(lines[1]):
            raise InvalidNoteError(N_("the checkpoint size {size} is not a number"), size=lines[1])
        try:
            root = _b64(lines[2])
        except (binascii.Error, ValueError) as exc:
            raise InvalidNoteError(N_("the checkpoint root hash is not base64")) from exc
        if len(root) != 32:
            raise InvalidNoteError(N_("the checkpoint root hash is not 32 bytes"))
        return cls(lines[0], int(lines[1]), root, tuple(lines[3:-1]))
