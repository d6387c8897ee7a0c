"""Streaming readers and atomic writers: every table the privacy engine reads or writes.

`open_source` reads CSV/TSV, Parquet, JSON lines, spreadsheets (xlsx via calamine) and SQL tables
as a stream of Arrow record batches of `batch_rows` rows, with the schema known before the first
batch. `open_sink` writes Parquet, CSV, TSV or JSON lines through a temporary file that is renamed
over the target only on commit, so a failed job never leaves a partial output behind.

CSV files are read in bounded memory whatever their size: the raw bytes pass through a line-aware
reader that decodes them (UTF-8, UTF-8 with BOM, GBK or GB18030) and hands pyarrow's streaming
parser validated UTF-8 one block at a time, so a line of undecodable bytes is reported with its
exact line number. Encoding and delimiter are sniffed from the first MiB (a file whose first MiB
is ASCII settles its encoding at the first other byte). Every column is parsed as text, then
typed from the first batch:

- int64 when every value is a plain integer (an optional ``-``, no leading zero, at most 15
  digits) and at least one has at most 10 digits: a column of 11-digit phone numbers or longer
  account numbers stays text, as do ``0101`` and 18-digit resident IDs;
- float64 when every value is a plain integer or decimal of at most 15 digits;
- text otherwise. Empty fields are null.

Later batches must fit: an int64 column takes plain integers of up to 18 digits, a float64 column
anything Arrow parses as a number (``1e5`` and ``nan`` included).

Bad rows are never dropped silently. Line numbers are physical lines of the file (1 = the header;
blank lines and line breaks inside quoted fields counted; quoting is assumed to follow RFC 4180):

- ``bad_bytes``: a line the encoding cannot decode;
- ``ragged_row``: a row with more or fewer fields than the header (JSON lines: a field the first
  rows did not have);
- ``type_conflict``: a later value that does not fit the type inferred from the first batch;
- ``malformed_row``: a JSON line that is not a JSON object.

With `OnBadRow.REJECT` the first one raises `InputFileError` (file, line, column, reason); with
`OnBadRow.QUARANTINE` each bad row is written to a JSON-lines side file
(``<source>.quarantine.jsonl`` by default, mode 0600 since it holds raw personal data; records in
the order found) and reading goes on. Errors that make the whole file unusable (an empty file, a
broken header, an unknown encoding, a row longer than 1 MiB) always raise.

>>> OnBadRow("quarantine") is OnBadRow.QUARANTINE
True
"""

from shugu.privacy.ingest._common import (
    InputFileError,
    OnBadRow,
    Problem,
    SourceFormat,
    SourceInfo,
)
from shugu.privacy.ingest.sink import Sink, open_sink
from shugu.privacy.ingest.source import Source, open_source

__all__ = [
    "InputFileError",
    "OnBadRow",
    "Problem",
    "Sink",
    "Source",
    "SourceFormat",
    "SourceInfo",
    "open_sink",
    "open_source",
]
