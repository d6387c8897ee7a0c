"""Protection steps: pseudonyms checked against `cryptography`, masks, codes, shifts, chains."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import unicodedata

import polars as pl
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from hypothesis import given, settings
from hypothesis import strategies as st

from shugu.errors import InvalidInputError
from shugu.privacy.hierarchy import HierarchyRegistry
from shugu.privacy.keys import PseudonymKey
from shugu.privacy.transforms import (
    WHITESPACE,
    Chain,
    make_date_shift,
    make_drop,
    make_generalize,
    make_keep,
    make_mask,
    make_pseudonymize,
    make_suppress,
    make_top_bottom_code,
    pseudonym,
)

KEY_A = PseudonymKey(bytes(range(32)), holder="hospital-a")
KEY_B = PseudonymKey(bytes(range(1, 33)), holder="hospital-b")
REGISTRY = HierarchyRegistry.builtin()


def reference_hmac(key: PseudonymKey, message: str) -> str:
    """HMAC-SHA256 hex by `cryptography`, keyed with the key text's UTF-8 bytes."""
    mac = crypto_hmac.HMAC(key.hmac_key().encode("utf-8"), hashes.SHA256())
    mac.update(message.encode("utf-8"))
    return mac.finalize().hex()


def column(step_output: pl.DataFrame, name: str = "v") -> list[object]:
    return step_output[name].to_list()


# -- pseudonymize --------------------------------------------------------------------------------

NORMALISED = [
    ("110105194912310021", "110105194912310021"),
    ("11010519491231002x", "11010519491231002X"),
    ("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X"),
    ("  Zhang.San@Example.COM\t", "ZHANG.SAN@EXAMPLE.COM"),
    ("\u3000张三\u3000", "张三"),
    ("straße", "STRAßE"),
    ("José ɤ Ωω", "JOSé ɤ Ωω"),
    ("Ｅ１２３４５６７８", "E12345678"),
    ("ﬁle", "FILE"),
]


@pytest.mark.parametrize(("value", "normalised"), NORMALISED)
def test_pseudonyms_are_hmac_sha256_of_the_normalised_value(value: str, normalised: str) -> None:
    out = make_pseudonymize("v", key=KEY_A).apply(pl.DataFrame({"v": [value]}))
    expected = reference_hmac(KEY_A, normalised)[:32]
    assert column(out) == [expected]
    assert pseudonym(value, KEY_A) == expected


@pytest.mark.parametrize("length", [16, 31, 64])
def test_pseudonym_length(length: int) -> None:
    out = make_pseudonymize("v", key=KEY_A, length=length).apply(pl.DataFrame({"v": ["abc"]}))
    assert column(out) == [reference_hmac(KEY_A, "ABC")[:length]]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=12), min_size=1, max_size=8))
def test_vectorised_pseudonyms_match_the_python_rule(values: list[str]) -> None:
    out = make_pseudonymize("v", key=KEY_A).apply(pl.DataFrame({"v": values}))
    assert column(out) == [pseudonym(v, KEY_A) for v in values]


def test_null_and_blank_values_stay_missing() -> None:
    frame = pl.DataFrame({"v": [None, "", " \u3000 ", "x"]})
    assert column(make_pseudonymize("v", key=KEY_A).apply(frame))[:3] == [None, None, None]


def test_integer_and_date_columns_hash_their_text_form() -> None:
    frame = pl.DataFrame({"v": [123, None], "d": [dt.date(2024, 3, 5), None]})
    out = (make_pseudonymize("v", key=KEY_A) >> make_pseudonymize("d", key=KEY_A)).apply(frame)
    assert column(out) == [reference_hmac(KEY_A, "123")[:32], None]
    assert column(out, "d") == [reference_hmac(KEY_A, "2024-03-05")[:32], None]


def test_pseudonyms_differ_between_holders_and_agree_within_one() -> None:
    frame = pl.DataFrame({"v": ["a1", "a2", "a1"]})
    a = column(make_pseudonymize("v", key=KEY_A).apply(frame))
    b = column(make_pseudonymize("v", key=KEY_B).apply(frame))
    assert a[0] == a[2] != a[1]
    assert not set(a) & set(b)


def test_pseudonyms_are_equal_across_runs() -> None:
    code = (
        "import sys, polars as pl;"
        "from shugu.privacy.keys import PseudonymKey;"
        "from shugu.privacy.transforms import make_pseudonymize;"
        "key = PseudonymKey.from_text(sys.argv[1]);"
        "print(make_pseudonymize('v', key=key).apply(pl.DataFrame({'v': ['张三', 'x1']}))"
        "['v'].to_list())"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code, KEY_A.hmac_key()],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "POLARS_MAX_THREADS": "1"},
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert runs == {str([pseudonym("张三", KEY_A), pseudonym("x1", KEY_A)])}


@pytest.mark.parametrize("length", [8, 15, 65, True, 32.0])
def test_pseudonym_length_is_checked_when_built(length: object) -> None:
    with pytest.raises(InvalidInputError) as info:
        make_pseudonymize("v", key=KEY_A, length=length)  # type: ignore[arg-type]
    assert info.value.params["field"] == "length"


def test_pseudonymize_needs_a_key() -> None:
    with pytest.raises(InvalidInputError):
        make_pseudonymize("v", key="secret")  # type: ignore[arg-type]


def test_describe_names_the_key_but_never_its_secret() -> None:
    chain = make_date_shift("d", subject="v", key=KEY_A, max_days=10) >> make_pseudonymize(
        "v", key=KEY_A
    )
    text = repr(chain.describe()) + repr(chain) + str(chain)
    assert KEY_A.hmac_key() not in text
    assert KEY_A.derive("date-shift").hmac_key() not in text
    assert chain.describe()["steps"][1] == {
        "column": "v",
        "transform": "pseudonymize",
        "parameters": {"length": 32, "key_holder": "hospital-a", "key_id": KEY_A.key_id},
    }


def test_whitespace_set_is_unicode_white_space() -> None:
    assert all(c.isspace() for c in WHITESPACE)
    assert "\x1c" not in WHITESPACE  # Python calls it space; Unicode does not
    assert unicodedata.normalize("NFKC", "\u3000") in WHITESPACE


# -- mask ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "first", "last", "expected"),
    [
        ("13800138000", 3, 4, "138****8000"),
        ("张三丰", 1, 0, "张**"),
        ("欧阳娜娜", 1, 1, "欧**娜"),
        ("110105194912310021", 6, 0, "110105************"),
        ("ab", 1, 1, "**"),
        ("abc", 0, 0, "***"),
        ("", 2, 2, ""),
    ],
)
def test_mask_counts_characters(value: str, first: int, last: int, expected: str) -> None:
    out = make_mask("v", keep_first=first, keep_last=last).apply(pl.DataFrame({"v": [value]}))
    assert column(out) == [expected]


def test_mask_with_another_character_and_integers() -> None:
    frame = pl.DataFrame({"v": [13800138000, None]})
    assert column(make_mask("v", keep_last=2, char="＊").apply(frame)) == ["＊" * 9 + "00", None]


@pytest.mark.parametrize(
    "kwargs", [{"char": ""}, {"char": "**"}, {"keep_first": -1}, {"keep_last": "2"}]
)
def test_mask_arguments_are_checked(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        make_mask("v", **kwargs)  # type: ignore[arg-type]


# -- generalize, suppress, top/bottom code -------------------------------------------------------


def test_generalize_step() -> None:
    frame = pl.DataFrame({"age": [34, None, 95]})
    step = make_generalize("age", REGISTRY.get("age"), 2)
    assert column(step.apply(frame), "age") == ["30-39", None, "90+"]
    assert step.output_schema(frame.schema)["age"] == pl.String
    described = step.describe()["parameters"]
    assert described["hierarchy_fingerprint"] == REGISTRY.get("age").fingerprint()
    with pytest.raises(InvalidInputError):
        make_generalize("age", REGISTRY.get("age"), 4)


def test_suppress_all_or_listed_values() -> None:
    frame = pl.DataFrame({"v": ["a", "b", None], "n": [1, 7, 7]})
    assert column(make_suppress("v").apply(frame)) == ["*", "*", None]
    assert column(make_suppress("v", values=["b"], replacement="?").apply(frame)) == [
        "a",
        "?",
        None,
    ]
    assert column(make_suppress("n", values=[7]).apply(frame), "n") == ["1", "*", "*"]
    nulled = make_suppress("n", values=[7], replacement=None).apply(frame)
    assert column(nulled, "n") == [1, None, None]
    assert nulled.schema["n"] == pl.Int64


@pytest.mark.parametrize("values", ["abc", [1.5], [True], [None]], ids=str)
def test_suppress_values_are_checked(values: object) -> None:
    with pytest.raises(InvalidInputError):
        make_suppress("v", values=values)  # type: ignore[arg-type]


def test_suppress_report_counts_values_without_showing_them() -> None:
    described = make_suppress("v", values=["Zhang San", "Li Si"]).describe()
    assert described["parameters"] == {"values": 2, "replacement": "*"}


def test_top_bottom_code_numbers_and_dates() -> None:
    frame = pl.DataFrame(
        {
            "age": [3, 50, 104, None],
            "w": [0.5, 70.0, 300.0, None],
            "dob": [dt.date(1901, 1, 1), dt.date(1980, 5, 5), dt.date(2024, 1, 1), None],
        }
    )
    chain = (
        make_top_bottom_code("age", top=90)
        >> make_top_bottom_code("w", bottom=2, top=250.5)
        >> make_top_bottom_code("dob", bottom=dt.date(1930, 1, 1))
    )
    out = chain.apply(frame)
    assert column(out, "age") == [3, 50, 90, None]
    assert column(out, "w") == [2.0, 70.0, 250.5, None]
    assert column(out, "dob")[0] == dt.date(1930, 1, 1)
    assert out.schema == frame.schema


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"bottom": 5, "top": 1},
        {"bottom": "1"},
        {"top": True},
        {"bottom": 1, "top": dt.date.today()},
    ],
    ids=["none", "inverted", "text", "bool", "mixed"],
)
def test_top_bottom_code_arguments_are_checked(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        make_top_bottom_code("v", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("dtype", "bound"),
    [(pl.Int64(), 2.5), (pl.String(), 3), (pl.Date(), 3), (pl.Int64(), dt.date(2020, 1, 1))],
    ids=["int-vs-fraction", "text", "date-vs-number", "int-vs-date"],
)
def test_top_bottom_code_checks_the_column_type(dtype: pl.DataType, bound: object) -> None:
    step = make_top_bottom_code("v", top=bound)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError) as info:
        step.output_schema({"v": dtype})
    assert info.value.params["column"] == "v"


# -- date shift ----------------------------------------------------------------------------------


def reference_shift(key: PseudonymKey, subject: str, max_days: int) -> int:
    digest = reference_hmac(key.derive("date-shift"), subject)
    return int(digest[:15], 16) % (2 * max_days + 1) - max_days


def test_date_shift_is_fixed_per_subject_and_matches_the_rule() -> None:
    day = dt.date(2024, 3, 5)
    frame = pl.DataFrame(
        {
            "pid": ["p1", "p2", "p1", " p1 ", None, "p3"],
            "visit": [day, day, day + dt.timedelta(days=10), day, day, None],
        }
    )
    out = make_date_shift("visit", subject="pid", key=KEY_A, max_days=30).apply(frame)
    shifted = column(out, "visit")
    s1 = dt.timedelta(days=reference_shift(KEY_A, "P1", 30))
    s2 = dt.timedelta(days=reference_shift(KEY_A, "P2", 30))
    assert shifted == [day + s1, day + s2, day + dt.timedelta(days=10) + s1, day + s1, None, None]


def test_date_shift_stays_within_bounds_and_varies() -> None:
    subjects = [f"s{i}" for i in range(400)]
    frame = pl.DataFrame({"s": subjects, "d": [dt.date(2024, 1, 1)] * 400})
    out = make_date_shift("d", subject="s", key=KEY_A, max_days=7).apply(frame)
    days = [(d - dt.date(2024, 1, 1)).days for d in column(out, "d")]
    assert min(days) == -7
    assert max(days) == 7
    assert len(set(days)) == 15
    other = make_date_shift("d", subject="s", key=KEY_B, max_days=7).apply(frame)
    same = sum(a == b for a, b in zip(column(out, "d"), column(other, "d"), strict=True))
    assert same < 400 * 0.2  # independent keys agree on about 1 in 15


def test_date_shift_reads_text_and_keeps_datetimes() -> None:
    frame = pl.DataFrame(
        {
            "s": ["a", "a"],
            "t": ["2024/03/05", "20240306"],
            "ts": [dt.datetime(2024, 3, 5, 8, 30), dt.datetime(2024, 3, 6, 9, 0)],
        }
    )
    chain = make_date_shift("t", subject="s", key=KEY_A, max_days=5) >> make_date_shift(
        "ts", subject="s", key=KEY_A, max_days=5
    )
    out = chain.apply(frame)
    shift = dt.timedelta(days=reference_shift(KEY_A, "A", 5))
    assert column(out, "t") == [dt.date(2024, 3, 5) + shift, dt.date(2024, 3, 6) + shift]
    assert column(out, "ts")[0] == dt.datetime(2024, 3, 5, 8, 30) + shift
    assert out.schema == chain.output_schema(frame.schema)
    assert out.schema["t"] == pl.Date


@pytest.mark.parametrize("max_days", [0, -1, 36_501, 2.0])
def test_date_shift_max_days_is_checked(max_days: object) -> None:
    with pytest.raises(InvalidInputError):
        make_date_shift("d", subject="s", key=KEY_A, max_days=max_days)  # type: ignore[arg-type]


# -- drop, keep and chains -----------------------------------------------------------------------

FRAME = pl.DataFrame(
    {
        "id": ["a", "b"],
        "name": ["张三", "李四"],
        "age": [31, 47],
        "visit": ["2024-03-05", "2024-04-01"],
        "note": ["x", "y"],
    }
)


def test_drop_and_keep() -> None:
    assert make_drop(["note", "name"]).apply(FRAME).columns == ["id", "age", "visit"]
    assert make_drop("note").apply(FRAME).columns == ["id", "name", "age", "visit"]
    assert make_keep(["visit", "id"]).apply(FRAME).columns == ["id", "visit"]
    with pytest.raises(InvalidInputError):
        make_drop([])
    with pytest.raises(InvalidInputError):
        make_drop(["a", "a"])


def test_a_chain_applies_in_order_and_predicts_its_schema() -> None:
    chain = (
        make_date_shift("visit", subject="id", key=KEY_A, max_days=3)
        >> make_pseudonymize("id", key=KEY_A, length=16)
        >> make_mask("name", keep_first=1)
        >> make_top_bottom_code("age", top=40)
        >> make_generalize("age", REGISTRY.get("age"), 1)
        >> make_drop(["note"])
    )
    assert isinstance(chain, Chain)
    assert len(chain.steps) == 6
    assert chain.columns_in == {"id", "name", "age", "visit", "note"}
    out = chain.apply(FRAME)
    assert out.schema == chain.output_schema(FRAME.schema)
    assert out.row(1) == (
        pseudonym("b", KEY_A, 16),
        "李*",
        "40-44",
        dt.date(2024, 4, 1) + dt.timedelta(days=reference_shift(KEY_A, "B", 3)),
    )


def test_chains_run_lazily_in_the_streaming_engine() -> None:
    chain = make_pseudonymize("id", key=KEY_A) >> make_generalize("age", REGISTRY.get("age"), 2)
    plan = chain.apply_lazy(FRAME.lazy())
    assert plan.collect(engine="streaming").equals(chain.apply(FRAME))


def test_a_missing_column_is_rejected_before_any_data_is_read() -> None:
    chain = make_mask("name") >> make_pseudonymize("patient_id", key=KEY_A)
    with pytest.raises(InvalidInputError) as info:
        chain.output_schema(FRAME.schema)
    assert info.value.params["column"] == "patient_id"
    assert info.value.params["transform"] == "pseudonymize"
    with pytest.raises(InvalidInputError):
        chain.apply_lazy(pl.LazyFrame(schema=FRAME.schema))


def test_a_step_after_a_drop_of_its_column_is_rejected() -> None:
    with pytest.raises(InvalidInputError) as info:
        make_drop(["name"]) >> make_mask("age") >> make_mask("name")
    assert info.value.params == {"step": 3, "column": "name", "earlier": 1}


def test_date_shifts_key_on_the_raw_subject_wherever_they_stand() -> None:
    shift = make_date_shift("visit", subject="id", key=KEY_A, max_days=3)
    late = make_pseudonymize("id", key=KEY_A) >> make_drop("note") >> shift
    early = shift >> make_pseudonymize("id", key=KEY_A) >> make_drop("note")
    assert late.apply(FRAME).equals(early.apply(FRAME))
    assert [s.describe()["transform"] for s in late.steps] == ["date_shift", "pseudonymize", "drop"]
    dropped_subject = make_drop("id") >> shift
    assert dropped_subject.apply(FRAME)["visit"].equals(early.apply(FRAME)["visit"])


def test_a_date_shift_after_a_rewrite_of_its_dates_is_rejected() -> None:
    with pytest.raises(InvalidInputError) as info:
        make_generalize("visit", REGISTRY.get("date"), 1) >> make_date_shift(
            "visit", subject="id", key=KEY_A, max_days=3
        )
    assert info.value.params == {"step": 2, "column": "visit", "earlier": 1}


def test_wrong_dtype_is_reported_with_column_and_type() -> None:
    with pytest.raises(InvalidInputError) as info:
        make_mask("v").output_schema({"v": pl.Float64()})
    assert info.value.params == {"transform": "mask", "column": "v", "dtype": "Float64"}


def test_invalid_values_raise_from_a_chain() -> None:
    chain = make_generalize("visit", REGISTRY.get("date"), 1)
    frame = pl.DataFrame({"visit": ["2024-03-05", "someday"]})
    with pytest.raises(InvalidInputError) as info:
        chain.apply(frame)
    assert info.value.params == {"column": "visit", "value": "someday"}
