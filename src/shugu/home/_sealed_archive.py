"""The encrypted container of a home backup: a passphrase, scrypt, and libsodium's secretstream.

Layout (integers big-endian)::

    offset  bytes  field
    0       8      magic  b"SHUGUBAK"
    8       2      format version (2; version 1 was the plain tar.gz)
    10      1      key derivation: 1 = scrypt
    11      1      log2 of scrypt's N
    12      4      scrypt's r
    16      4      scrypt's p
    20      4      plaintext bytes per chunk
    24      16     salt
    40      24     crypto_secretstream_xchacha20poly1305 header
    64      ...    the chunks: each a secretstream ciphertext of exactly `chunk` plaintext bytes
                   tagged MESSAGE, then one shorter (possibly empty) tagged FINAL

The key is scrypt(passphrase in NFC UTF-8, salt). The 64 header bytes are the associated data of
every chunk, so changing any byte of the header or of a chunk, reordering, dropping or truncating
chunks, or appending bytes fails authentication; secretstream itself numbers the chunks and marks
the last. Nothing here chunks or nonces by hand: libsodium does (through PyNaCl).

>>> import io
>>> params = ScryptParams(log2_n=10)
>>> raw = io.BytesIO()
>>> writer = SealingWriter(raw, "correct horse battery", params)
>>> _ = writer.write(b"hello")
>>> writer.finish()
>>> _ = raw.seek(0)
>>> reader = OpeningReader.open(raw, "correct horse battery", source="demo")
>>> reader.read(100), reader.read(100)
(b'hello', b'')
"""

from __future__ import annotations

import io
import os
import struct
import unicodedata
from dataclasses import dataclass
from typing import BinaryIO

import nacl.bindings as sodium
import nacl.exceptions
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from shugu.errors import InvalidInputError
from shugu.i18n import N_

MAGIC = b"SHUGUBAK"
VERSION = 2
KDF_SCRYPT = 1
HEADER = struct.Struct(">8sHBBIII16s24s")
HEADER_BYTES = HEADER.size
SALT_BYTES = 16
CHUNK_BYTES = 64 * 1024
ABYTES = sodium.crypto_secretstream_xchacha20poly1305_ABYTES
TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
MAX_KDF_MEMORY = 4 * 1024**3
MAX_KDF_P = 16
MAX_CHUNK_BYTES = 16 * 1024**2


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """Cost of scrypt; the default is the current recommendation (N = 2**17, r = 8, p = 1)."""

    log2_n: int = 17
    r: int = 8
    p: int = 1

    @property
    def memory_bytes(self) -> int:
        """The memory one derivation needs (128 · r · N bytes)."""
        return 128 * self.r * (1 << self.log2_n)

    def derive(self, passphrase: str, salt: bytes) -> bytes:
        """The 32-byte secretstream key for `passphrase` and `salt`."""
        kdf = Scrypt(salt=salt, length=32, n=1 << self.log2_n, r=self.r, p=self.p)
        return kdf.derive(unicodedata.normalize("NFC", passphrase).encode("utf-8"))


def is_sealed(lead: bytes) -> bool:
    """Whether a file starting with `lead` is a sealed (encrypted) archive."""
    return lead.startswith(MAGIC)


class SealingWriter:
    """A write-only stream that encrypts what is written into `raw`, chunk by chunk.

    Writes the header at once; keeps at most one chunk of plaintext in memory; `finish` writes the
    last chunk (tagged FINAL). Without `finish` the archive is incomplete and will not open.
    """

    def __init__(
        self, raw: BinaryIO, passphrase: str, params: ScryptParams, chunk: int = CHUNK_BYTES
    ) -> None:
        salt = os.urandom(SALT_BYTES)
        key = params.derive(passphrase, salt)
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        stream_header = sodium.crypto_secretstream_xchacha20poly1305_init_push(self._state, key)
        self._header = HEADER.pack(
            MAGIC,
            VERSION,
            KDF_SCRYPT,
            params.log2_n,
            params.r,
            params.p,
            chunk,
            salt,
            stream_header,
        )
        self._raw = raw
        self._chunk = chunk
        self._pending = bytearray()
        raw.write(self._header)

    def write(self, data: bytes) -> int:
        """Take `data`; encrypt and write every full chunk."""
        self._pending += data
        while len(self._pending) >= self._chunk:
            self._push(bytes(self._pending[: self._chunk]), TAG_MESSAGE)
            del self._pending[: self._chunk]
        return len(data)

    def flush(self) -> None:
        """Nothing to do: only whole chunks are written before `finish`."""

    def finish(self) -> None:
        """Encrypt and write what is left as the last chunk."""
        self._push(bytes(self._pending), TAG_FINAL)
        self._pending.clear()

    def _push(self, message: bytes, tag: int) -> None:
        sealed = sodium.crypto_secretstream_xchacha20poly1305_push(
            self._state, message, self._header, tag
        )
        self._raw.write(sealed)


class OpeningReader:
    """A read-only stream of the plaintext of a sealed archive, checked chunk by chunk.

    `read` returns at most one chunk's worth, raises `InvalidInputError` as soon as a chunk fails
    authentication, and returns `b""` only after the FINAL chunk was verified and nothing follows.
    """

    def __init__(self, raw: BinaryIO, header: bytes, key: bytes, chunk: int, source: str) -> None:
        self._raw = raw
        self._header = header
        self._chunk = chunk
        self._source = source
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        sodium.crypto_secretstream_xchacha20poly1305_init_pull(self._state, header[40:], key)
        self._buffer = b""
        self._offset = 0
        self._index = 0
        self._done = False

    @classmethod
    def open(cls, raw: BinaryIO, passphrase: str, *, source: str) -> OpeningReader:
        """Read and check the header of `raw`, derive the key, and return the reader.

        Raises:
            InvalidInputError: not a sealed archive, an unsupported version, or implausible
                key-derivation parameters.
        """
        header = raw.read(HEADER_BYTES)
        params, chunk, salt = _parse_header(header, source)
        return cls(raw, header, params.derive(passphrase, salt), chunk, source)

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes of plaintext (one chunk at most); `b""` at the verified end."""
        if self._offset == len(self._buffer):
            if self._done:
                return b""
            self._buffer, self._offset = self._next_chunk(), 0
        limit = len(self._buffer) if size < 0 else self._offset + size
        piece = self._buffer[self._offset : limit]
        self._offset += len(piece)
        return piece

    def seek(self, offset: int, /) -> int:
        """Not supported: a sealed archive is read forward only."""
        raise io.UnsupportedOperation("a sealed archive is read forward only")

    def _next_chunk(self) -> bytes:
        block = self._raw.read(self._chunk + ABYTES)
        if not block:
            raise InvalidInputError(
                N_("{path} is truncated: the encrypted stream ends before its last chunk"),
                path=self._source,
            )
        try:
            message, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(
                self._state, block, self._header
            )
        except nacl.exceptions.CryptoError as exc:
            raise self._failure() from exc
        self._index += 1
        if tag == TAG_FINAL:
            self._done = True
            if self._raw.read(1):
                raise self._failure()
        elif tag != TAG_MESSAGE or len(message) != self._chunk:
            raise self._failure()
        return message

    def _failure(self) -> InvalidInputError:
        if self._index == 0:
            return InvalidInputError(
                N_("{path} cannot be opened: wrong passphrase, or the archive was changed"),
                path=self._source,
            )
        return InvalidInputError(
            N_("{path} is damaged or was changed (chunk {chunk} does not authenticate)"),
            path=self._source,
            chunk=self._index + 1,
        )


def _parse_header(header: bytes, source: str) -> tuple[ScryptParams, int, bytes]:
    if len(header) < HEADER_BYTES or not is_sealed(header):
        raise InvalidInputError(N_("{path} is truncated: its header is incomplete"), path=source)
    _, version, kdf, log2_n, r, p, chunk, salt, _ = HEADER.unpack(header)
    if version != VERSION or kdf != KDF_SCRYPT:
        raise InvalidInputError(
            N_("{path} is an encrypted backup of an unsupported format (version {version})"),
            path=source,
            version=version,
        )
    params = ScryptParams(log2_n=log2_n, r=r, p=p)
    plausible = 1 <= log2_n < 64 and r >= 1 and 1 <= p <= MAX_KDF_P
    if not plausible or params.memory_bytes > MAX_KDF_MEMORY or not 0 < chunk <= MAX_CHUNK_BYTES:
        raise InvalidInputError(
            N_(
                "{path} asks for implausible key-derivation parameters; it was not written by shugu"
            ),
            path=source,
        )
    return params, chunk, salt
