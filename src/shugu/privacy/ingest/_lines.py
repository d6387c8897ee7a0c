"""Line-aware decoding: encoding sniffing (UTF-8, GBK, GB18030) and `_LineReader`, which cuts a
byte stream into whole lines of validated UTF-8 and reports undecodable lines by number.
"""

from __future__ import annotations

import codecs
import io
import sys
import threading
from bisect import bisect_right
from collections import deque
from collections.abc import Callable
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from shugu.errors import InvalidInputError
from shugu.i18n import N_
from shugu.privacy.ingest._common import _MSG_BAD_BYTES, _MSG_TOO_LONG, InputFileError, _file_error

_BLOCK_BYTES = 1 << 20  # unit of reading; pyarrow's CSV block, so also the longest CSV row
_ENCODINGS = ("utf-8", "utf-8-sig", "gbk", "gb18030")
_CODEC = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "gbk": "gb18030", "gb18030": "gb18030"}


class _LineShift:
    """Lines left out of a numbering (bad lines, blank lines), to map numbers back.

    Keys are ``line - (entries before it)``: the kept line ``n`` is original line ``n`` plus the
    number of keys ``<= n``. Keys below every future query are folded into a count.
    """

    def __init__(self) -> None:
        self._keys: list[int] = []
        self._start = 0
        self._added = 0
        self._folded = 0
        self._lock = threading.Lock()  # pyarrow's read-ahead thread adds, the reader asks

    def add(self, line: int) -> None:
        """Record that original line `line` is left out (lines arrive in increasing order)."""
        with self._lock:
            self._keys.append(line - self._added)
            self._added += 1

    def restore(self, numbers: np.ndarray) -> np.ndarray:
        """The original line numbers of kept lines `numbers`."""
        with self._lock:
            keys = np.asarray(self._keys[self._start :], dtype=np.int64)
            return numbers + self._folded + np.searchsorted(keys, numbers, side="right")

    def fold_below(self, number: int) -> None:
        """Fold the keys at or below `number`: no later query asks about lines before it."""
        with self._lock:
            end = bisect_right(self._keys, number, lo=self._start)
            self._folded += end - self._start
            self._start = end
            if self._start > 4096:
                del self._keys[: self._start]
                self._start = 0


def _valid_utf8(data: bytes) -> bool:
    """Whether `data` is UTF-8, checked by Arrow (about ten times faster than decoding)."""
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    text = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _newlines(data: bytes) -> np.ndarray:
    """Positions of the line feeds in `data`."""
    return np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)


def _decodes(data: bytes, codec: str) -> bool:
    """True when `data` decodes, allowing a character cut off at the end."""
    try:
        codecs.getincrementaldecoder(codec)().decode(data, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _mostly_utf8(data: bytes) -> bool:
    """Clearly UTF-8 text with a few bad bytes (rather than text in a GB encoding)."""
    text = data.decode("utf-8", errors="replace")
    errors = text.count("\ufffd")
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore"))
    return non_ascii - errors >= 4 * errors > 0


def _guess_encoding(data: bytes) -> str | None:
    """utf-8, gbk or gb18030 (the spec's order), None when none fits."""
    if _decodes(data, "utf-8") or _mostly_utf8(data):
        return "utf-8"
    for encoding in ("gbk", "gb18030"):
        if _decodes(data, encoding):
            return encoding
    return None


def _encoding_token(encoding: str) -> str:
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        name = encoding
    name = {"gb2312": "gbk", "cp936": "gbk"}.get(name, name)
    if name not in _ENCODINGS:
        raise InvalidInputError(
            N_("unsupported encoding {encoding}; expected one of {expected}"),
            encoding=encoding,
            expected=", ".join(_ENCODINGS),
        )
    return name


class _LineReader(io.RawIOBase):
    """Cuts a byte stream into complete lines and hands on validated UTF-8.

    A line the encoding rejects goes to `on_bad` (as an `InputFileError` with its physical
    line number) and stays out of the stream; `removed` maps stream lines back to physical
    ones. With `csv=True` it also follows RFC 4180 quoting to record the blank lines outside
    quoted fields, which pyarrow skips without counting, in `blanks`; `quotes` says whether any
    quote was seen (else no field can hold a line break). `read` serves pyarrow.
    """

    def __init__(
        self,
        raw: BinaryIO,
        encoding: str,
        *,
        file: str,
        on_bad: Callable[[InputFileError, bytes], None],
        csv: bool,
        settle: bool = False,
        max_line: int = _BLOCK_BYTES,
    ) -> None:
        super().__init__()
        self.encoding = encoding
        self.removed = _LineShift()
        self.blanks = _LineShift()
        self.quotes = False
        self.bytes_in = 0
        self._raw = raw
        self._file = file
        self._on_bad = on_bad
        self._csv = csv
        self._settle = settle
        self._carry = b""
        self._eof = False
        self._lines_in = 0
        self._lines_out = 0
        self._content = False
        self._in_quote = False
        self._line_start = True
        self._pending: deque[memoryview] = deque()
        self._buffered = 0
        self._max_line = max_line

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        """At most `size` bytes of whole lines, at least half a block unless at the end."""
        size = sys.maxsize if size < 0 else size
        while self._buffered < min(size, _BLOCK_BYTES // 2) and (chunk := self.next_chunk()):
            self._pending.append(memoryview(chunk[1]))
            self._buffered += len(chunk[1])
        parts: list[memoryview] = []
        need = size
        while need and self._pending:
            piece = self._pending.popleft()
            parts.append(piece[:need])
            if len(piece) > need:
                self._pending.appendleft(piece[need:])
            need -= len(parts[-1])
        out = b"".join(parts)
        if len(out) > 1 and out.endswith(b"\r"):
            # pyarrow drops the \n of a quoted \r\n split across two blocks: keep them together
            self._pending.appendleft(memoryview(b"\r"))
            out = out[:-1]
        self._buffered -= len(out)
        return out

    def next_chunk(self) -> tuple[int, bytes] | None:
        """The next run of complete lines as (first stream line, UTF-8 bytes); None at the end."""
        while (data := self._next_lines()) is not None:
            first, newlines = self._lines_in + 1, _newlines(data)
            self._lines_in += len(newlines)
            out = self._decode(data, first)
            if not out:
                continue
            newlines = newlines if out is data else _newlines(out)
            start = self._lines_out + 1
            if self._csv:
                self._scan(out, newlines, start)
            self._lines_out += len(newlines)
            if not self._content:
                self._content = bool(out.strip())
            return start, out
        return None

    def _next_lines(self) -> bytes | None:
        while not self._eof:
            block = self._raw.read(_BLOCK_BYTES)
            self.bytes_in += len(block)
            if not block:
                self._eof = True
                data, self._carry = self._carry, b""
                return data or None
            cut = block.rfind(b"\n") + 1
            if cut == 0:
                self._carry += block
                if len(self._carry) > self._max_line:
                    raise _file_error(
                        _MSG_TOO_LONG,
                        file=self._file,
                        line=self._lines_in + 1,
                        reason="row_too_large",
                        detail=f"line longer than {self._max_line} bytes",
                        limit=self._max_line,
                    )
                continue
            data = self._carry + block[:cut] if self._carry else block[:cut]
            self._carry = block[cut:]
            return data
        return None

    def _decode(self, data: bytes, first: int) -> bytes:
        """`data` as UTF-8, without its bad lines (reported)."""
        if self._settle and not data.isascii():
            self._settle = False
            self.encoding = _guess_encoding(data) or "utf-8"
        codec = _CODEC[self.encoding]
        if codec == "utf-8" and (data.isascii() or _valid_utf8(data)):
            return data
        view, pieces, pos, line = memoryview(data), [], 0, first
        while pos < len(data):
            try:
                text = str(view[pos:], codec)
            except UnicodeDecodeError as exc:
                bad = pos + exc.start
                start = data.rfind(b"\n", pos, bad) + 1 or pos
                end = data.find(b"\n", bad) + 1 or len(data)
                if start > pos:
                    pieces.append(self._utf8(view[pos:start], codec))
                line += data.count(b"\n", pos, start)
                self._bad_line(line, data[start:end], bad - start, pieces)
                line, pos = line + 1, end
                continue
            pieces.append(data[pos:] if codec == "utf-8" else text.encode("utf-8"))
            break
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    @staticmethod
    def _utf8(view: memoryview, codec: str) -> bytes:
        return bytes(view) if codec == "utf-8" else str(view, codec).encode("utf-8")

    def _bad_line(self, line: int, raw: bytes, offset: int, before: list[bytes]) -> None:
        hex_bytes = raw[offset : offset + 4].hex(" ")
        error = _file_error(
            _MSG_BAD_BYTES,
            file=self._file,
            line=line,
            reason="bad_bytes",
            detail=f"bytes {hex_bytes} not valid in {self.encoding} at byte {offset} of the line",
            encoding=self.encoding,
            offset=offset,
        )
        if self._csv and not self._content and not any(p.strip() for p in before):
            raise error  # the header: nothing can be read without it
        self.removed.add(line)
        self._on_bad(error, raw)

    def _scan(self, out: bytes, newlines: np.ndarray, first: int) -> None:
        """Record the blank lines of `out` that lie outside quoted fields; follow the quoting."""
        arr = np.frombuffer(out, dtype=np.uint8)
        quoted = self._in_quote or b'"' in out
        quotes = int(np.count_nonzero(arr == 34)) if quoted else 0
        self.quotes = self.quotes or quotes > 0
        if len(newlines):
            previous = np.concatenate(([-1 if self._line_start else -3], newlines[:-1]))
            gap = newlines - previous
            blank = np.flatnonzero((gap == 1) | ((gap == 2) & (arr[newlines - 1] == 13)))
            if len(blank) and quoted:  # keep the blank lines outside quoted fields
                before = np.searchsorted(np.flatnonzero(arr == 34), newlines[blank])
                blank = blank[(before + self._in_quote) % 2 == 0]
            for i in blank:
                self.blanks.add(first + int(i))
        self._in_quote = (quotes + self._in_quote) % 2 == 1
        self._line_start = out.endswith(b"\n") and not self._in_quote
