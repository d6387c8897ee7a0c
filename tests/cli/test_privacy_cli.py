"""`shugu privacy scan|protect|keygen|hierarchies` on real files: the JSON contract, encodings,
bad rows, profiles checked before reading, pseudonyms per holder, nothing half-written."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import Result

from shugu.keys.sealing import KeyEncryptionKey
from shugu.privacy.keys import KeyStore
from shugu.privacy.transforms import pseudonym
from tests.cli.test_cli import clean_environment, ok_json, shugu  # noqa: F401 - autouse fixture

pytestmark = pytest.mark.usefixtures("clean_environment")

HEADER = "客户编号,姓名,手机,证件号,邮箱,备注,金额\n"
ROWS = [
    (
        "C001",
        "张伟",
        "13800138000",
        "11010519491231002X",
        "zhang.wei@example.cn",
        "按时复诊",
        "12.5",
    ),
    ("C002", "李娜", "13912345678", "440305199001011234", "li.na@example.com", "无", "8"),
    (
        "C003",
        "王芳",
        "15000001111",
        "310104198506150017",
        "wang@example.org",
        "电话13800138000",
        "3.25",
    ),
]


def _valid_id(body: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]


def _rows(count: int) -> list[tuple[str, ...]]:
    surnames, given = "王李张刘陈杨黄赵吴周", "伟芳娜敏静丽强磊军洋"
    out = []
    for i in range(count):
        rid = _valid_id(f"110105{1950 + i % 50}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}")
        out.append(
            (
                f"C{i:05d}",
                surnames[i % 10] + given[(i * 7) % 10],
                f"13{8 - i % 2}{i:08d}",
                rid,
                f"user{i}@example.cn",
                "按时复诊" if i % 3 else "情况稳定",
                f"{i % 97}.5",
            )
        )
    return out


def _write(path: Path, rows: list[tuple[str, ...]], encoding: str = "utf-8") -> Path:
    text = HEADER + "".join(",".join(r) + "\n" for r in rows)
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def people(tmp_path: Path) -> Path:
    return _write(tmp_path / "people.csv", _rows(300))


def test_scan_json_is_exactly_one_object_with_the_contract(tmp_path: Path, people: Path) -> None:
    report = ok_json(shugu(tmp_path / "none", "privacy", "scan", str(people), "--json"))
    assert set(report) == {"columns", "dataset"}
    by_name = {c["name"]: c for c in report["columns"]}
    assert [c["name"] for c in report["columns"]] == HEADER.strip().split(",")
    assert by_name["证件号"]["label"] == "cn_resident_id"
    assert by_name["证件号"]["sensitive"] is True
    assert by_name["手机"]["label"] == "cn_mobile"
    assert by_name["邮箱"]["label"] == "email"
    assert by_name["姓名"]["label"] == "person_name"
    assert by_name["客户编号"]["label"] is None
    assert by_name["金额"]["label"] is None
    for column in report["columns"]:
        assert set(column) >= {
            "name",
            "label",
            "confidence",
            "rows_checked",
            "rows_valid",
            "personal",
            "sensitive",
            "labels_in_text",
        }
        assert 0 <= column["confidence"] <= 1
        assert column["rows_checked"] == 300
    dataset = report["dataset"]
    assert dataset["rows"] == 300
    assert dataset["encoding"] == "utf-8"
    assert dataset["grade"] == "general"
    assert dataset["level"] == 4


def test_scan_reads_gbk_and_bom_files(tmp_path: Path) -> None:
    for encoding, token in (("gbk", "gbk"), ("utf-8-sig", "utf-8-sig"), ("gb18030", None)):
        path = _write(tmp_path / f"{encoding}.csv", _rows(50), encoding)
        report = ok_json(shugu(tmp_path / "none", "privacy", "scan", str(path), "--json"))
        assert report["columns"][0]["name"] == "客户编号"
        assert report["columns"][3]["label"] == "cn_resident_id"
        if token:
            assert report["dataset"]["encoding"] == token
        else:  # GBK-compatible text: either name is right
            assert report["dataset"]["encoding"] in {"gbk", "gb18030"}


ARABIC_INDIC_ID = "440305١٩٩٠٠٣071236"  # polars' \d matches ١٩٩٠٠٣; GB 11643 wants ASCII digits


def test_scan_takes_a_resident_id_written_with_arabic_indic_digits(tmp_path: Path) -> None:
    alone = tmp_path / "alone.csv"
    alone.write_text(f"证件号\n{ARABIC_INDIC_ID}\n", encoding="utf-8")
    column = ok_json(shugu(tmp_path / "none", "privacy", "scan", str(alone), "--json"))["columns"][
        0
    ]
    assert (column["label"], column["rows_checked"], column["rows_valid"]) == (None, 1, 0)
    ids = [_valid_id(f"110105{1950 + i}0101{i:03d}") for i in range(9)]
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("证件号\n" + "\n".join([*ids, ARABIC_INDIC_ID]) + "\n", encoding="utf-8")
    column = ok_json(shugu(tmp_path / "none", "privacy", "scan", str(mixed), "--json"))["columns"][
        0
    ]
    assert (column["label"], column["rows_checked"], column["rows_valid"]) == (
        "cn_resident_id",
        10,
        9,
    )


def test_free_text_identifiers_are_counted_not_labelled(tmp_path: Path) -> None:
    rows = [(*r[:5], f"请联系，电话1380013{i:04d}，谢谢", *r[6:]) for i, r in enumerate(_rows(40))]
    path = _write(tmp_path / "notes.csv", rows)
    report = ok_json(shugu(tmp_path / "none", "privacy", "scan", str(path), "--json"))
    notes = report["columns"][5]
    assert notes["label"] is None
    assert notes["labels_in_text"].get("cn_mobile") == 40


def test_scan_of_a_ragged_file_names_the_line_and_exits_3(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    lines = [",".join(r) for r in _rows(10)]
    lines[4] += ",extra"
    path.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    result = shugu(tmp_path / "none", "privacy", "scan", str(path))
    assert result.exit_code == 3
    assert "6" in result.stderr  # the physical line: header is line 1
    assert str(path) in result.stderr or "ragged.csv" in result.stderr


def test_quarantine_sets_bad_rows_aside_and_counts_them(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    lines = [",".join(r) for r in _rows(10)]
    lines[4] += ",extra"
    path.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    side = tmp_path / "bad.jsonl"
    report = ok_json(
        shugu(
            tmp_path / "none",
            "privacy",
            "scan",
            str(path),
            "--on-bad-row",
            "quarantine",
            "--quarantine",
            str(side),
            "--json",
        )
    )
    assert report["dataset"]["rows"] == 9
    assert report["dataset"]["quarantined"] == 1
    record = json.loads(side.read_text(encoding="utf-8").splitlines()[0])
    assert record["line"] == 6
    assert record["reason"] == "ragged_row"


def test_scan_in_chinese(tmp_path: Path, people: Path) -> None:
    result = shugu(
        tmp_path / "none", "--lang", "zh_CN", "privacy", "scan", str(people), env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.stderr
    assert "居民身份证号码" in result.stdout
    assert "一般数据" in result.stdout


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    result = shugu(tmp_path / "none", "privacy", "scan", str(tmp_path / "nope.csv"))
    assert result.exit_code == 4


# -- protect -------------------------------------------------------------------------------------

PROFILE = """
[profile]
name = "clients"
unlisted = "drop"

[[steps]]
column = "证件号"
transform = "pseudonymize"

[[steps]]
column = "手机"
transform = "mask"
keep_first = 3
keep_last = 4

[[steps]]
column = "金额"
transform = "keep"
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    ok_json(shugu(path, "init", "--operator", "exchange", "--json"))
    for holder in ("clinic-a", "clinic-b"):
        ok_json(shugu(path, "privacy", "keygen", holder, "--json"))
    return path


def _run_protect(
    home: Path, source: Path, out: Path, profile: Path, holder: str = "clinic-a", *extra: str
) -> Result:
    return shugu(
        home,
        "privacy",
        "protect",
        str(source),
        "--profile",
        str(profile),
        "--out",
        str(out),
        "--key-from",
        holder,
        *extra,
    )


def _protect(home: Path, source: Path, out: Path, profile: Path, holder: str) -> dict:  # type: ignore[type-arg]
    return ok_json(_run_protect(home, source, out, profile, holder, "--json"))


def test_protect_writes_the_protected_file_and_a_report(home: Path, tmp_path: Path) -> None:
    source = _write(tmp_path / "clients.csv", ROWS)
    profile = tmp_path / "profile.toml"
    profile.write_text(PROFILE, encoding="utf-8")
    out = tmp_path / "out.parquet"
    report = _protect(home, source, out, profile, "clinic-a")
    table = pl.read_parquet(out)
    assert table.columns == ["手机", "证件号", "金额"]  # the source order
    assert table["手机"].to_list()[0] == "138****8000"
    assert report["rows_in"] == report["rows_out"] == 3
    assert report["columns_out"] == ["手机", "证件号", "金额"]
    assert [s["transform"] for s in report["steps"]] == ["pseudonymize", "mask", "keep"]
    # the pseudonym is HMAC-SHA256 under the holder's stored key
    kek = KeyEncryptionKey.from_text((home / "secret.key").read_text(encoding="ascii"))
    key = KeyStore(home / "keys", kek).get("clinic-a")
    assert table["证件号"].to_list()[0] == pseudonym("11010519491231002X", key)
    assert report["key_holder"] == "clinic-a"
    assert key.hmac_key() not in json.dumps(report)


def test_pseudonyms_are_stable_per_holder_and_differ_between_holders(
    home: Path, tmp_path: Path
) -> None:
    source = _write(tmp_path / "clients.csv", ROWS)
    profile = tmp_path / "profile.toml"
    profile.write_text(PROFILE, encoding="utf-8")
    outs = {}
    for name, holder in (("a1", "clinic-a"), ("a2", "clinic-a"), ("b", "clinic-b")):
        out = tmp_path / f"{name}.csv"
        _protect(home, source, out, profile, holder)
        outs[name] = pl.read_csv(out)["证件号"].to_list()
    assert outs["a1"] == outs["a2"]
    assert not set(outs["a1"]) & set(outs["b"])


def test_profile_naming_a_missing_column_is_refused_before_reading(
    home: Path, tmp_path: Path
) -> None:
    source = _write(tmp_path / "clients.csv", ROWS)
    profile = tmp_path / "profile.toml"
    profile.write_text(PROFILE.replace("手机", "电话"), encoding="utf-8")
    out = tmp_path / "out.parquet"
    result = _run_protect(home, source, out, profile)
    assert result.exit_code == 3
    assert "电话" in result.stderr
    assert not out.exists()
    assert list(tmp_path.glob("out*")) == []


def test_a_bad_row_midway_leaves_no_output(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "clients.csv"
    lines = [",".join(r) for r in _rows(200_000)]
    lines[150_000] += ",extra"
    path.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    profile = tmp_path / "profile.toml"
    profile.write_text(PROFILE, encoding="utf-8")
    out = tmp_path / "out.parquet"
    result = _run_protect(home, path, out, profile)
    assert result.exit_code == 3, result.stdout
    assert "150002" in result.stderr
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clients.csv", "home", "profile.toml"]


def test_pseudonymising_without_a_key_is_a_clear_error(home: Path, tmp_path: Path) -> None:
    source = _write(tmp_path / "clients.csv", ROWS)
    profile = tmp_path / "profile.toml"
    profile.write_text(PROFILE, encoding="utf-8")
    result = shugu(
        home,
        "privacy",
        "protect",
        str(source),
        "--profile",
        str(profile),
        "--out",
        str(tmp_path / "o.csv"),
    )
    assert result.exit_code == 3
    assert "key" in result.stderr
    unknown = _run_protect(home, source, tmp_path / "o.csv", profile, "nobody")
    assert unknown.exit_code == 4
    assert not (tmp_path / "o.csv").exists()


def test_keygen_refuses_to_replace_a_key(home: Path) -> None:
    again = shugu(home, "privacy", "keygen", "clinic-a")
    assert again.exit_code == 6


def test_hierarchies_lists_the_builtins_with_a_fingerprint(home: Path, tmp_path: Path) -> None:
    listing = ok_json(shugu(home, "privacy", "hierarchies", "--json"))
    assert {"age", "date", "region", "icd10"} <= {h["name"] for h in listing["hierarchies"]}
    assert len(listing["fingerprint"]) == 64
    again = ok_json(shugu(tmp_path / "other", "privacy", "hierarchies", "--json"))
    assert again["fingerprint"] == listing["fingerprint"]


def test_the_cli_starts_without_loading_the_data_or_database_libraries() -> None:
    import subprocess
    import sys

    probe = (
        "import sys, shugu.cli.app; "
        "print(sorted(m for m in ('polars', 'pyarrow', 'sqlalchemy', 'fastapi', 'alembic') "
        "if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"


def test_the_cli_default_sample_is_the_scan_default() -> None:
    from shugu.cli import privacy as cli_privacy
    from shugu.privacy import scan

    assert cli_privacy.DEFAULT_SAMPLE_ROWS == scan.DEFAULT_SAMPLE_ROWS


def test_the_cli_choices_are_the_ingest_enums() -> None:
    from shugu.cli import privacy as cli_privacy
    from shugu.privacy import ingest

    assert [f.value for f in cli_privacy.InputFormat] == [f.value for f in ingest.SourceFormat]
    assert [p.value for p in cli_privacy.BadRowPolicy] == [p.value for p in ingest.OnBadRow]


def test_protect_with_a_redact_step_leaves_no_identifier_in_the_notes(
    home: Path, tmp_path: Path
) -> None:
    rows = []
    for i, r in enumerate(_rows(30)):
        note = f"身份证号{r[3]}已核验，联系电话{r[2]}，请回电" if i % 2 else "情况稳定，按时复诊"
        rows.append((*r[:5], note, *r[6:]))
    source = _write(tmp_path / "notes.csv", rows)
    before = ok_json(shugu(home, "privacy", "scan", str(source), "--json"))["columns"][5]
    assert (before["label"], before["sensitive"], before["level"]) == (None, True, 4)
    assert before["labels_in_text"] == {"cn_mobile": 15, "cn_resident_id": 15}
    assert before["grade_reasons"] == ["labels_in_text: cn_mobile, cn_resident_id"]
    profile = tmp_path / "redact.toml"
    profile.write_text(
        '[profile]\nname = "notes"\nunlisted = "keep"\n\n'
        '[[steps]]\ncolumn = "备注"\ntransform = "redact"\n',
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    _protect(home, source, out, profile, "clinic-a")
    notes = pl.read_csv(out)["备注"].to_list()
    assert notes[1] == "身份证号[身份证号]已核验，联系电话[手机号]，请回电"
    assert notes[0] == "情况稳定，按时复诊"
    after = ok_json(shugu(home, "privacy", "scan", str(out), "--json"))["columns"][5]
    assert after["labels_in_text"] == {}
    assert (after["personal"], after["level"], after["grade_reasons"]) == (False, 1, [])


def test_protect_refuses_a_redact_step_with_an_unknown_label(home: Path, tmp_path: Path) -> None:
    source = _write(tmp_path / "clients.csv", ROWS)
    profile = tmp_path / "bad.toml"
    profile.write_text(
        '[profile]\nname = "bad"\n\n[[steps]]\ncolumn = "备注"\ntransform = "redact"\n'
        'labels = ["cn_mobile", "tattoo"]\n',
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    result = _run_protect(home, source, out, profile)
    assert result.exit_code == 3
    assert "tattoo" in result.output
    assert not out.exists()
