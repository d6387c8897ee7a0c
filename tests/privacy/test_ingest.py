"""Streaming readers and atomic writers: formats, encodings, bad rows with exact lines, sinks."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import pickle
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xlsxwriter
from hypothesis import given, settings
from hypothesis import strategies as st

from shugu.errors import ConflictError, InvalidInputError, NotFoundError
from shugu.privacy import ingest
from shugu.privacy.ingest import (
    InputFileError,
    OnBadRow,
    Problem,
    Source,
    SourceFormat,
    open_sink,
    open_source,
)

Q = OnBadRow.QUARANTINE
ROWS = [
    ("张伟", "110105194912310021", "13800138000", "0101", "34", "1.5"),
    ("欧阳明", "11010519491231002X", "13912345678", "0102", "7", "-2.25"),
    ("王芳", "440301199001011234", "13700001111", "0103", "", "3"),
]
HEADER = ("name", "resident_id", "mobile", "code", "age", "amount")


def csv_text(rows: list[tuple[str, ...]] = ROWS, delimiter: str = ",") -> str:
    return "\n".join(delimiter.join(row) for row in [HEADER, *rows]) + "\n"


def read_all(source: Source) -> pa.Table:
    with source:
        return pa.Table.from_batches(list(source.batches()), source.schema)


def quarantine_records(path: Path) -> list[dict[str, object]]:
    text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


# ------------------------------------------------------------------------------ CSV: types


def test_csv_columns_are_typed_and_identifiers_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(csv_text(), encoding="utf-8")
    with open_source(path) as source:
        assert source.schema == pa.schema(
            [
                ("name", pa.string()),
                ("resident_id", pa.string()),
                ("mobile", pa.string()),  # 11-digit numbers only: identifiers
                ("code", pa.string()),  # leading zeros
                ("age", pa.int64()),
                ("amount", pa.float64()),
            ]
        )
        info = source.info
        table = pa.Table.from_batches(list(source.batches()), source.schema)
        assert source.progress() == (path.stat().st_size, path.stat().st_size)
    assert (info.format, info.encoding, info.delimiter) == (SourceFormat.CSV, "utf-8", ",")
    assert info.columns == HEADER and info.size_bytes == path.stat().st_size
    assert table.column("resident_id").to_pylist()[1] == "11010519491231002X"
    assert table.column("code").to_pylist() == ["0101", "0102", "0103"]
    assert table.column("age").to_pylist() == [34, 7, None]
    assert table.column("amount").to_pylist() == [1.5, -2.25, 3.0]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1", "22", "-3", "0"], pa.int64()),
        (["1", "007"], pa.string()),
        (["+5", "6"], pa.string()),
        (["123456789012345", "1"], pa.int64()),
        (["1234567890123456", "1"], pa.string()),
        (["1.5", "2", "-0.25"], pa.float64()),
        (["1e5", "2.0"], pa.string()),
        (["1234567890123456.5"], pa.string()),
        (["", ""], pa.string()),
    ],
    ids=[
        "ints",
        "leading-zero",
        "plus",
        "15-digits",
        "16-digits",
        "decimals",
        "exponent",
        "long-decimal",
        "all-empty",
    ],
)
def test_csv_type_inference_rules(tmp_path: Path, values: list[str], expected: pa.DataType) -> None:
    path = tmp_path / "v.csv"
    path.write_text("id,v\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values)))
    with open_source(path) as source:
        assert source.schema.field("v").type == expected


# --------------------------------------------------------------------------- CSV: encodings

RARE = "\u4dae"  # 䶮: in GB18030, not in GBK


@pytest.mark.parametrize(
    ("codec", "token", "extra"),
    [
        ("utf-8", "utf-8", ""),
        ("utf-8-sig", "utf-8-sig", ""),
        ("gbk", "gbk", ""),
        ("gb18030", "gb18030", RARE),
    ],
)
def test_csv_encodings_are_sniffed_and_decoded(
    tmp_path: Path, codec: str, token: str, extra: str
) -> None:
    rows = [(name + extra, *rest) for name, *rest in ROWS]
    path = tmp_path / f"{codec}.csv"
    path.write_bytes(csv_text(rows).encode(codec))
    if extra:
        with pytest.raises(UnicodeEncodeError):
            extra.encode("gbk")
    with open_source(path) as source:
        assert source.info.encoding == token
        assert source.schema.names == list(HEADER)  # no BOM left in the first name
        table = pa.Table.from_batches(list(source.batches()), source.schema)
    assert table.column("name").to_pylist() == [row[0] for row in rows]


def test_gbk_after_an_ascii_first_mebibyte_is_still_decoded(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    ascii_rows = "".join(f"{i},name{i}\n" for i in range(120_000))  # > 1 MiB of ASCII
    path.write_bytes(("id,name\n" + ascii_rows + "120000,张伟\n").encode("gbk"))
    with open_source(path) as source:
        table = pa.Table.from_batches(list(source.batches()), source.schema)
        assert source.info.encoding == "gbk"
    assert table.num_rows == 120_001
    assert table.column("name")[-1].as_py() == "张伟"


def test_an_explicit_encoding_is_used(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes(csv_text().encode("gbk"))
    table = read_all(open_source(path, encoding="cp936"))
    assert table.column("name").to_pylist()[0] == "张伟"
    with pytest.raises(InvalidInputError, match="unsupported encoding latin-1"):
        open_source(path, encoding="latin-1")


def test_bytes_of_no_known_encoding_name_their_line(tmp_path: Path) -> None:
    path = tmp_path / "junk.csv"
    path.write_bytes(b"a,b\n1,2\n3,\xff\xfe\xff\n")
    with pytest.raises(InputFileError) as caught:
        open_source(path)
    assert (caught.value.line, caught.value.reason) == (3, "bad_bytes")


# --------------------------------------------------------------------------- CSV: delimiters


@pytest.mark.parametrize(
    ("delimiter", "suffix"),
    [(",", ".csv"), ("\t", ".csv"), ("\t", ".tsv"), (";", ".csv"), ("|", ".txt")],
    ids=["comma", "tab", "tsv-suffix", "semicolon", "pipe"],
)
def test_csv_delimiters_are_sniffed(tmp_path: Path, delimiter: str, suffix: str) -> None:
    rows = [*ROWS, ('"北京市, 朝阳区"', "1", "2", "3", "4", "5")]
    path = tmp_path / f"d{suffix}"
    path.write_text(csv_text(rows, delimiter), encoding="utf-8")
    with open_source(path) as source:
        assert source.info.delimiter == delimiter
        assert source.schema.names == list(HEADER)
        table = pa.Table.from_batches(list(source.batches()), source.schema)
    assert table.column("name").to_pylist()[-1] == "北京市, 朝阳区"


def test_a_bad_delimiter_argument_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text(csv_text())
    with pytest.raises(InvalidInputError, match="delimiter"):
        open_source(path, delimiter=",,")


# ---------------------------------------------------------------------------- CSV: bad rows

MESSY = (
    "id,name,note\n"  # 1
    "1,a,x\n"  # 2
    "\n"  # 3 blank
    '2,b,"two\n'  # 4
    'lines"\n'  # 5
    "3,c\n"  # 6 ragged
    "4,d,y\r\n"  # 7
    "5,e,z,extra\n"  # 8 ragged
    "\n"  # 9 blank
    "6,f,w\n"  # 10
)


def test_a_ragged_row_is_rejected_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "messy.csv"
    path.write_text(MESSY)
    source = open_source(path)
    with pytest.raises(InputFileError) as caught:
        read_all(source)
    error = caught.value
    assert (error.file, error.line, error.column, error.reason) == (
        str(path),
        6,
        None,
        "ragged_row",
    )
    assert str(error) == f"{path}, line 6: 2 fields where the header has 3"
    assert not (tmp_path / "messy.csv.quarantine.jsonl").exists()


def test_ragged_rows_are_quarantined_and_reading_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "messy.csv"
    path.write_text(MESSY)
    source = open_source(path, on_bad_row=Q, batch_rows=2)
    table = read_all(source)
    assert table.column("id").to_pylist() == [1, 2, 4, 6]
    assert table.column("note").to_pylist() == ["x", "two\nlines", "y", "w"]
    assert source.quarantined == 2
    assert [(p.line, p.reason) for p in source.problems] == [(6, "ragged_row"), (8, "ragged_row")]
    side = tmp_path / "messy.csv.quarantine.jsonl"
    assert side.stat().st_mode & 0o777 == 0o600
    records = quarantine_records(side)
    assert [(r["line"], r["raw"]) for r in records] == [(6, "3,c"), (8, "5,e,z,extra")]
    assert records[0]["detail"] == "expected 3 fields, found 2"


def test_ragged_rows_at_the_end_and_in_a_given_side_file(tmp_path: Path) -> None:
    path = tmp_path / "tail.csv"
    path.write_text("a,b\n1,2\n3\n4\n")
    side = tmp_path / "side.jsonl"
    source = open_source(path, on_bad_row=Q, quarantine=side)
    assert read_all(source).num_rows == 1
    assert [r["line"] for r in quarantine_records(side)] == [3, 4]


def test_bad_bytes_in_utf8_are_reported_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "bytes.csv"
    lines = ["id,name"] + [f"{i},张伟{i}" for i in range(1, 40)]
    data = "\n".join(lines).encode() + b"\n"
    data = data.replace("张伟7".encode(), b"\xe5\xbc\xa0\xff7")  # line 8 (id 7)
    path.write_bytes(data)
    with pytest.raises(InputFileError) as caught:
        read_all(open_source(path))
    assert (caught.value.line, caught.value.reason) == (8, "bad_bytes")
    source = open_source(path, on_bad_row=Q)
    assert source.info.encoding == "utf-8"  # mostly UTF-8: not mistaken for GBK
    table = read_all(source)
    assert table.num_rows == 38 and 7 not in table.column("id").to_pylist()
    (record,) = quarantine_records(tmp_path / "bytes.csv.quarantine.jsonl")
    assert record["line"] == 8 and record["reason"] == "bad_bytes"
    assert bytes.fromhex(str(record["raw_hex"])) == b"7,\xe5\xbc\xa0\xff7\n"


def test_bad_bytes_beyond_the_sniffed_sample_keep_exact_lines(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    body = [f"{i},名字{i},{i * 3}" for i in range(1, 100_001)]  # ~2.2 MB
    body[90_000] = body[90_000] + "\udcff"  # a lone 0xff byte on line 90_002
    text = "id,name,n\n" + "\n".join(body) + "\n"
    path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
    source = open_source(path, on_bad_row=Q, batch_rows=10_000)
    table = read_all(source)
    assert table.num_rows == 99_999
    assert [(p.line, p.reason) for p in source.problems] == [(90_002, "bad_bytes")]
    with pytest.raises(InputFileError) as caught:  # found on pyarrow's read-ahead thread
        read_all(open_source(path, batch_rows=10_000))
    assert (caught.value.line, caught.value.reason) == (90_002, "bad_bytes")


def test_bad_bytes_in_the_header_always_raise(tmp_path: Path) -> None:
    path = tmp_path / "head.csv"
    path.write_bytes(b"na\xffme,age\n" + "张伟,3\n".encode() * 50)
    with pytest.raises(InputFileError) as caught:
        open_source(path, on_bad_row=Q, encoding="utf-8")
    assert (caught.value.line, caught.value.reason) == (1, "bad_bytes")


FIELDS = st.text(alphabet='ab ,"\n\r张', max_size=5)
ENDINGS = st.sampled_from(["\n", "\r\n"])
RECORDS = st.lists(
    st.one_of(
        st.tuples(st.just("row"), st.lists(FIELDS, min_size=3, max_size=3), ENDINGS),
        st.tuples(
            st.just("ragged"),
            st.lists(FIELDS, min_size=1, max_size=5).filter(lambda fields: len(fields) != 3),
            ENDINGS,
        ),
        st.tuples(st.just("blank"), st.just([]), ENDINGS),
        st.tuples(st.just("bad_bytes"), st.just([]), ENDINGS),
    ),
    max_size=40,
)


def encode_records(
    records: list[tuple[str, list[str], str]],
) -> tuple[bytes, list[list[str | None]], list[tuple[int, str]]]:
    """A CSV file, the rows it holds and its bad lines, computed independently of the reader."""
    data = bytearray(b"a,b,c\n")
    rows: list[list[str | None]] = []
    bad: list[tuple[int, str]] = []
    for kind, fields, ending in records:
        line = data.count(b"\n") + 1
        if kind in ("row", "ragged"):
            text = io.StringIO()  # \r\n as terminator: fields holding \r get quoted too
            csv.writer(text, lineterminator="\r\n").writerow(fields)
            data += (text.getvalue()[:-2] + ending).encode()
        elif kind == "blank":
            data += ending.encode()
        else:
            data += b"x\xff,b,c" + ending.encode()
        if kind == "row":
            rows.append([field or None for field in fields])
        elif kind != "blank":
            bad.append((line, "ragged_row" if kind == "ragged" else kind))
    return bytes(data), rows, bad


@settings(max_examples=80, deadline=None)
@given(records=RECORDS)
def test_bad_rows_get_exact_physical_lines(
    tmp_path_factory: pytest.TempPathFactory, records: list[tuple[str, list[str], str]]
) -> None:
    """Whatever the blank lines, CRLFs, quoted line breaks, bad bytes and block boundaries."""
    data, rows, bad = encode_records(records)
    path = tmp_path_factory.mktemp("lines") / "f.csv"
    path.write_bytes(data)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ingest._lines, "_BLOCK_BYTES", 64)  # many blocks, each a batch of its own
        source = open_source(path, encoding="utf-8", on_bad_row=Q, batch_rows=3)
        table = read_all(source)
    assert [list(row.values()) for row in table.to_pylist()] == rows
    assert sorted((p.line or 0, p.reason) for p in source.problems) == bad


def test_a_quoted_crlf_across_a_block_boundary_survives(tmp_path: Path) -> None:
    """pyarrow loses the \\n of a quoted \\r\\n split between two blocks; the reader avoids it."""
    path = tmp_path / "crlf.csv"
    data = b'a,b,c\n,y,z\n"x' + b"w" * 47 + b'","\r\n",\n'  # a read of 64 bytes ends in \r
    path.write_bytes(data)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ingest._lines, "_BLOCK_BYTES", 64)
        table = read_all(open_source(path))
    assert table.column("b").to_pylist() == ["y", "\r\n"]


def test_a_type_conflict_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "conflict.csv"
    rows = "".join(f"{i},{i}.5,n{i}\n" for i in range(1, 11))
    path.write_text("age,score,name\n" + rows + "11,x,n11\n12,1.5,n12\n" + "0013,2,n13\n")
    with pytest.raises(InputFileError) as caught:
        read_all(open_source(path, batch_rows=5))
    error = caught.value
    assert (error.line, error.column, error.reason) == (12, "score", "type_conflict")
    assert str(error) == f"{path}, line 12, column score: x does not fit the type double"
    source = open_source(path, batch_rows=5, on_bad_row=Q)
    table = read_all(source)
    assert table.column("age").to_pylist() == [*range(1, 11), 12]
    assert [(p.line, p.column) for p in source.problems] == [(12, "score"), (14, "age")]
    records = quarantine_records(tmp_path / "conflict.csv.quarantine.jsonl")
    assert [r["raw"] for r in records] == ["11,x,n11", "0013,2,n13"]


def test_float_columns_take_any_number_later(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("v\n1.5\n2.5\n1e3\nnan\n")
    table = read_all(open_source(path, batch_rows=2))
    assert table.column("v").to_pylist()[:3] == [1.5, 2.5, 1000.0]


def test_duplicate_or_missing_header_names(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("a,b,a\n1,2,3\n")
    with pytest.raises(InputFileError) as caught:
        open_source(path)
    assert (caught.value.column, caught.value.reason) == ("a", "bad_header")
    path.write_text("\n,b,\n1,2,3\n")
    with open_source(path) as source:
        assert source.schema.names == ["column_1", "b", "column_3"]


@pytest.mark.parametrize("content", [b"", b"\n\n"], ids=["empty", "blank-lines"])
def test_an_empty_file_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(InputFileError) as caught:
        open_source(path)
    assert caught.value.reason == "empty"


def test_a_header_only_file_has_columns_and_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("a,b\n")
    with open_source(path) as source:
        assert source.schema.names == ["a", "b"]
        assert list(source.batches()) == []


def test_batches_have_batch_rows_rows_and_can_be_read_once(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text("n\n" + "".join(f"{i}\n" for i in range(1_000)))
    with open_source(path, batch_rows=300) as source:
        sizes = [batch.num_rows for batch in source.batches()]
        with pytest.raises(ConflictError):
            source.batches()
    assert sizes == [300, 300, 300, 100]


def test_input_file_errors_survive_pickling(tmp_path: Path) -> None:
    path = tmp_path / "messy.csv"
    path.write_text(MESSY)
    with pytest.raises(InputFileError) as caught:
        read_all(open_source(path))
    copy = pickle.loads(pickle.dumps(caught.value))
    assert isinstance(copy, InputFileError)
    assert (copy.line, copy.reason, str(copy)) == (6, "ragged_row", str(caught.value))
    assert Problem.from_error(copy).detail == "expected 3 fields, found 2"


def test_a_source_left_open_at_exit_does_not_crash(tmp_path: Path) -> None:
    path = tmp_path / "open.csv"
    path.write_text("n\n" + "".join(f"{i}\n" for i in range(300_000)))
    script = f"""
        from shugu.privacy.ingest import open_source
        source = open_source({str(path)!r}, batch_rows=1000)
        batches = source.batches()
        next(batches)
        print("read")
    """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout.strip()) == (0, "read"), done.stderr


# --------------------------------------------------------------------- other source formats


def test_parquet_is_streamed(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    table = pa.table({"id": list(range(2_500)), "name": [f"n{i}" for i in range(2_500)]})
    pq.write_table(table, path, row_group_size=1_000)
    with open_source(path, batch_rows=1_000) as source:
        assert source.schema == table.schema and source.info.format == SourceFormat.PARQUET
        batches = list(source.batches())
        assert source.progress() == (2_500, 2_500)
    assert [b.num_rows for b in batches] == [1_000, 1_000, 500]
    assert pa.Table.from_batches(batches).equals(table)


def test_a_broken_parquet_file_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(InputFileError) as caught:
        open_source(path)
    assert caught.value.reason == "unreadable"


JSONL = [
    {"id": 1, "name": "张伟", "score": 1.5, "visit": "2024-03-15", "tags": ["a"]},
    {"id": 2, "name": "王芳", "score": 2, "visit": "2024-03-16", "tags": []},
]


def write_jsonl(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_json_lines_are_typed_from_the_first_rows(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    write_jsonl(path, [json.dumps(r, ensure_ascii=False) for r in JSONL] + ["", '{"id": 3}'])
    with open_source(path) as source:
        assert source.schema.field("id").type == pa.int64()
        assert source.schema.field("visit").type == pa.string()  # not a timestamp
        table = pa.Table.from_batches(list(source.batches()), source.schema)
    assert table.column("name").to_pylist() == ["张伟", "王芳", None]
    assert table.column("score").to_pylist() == [1.5, 2.0, None]


def test_a_conflicting_json_type_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    good = [json.dumps({"id": i, "name": f"n{i}"}) for i in range(1, 6)]
    bad = ['{"id": "seven", "name": "n7"}', "[1, 2]", '{"id": 8, "extra": 1}', "{oops"]
    write_jsonl(path, [*good, *good, bad[0], *good, *bad[1:]])
    with pytest.raises(InputFileError) as caught:
        read_all(open_source(path, batch_rows=5))
    assert (caught.value.line, caught.value.column) == (11, "id")
    assert caught.value.reason == "type_conflict"
    source = open_source(path, batch_rows=5, on_bad_row=Q)
    assert read_all(source).num_rows == 15
    got = [(p.line, p.column, p.reason) for p in source.problems]
    assert got == [
        (11, "id", "type_conflict"),
        (17, None, "malformed_row"),
        (18, "extra", "ragged_row"),
        (19, None, "malformed_row"),
    ]


def test_bad_bytes_in_json_lines_name_their_line(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_bytes(b'{"a": "x"}\n{"a": "\xff"}\n{"a": "y"}\n')
    source = open_source(path, on_bad_row=Q)
    assert read_all(source).column("a").to_pylist() == ["x", "y"]
    assert [(p.line, p.reason) for p in source.problems] == [(2, "bad_bytes")]


def write_xlsx(path: Path) -> None:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("visits")
    dates = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, ["name", "mobile", "age", "score", "visited", "code"])
    for i in range(1, 6):
        sheet.write_row(i, 0, [f"n{i}", 13800138000 + i, 30 + i, i + 0.5])
        sheet.write_datetime(i, 4, dt.datetime(2024, 3, i), dates)
        sheet.write_string(i, 5, f"010{i}")
    sheet.write_row(6, 0, ["n6", 13800138006, "unknown", 1.0])
    book.add_worksheet("other").write_row(0, 0, ["x"])
    book.close()


def test_a_spreadsheet_is_read_with_excel_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "visits.xlsx"
    write_xlsx(path)
    source = open_source(path, on_bad_row=Q, batch_rows=5)
    assert source.schema == pa.schema(
        [
            ("name", pa.string()),
            ("mobile", pa.int64()),
            ("age", pa.int64()),
            ("score", pa.float64()),
            ("visited", pa.date32()),
            ("code", pa.string()),
        ]
    )
    table = read_all(source)
    assert table.column("code").to_pylist() == ["0101", "0102", "0103", "0104", "0105"]
    assert table.column("visited")[0].as_py() == dt.date(2024, 3, 1)
    assert [(p.line, p.column, p.reason) for p in source.problems] == [(7, "age", "type_conflict")]
    with open_source(path, sheet="other") as other:
        assert other.schema.names == ["x"]
    with open_source(path, sheet=1) as other:
        assert other.schema.names == ["x"]
    with pytest.raises(NotFoundError, match="visits, other"):
        open_source(path, sheet="missing")


def make_sqlite(path: Path) -> str:
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, score REAL, born DATE, x)"
        )
        rows = [(i, f"名{i}", i / 2, f"2000-01-{i:02d}", i) for i in range(1, 8)]
        db.executemany("INSERT INTO people VALUES (?, ?, ?, ?, ?)", rows)
        db.execute("INSERT INTO people VALUES (8, 'n8', 'high', '2000-01-08', 8)")
    return f"sqlite:///{path}"


def test_a_sql_table_is_streamed_in_key_order(tmp_path: Path) -> None:
    url = make_sqlite(tmp_path / "db.sqlite")
    side = tmp_path / "q.jsonl"
    source = open_source(url, table="people", on_bad_row=Q, quarantine=side, batch_rows=3)
    assert source.info.format == SourceFormat.SQL and source.info.size_bytes is None
    assert source.schema == pa.schema(
        [
            ("id", pa.int64()),
            ("name", pa.string()),
            ("score", pa.float64()),
            ("born", pa.date32()),
            ("x", pa.int64()),  # no declared type: inferred from the values
        ]
    )
    table = read_all(source)
    assert table.column("id").to_pylist() == list(range(1, 8))
    assert table.column("born")[0].as_py() == dt.date(2000, 1, 1)
    assert [(p.line, p.column) for p in source.problems] == [(8, "score")]


def test_sql_sources_check_their_arguments(tmp_path: Path) -> None:
    url = make_sqlite(tmp_path / "db.sqlite")
    with pytest.raises(NotFoundError, match="table nope not found"):
        open_source(url, table="nope")
    with pytest.raises(InvalidInputError, match="table name"):
        open_source(url)
    with pytest.raises(InvalidInputError, match="quarantine file"):
        open_source(url, table="people", on_bad_row=Q)
    with pytest.raises(NotFoundError):
        open_source(f"sqlite:///{tmp_path / 'missing.sqlite'}", table="people")
    assert not (tmp_path / "missing.sqlite").exists()


def test_unknown_extensions_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"unknown file type \.docx"):
        open_source(tmp_path / "report.docx")
    with pytest.raises(NotFoundError, match="not found"):
        open_source(tmp_path / "missing.csv")
    with pytest.raises(InvalidInputError, match="batch_rows"):
        open_source(tmp_path / "missing.csv", batch_rows=0)


# ------------------------------------------------------------------------------------ sinks

SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string())])
BATCH = pa.record_batch([pa.array([1, 2]), pa.array(["张伟", None])], schema=SCHEMA)


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".tsv", ".jsonl"])
def test_a_sink_writes_each_format_back_readably(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"out{suffix}"
    with open_sink(out, SCHEMA) as sink:
        sink.write(BATCH)
        sink.write(pa.Table.from_batches([BATCH]))
    assert sink.rows == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]
    table = read_all(open_source(out))
    assert table.column("id").to_pylist() == [1, 2, 1, 2]
    assert table.column("name").to_pylist() == ["张伟", None, "张伟", None]


def test_a_failed_write_leaves_no_output(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    with pytest.raises(RuntimeError, match="boom"), open_sink(out, SCHEMA) as sink:
        sink.write(BATCH)
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_an_aborted_sink_keeps_the_previous_output(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    out.write_text("old\n")
    sink = open_sink(out, SCHEMA)
    sink.write(BATCH)
    sink.abort()
    sink.abort()
    assert out.read_text() == "old\n" and list(tmp_path.iterdir()) == [out]
    with pytest.raises(ConflictError):
        sink.write(BATCH)


def test_a_sink_casts_compatible_batches_and_refuses_others(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with open_sink(out, SCHEMA) as sink:
        sink.write(BATCH.cast(pa.schema([("id", pa.int32()), ("name", pa.large_string())])))
        with pytest.raises(InvalidInputError, match="does not match"):
            sink.write(pa.record_batch({"other": [1]}))
    assert out.read_text(encoding="utf-8").splitlines()[0] == '{"id":1,"name":"张伟"}'


def test_open_sink_checks_its_target(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="unknown output type"):
        open_sink(tmp_path / "out.xlsx", SCHEMA)
    with pytest.raises(NotFoundError, match="folder"):
        open_sink(tmp_path / "no" / "out.csv", SCHEMA)
    nested = pa.schema([("tags", pa.list_(pa.string()))])
    with pytest.raises(InvalidInputError, match="cannot be written to CSV"):
        open_sink(tmp_path / "out.csv", nested)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------- memory and throughput

MEASURE = """
import resource, sys, time
from shugu.privacy.ingest import open_source
start, rows = time.perf_counter(), 0
with open_source(sys.argv[1]) as source:
    for batch in source.batches():
        rows += batch.num_rows
    size = source.info.size_bytes
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(rows, peak, round(size / seconds / 1e6))
"""


def write_big_csv(path: Path, target_bytes: int) -> int:
    """A CSV of mixed Chinese and ASCII columns of about `target_bytes`; returns its rows."""
    rows_per_block = 100_000
    block_rows = [
        f"{i},张伟{i % 97},1380013{i % 10_000:04d},11010519491231{i % 10_000:04d},{i % 1000}.25,"
        f'"北京市朝阳区建国路{i % 300}号",0{i % 999:03d}\n'
        for i in range(rows_per_block)
    ]
    block = "".join(block_rows).encode()
    with path.open("wb") as handle:
        handle.write(b"id,name,mobile,resident_id,amount,address,code\n")
        blocks = -(-target_bytes // len(block))
        for _ in range(blocks):
            handle.write(block)
    return blocks * rows_per_block


@pytest.mark.slow
def test_a_csv_larger_than_the_memory_limit_streams(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    # The file is larger than the limit; the limit leaves room for the interpreter, the
    # libraries' allocators (which keep freed pages a while) and the reader's look-ahead, which
    # together peaked between 250 and 590 MB on a loaded 2-core machine.
    rows = write_big_csv(path, 1_100_000_000)
    limit_mb = 1_000
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    got_rows, peak_mb, mb_per_s = (int(v) for v in done.stdout.split())
    print(f"\n{path.stat().st_size / 1e6:.0f} MB CSV: peak RSS {peak_mb} MB, {mb_per_s} MB/s")
    assert got_rows == rows
    assert path.stat().st_size > limit_mb * 1_000_000 > peak_mb * 1_000_000


def test_parquet_output_drops_dictionaries_only_for_mostly_distinct_columns(
    tmp_path: Path,
) -> None:
    rows = 1000
    schema = pa.schema([("id", pa.string()), ("kind", pa.string()), ("amount", pa.float64())])
    batch = pa.record_batch(
        [
            pa.array([f"{i:032x}" for i in range(rows)]),
            pa.array(["a", "b"] * (rows // 2)),
            pa.array([i / 7 for i in range(rows)]),
        ],
        schema=schema,
    )
    out = tmp_path / "out.parquet"
    with open_sink(out, schema) as sink:
        sink.write(batch)
    assert pq.read_table(out).equals(pa.Table.from_batches([batch]))
    group = pq.ParquetFile(out).metadata.row_group(0)
    encodings = {group.column(i).path_in_schema: group.column(i).encodings for i in range(3)}
    assert "DELTA_LENGTH_BYTE_ARRAY" in encodings["id"]
    assert group.column(1).has_dictionary_page and not group.column(2).has_dictionary_page


def test_an_empty_parquet_output_keeps_its_schema(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    with open_sink(out, SCHEMA):
        pass
    assert pq.read_table(out).schema.equals(SCHEMA)
