"""Protection profiles: loading, validation errors naming step and field, building chains."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from shugu.errors import InvalidInputError, NotFoundError
from shugu.privacy.hierarchy import HierarchyRegistry
from shugu.privacy.keys import PseudonymKey
from shugu.privacy.profile import Profile, load_profile, parse_profile
from shugu.privacy.transforms import pseudonym

KEY = PseudonymKey(bytes(range(32)), holder="clinic-a")
REGISTRY = HierarchyRegistry.builtin()

EXAMPLE = """
[profile]
name = "clinic-visits"
unlisted = "drop"

[[steps]]
column = "visit_date"
transform = "date_shift"
subject = "patient_id"
max_days = 30

[[steps]]
column = "patient_id"
transform = "pseudonymize"
length = 32

[[steps]]
column = "age"
transform = "generalize"
hierarchy = "age"
level = 1

[[steps]]
column = "phone"
transform = "mask"
keep_first = 3
keep_last = 4

[[steps]]
column = "birth_date"
transform = "top_bottom_code"
bottom = 1930-01-01

[[steps]]
column = "diagnosis"
transform = "suppress"
values = ["B20", "F20"]

[[steps]]
column = "region"
transform = "keep"
"""

DATA = pl.DataFrame(
    {
        "patient_id": ["P001", "P002"],
        "age": [34, 91],
        "phone": ["13800138000", "13900139000"],
        "birth_date": [dt.date(1925, 5, 1), dt.date(1990, 1, 2)],
        "visit_date": ["2024-03-05", "2024/03/06"],
        "diagnosis": ["J45", "F20"],
        "region": ["110105", "440305"],
        "doctor": ["Dr. Wang", "Dr. Li"],
    }
)


def invalid(text: str, format: str = "toml") -> InvalidInputError:
    with pytest.raises(InvalidInputError) as info:
        parse_profile(text, format=format, source="p.toml")  # type: ignore[arg-type]
    return info.value


def test_the_example_loads_and_describes_itself(tmp_path: Path) -> None:
    path = tmp_path / "clinic.toml"
    path.write_text(EXAMPLE, encoding="utf-8")
    profile = load_profile(path)
    assert (profile.name, profile.unlisted) == ("clinic-visits", "drop")
    described = profile.describe()
    assert described["steps"][0] == {
        "step": 1,
        "column": "visit_date",
        "transform": "date_shift",
        "subject": "patient_id",
        "max_days": 30,
    }
    assert described["steps"][4]["bottom"] == "1930-01-01"
    assert described["steps"][5]["values"] == 2  # how many, never which
    assert "B20" not in json.dumps(described)
    assert profile.columns() == [
        "visit_date",
        "patient_id",
        "age",
        "phone",
        "birth_date",
        "diagnosis",
        "region",
    ]


def test_json_and_toml_profiles_are_equal(tmp_path: Path) -> None:
    from_toml = parse_profile(EXAMPLE, format="toml")
    document = from_toml.model_dump(mode="json", exclude_none=True)
    path = tmp_path / "clinic.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    assert load_profile(path) == from_toml


def test_build_and_apply_the_example() -> None:
    profile = parse_profile(EXAMPLE, format="toml")
    profile.check_columns(DATA.columns)
    chain = profile.build(REGISTRY, KEY)
    out = chain.apply(DATA)
    assert out.columns == [c for c in DATA.columns if c != "doctor"]  # unlisted dropped
    assert out.schema == profile.output_schema(DATA.schema, REGISTRY)
    assert out["patient_id"].to_list() == [pseudonym("P001", KEY), pseudonym("P002", KEY)]
    assert out["age"].to_list() == ["30-34", "90+"]
    assert out["phone"].to_list() == ["138****8000", "139****9000"]
    assert out["birth_date"].to_list() == [dt.date(1930, 1, 1), dt.date(1990, 1, 2)]
    assert out["diagnosis"].to_list() == ["J45", "*"]
    assert out["region"].to_list() == ["110105", "440305"]
    assert out.schema["visit_date"] == pl.Date


def test_unlisted_keep_passes_other_columns_through() -> None:
    keep = parse_profile(EXAMPLE.replace('unlisted = "drop"', 'unlisted = "keep"'), format="toml")
    assert keep.build(REGISTRY, KEY).apply(DATA).columns == DATA.columns


def test_unlisted_defaults_to_drop() -> None:
    profile = parse_profile(EXAMPLE.replace('unlisted = "drop"\n', ""), format="toml")
    assert profile.unlisted == "drop"


def test_a_dropped_column_is_not_kept() -> None:
    text = EXAMPLE + '[[steps]]\ncolumn = "doctor"\ntransform = "drop"\n'
    out = parse_profile(text, format="toml").build(REGISTRY, KEY).apply(DATA)
    assert "doctor" not in out.columns


def test_missing_columns_are_rejected_before_reading(tmp_path: Path) -> None:
    profile = parse_profile(EXAMPLE, format="toml")
    with pytest.raises(InvalidInputError) as info:
        profile.check_columns([c for c in DATA.columns if c != "age"])
    assert info.value.params["step"] == 3
    assert info.value.params["column"] == "age"
    assert info.value.params["profile"] == "clinic-visits"
    with pytest.raises(InvalidInputError) as info:
        profile.check_columns([c for c in DATA.columns if c != "patient_id"])
    assert (info.value.params["step"], info.value.params["column"]) == (1, "patient_id")


@pytest.mark.parametrize(
    ("old", "new", "step", "field"),
    [
        ('transform = "keep"', 'transform = "kep"', 7, None),
        ("level = 1", 'level = "1"', 3, "level"),
        ("level = 1", "lvl = 1", 3, "lvl"),
        ("length = 32", "length = 8", 2, "length"),
        ("max_days = 30", "", 1, "max_days"),
        ('subject = "patient_id"', "subject = 7", 1, "subject"),
        ("keep_first = 3", "keep_first = true", 4, "keep_first"),
        ('values = ["B20", "F20"]', 'values = "B20"', 6, "values"),
        ('transform = "generalize"', "", 3, "transform"),
        ('column = "age"', "", 3, "column"),
        ("bottom = 1930-01-01", "", 5, None),
    ],
    ids=[
        "unknown-transform",
        "level-type",
        "unknown-field",
        "length-range",
        "missing-max-days",
        "subject-type",
        "bool-for-int",
        "values-type",
        "missing-transform",
        "missing-column",
        "no-bound",
    ],
)
def test_step_errors_name_step_column_and_field(
    old: str, new: str, step: int, field: str | None
) -> None:
    error = invalid(EXAMPLE.replace(old, new))
    assert error.params["profile"] == "clinic-visits"
    assert error.params["step"] == step
    if field is not None:
        assert error.params["field"] == field
    assert f"step {step}" in str(error)


def test_unknown_transform_lists_the_known_ones() -> None:
    error = invalid(EXAMPLE.replace('transform = "keep"', 'transform = "hide"'))
    assert error.params["transform"] == "hide"
    assert "pseudonymize" in error.params["allowed"]
    assert error.params["column"] == "region"


@pytest.mark.parametrize(
    ("text", "params"),
    [
        ("[profile]\nname = 1\n", {"field": "profile.name"}),
        ('[profile]\nname = "x"\nunlisted = "hide"\n', {"field": "profile.unlisted"}),
        ("[[steps]]\ncolumn = 'a'\ntransform = 'drop'\n", {"field": "profile"}),
        ('[profile]\nname = "x"\n[extra]\n', {"field": "extra"}),
    ],
    ids=["name-type", "unlisted", "no-header", "extra-table"],
)
def test_header_errors_name_the_field(text: str, params: dict[str, Any]) -> None:
    assert params.items() <= invalid(text).params.items()


def test_a_step_that_is_not_a_table() -> None:
    error = invalid('{"profile": {"name": "j"}, "steps": ["x"]}', format="json")
    assert error.params == {"profile": "j", "step": 1}


def test_a_document_that_is_not_a_table() -> None:
    assert invalid("[1, 2]", format="json").params == {"profile": "p.toml"}


@pytest.mark.parametrize(
    ("extra", "step", "params"),
    [
        ('[[steps]]\ncolumn = "age"\ntransform = "drop"\n'
         '[[steps]]\ncolumn = "age"\ntransform = "mask"\n', 9, {"earlier": 8}),
        ('[[steps]]\ncolumn = "region"\ntransform = "mask"\n', 8, {"earlier": 7}),
        ('[[steps]]\ncolumn = "age"\ntransform = "date_shift"\nsubject = "x"\n'
         "max_days = 3\n", 8, {"earlier": 3}),
    ],
    ids=["after-drop", "keep-not-alone", "shift-after-column"],
)  # fmt: skip
def test_impossible_orders_are_rejected(extra: str, step: int, params: dict[str, Any]) -> None:
    error = invalid(EXAMPLE + extra)
    assert error.params["step"] == step
    assert params.items() <= error.params.items()


def test_a_date_shift_after_its_subject_is_pseudonymised_uses_the_raw_subject() -> None:
    moved = EXAMPLE.replace(
        '[[steps]]\ncolumn = "visit_date"\ntransform = "date_shift"\nsubject = "patient_id"\n'
        "max_days = 30\n",
        "",
    ) + ('[[steps]]\ncolumn = "visit_date"\ntransform = "date_shift"\n'
         'subject = "patient_id"\nmax_days = 30\n')  # fmt: skip
    assert moved != EXAMPLE
    late = parse_profile(moved, format="toml").build(REGISTRY, KEY).apply(DATA)
    early = parse_profile(EXAMPLE, format="toml").build(REGISTRY, KEY).apply(DATA)
    assert late.equals(early)


def test_top_bottom_code_dates_as_json_text() -> None:
    text = json.dumps(
        {
            "profile": {"name": "j"},
            "steps": [{"column": "d", "transform": "top_bottom_code", "top": "2020-12-31"}],
        }
    )
    spec = parse_profile(text, format="json").steps[0]
    assert spec.top == dt.date(2020, 12, 31)  # type: ignore[union-attr]


def test_build_without_a_key_names_the_step() -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_profile(EXAMPLE, format="toml").build(REGISTRY, None)
    assert info.value.params["step"] == 1
    assert info.value.params["transform"] == "date_shift"


def test_build_without_a_key_is_fine_without_keyed_steps() -> None:
    text = '[profile]\nname = "n"\n[[steps]]\ncolumn = "age"\ntransform = "mask"\n'
    chain = parse_profile(text, format="toml").build(REGISTRY, None)
    assert chain.apply(DATA).columns == ["age"]


@pytest.mark.parametrize(
    ("old", "new", "params"),
    [
        ('hierarchy = "age"', 'hierarchy = "agee"', {"hierarchy": "agee"}),
        ("level = 1", "level = 4", {"level": 4, "top": 3}),
    ],
    ids=["unknown-hierarchy", "level-range"],
)
def test_build_checks_hierarchies(old: str, new: str, params: dict[str, Any]) -> None:
    profile = parse_profile(EXAMPLE.replace(old, new), format="toml")
    with pytest.raises(InvalidInputError) as info:
        profile.build(REGISTRY, KEY)
    assert info.value.params["step"] == 3
    assert params.items() <= info.value.params.items()


def test_build_with_a_folder_registry(tmp_path: Path) -> None:
    (tmp_path / "hospital.csv").write_text("H1;east;*\nH2;west;*\n", encoding="utf-8")
    registry = HierarchyRegistry.from_folder(tmp_path)
    text = (
        '[profile]\nname = "n"\nunlisted = "keep"\n'
        '[[steps]]\ncolumn = "h"\ntransform = "generalize"\nhierarchy = "hospital"\nlevel = 1\n'
    )
    out = (
        parse_profile(text, format="toml")
        .build(registry, None)
        .apply(pl.DataFrame({"h": ["H2", "H1"]}))
    )
    assert out["h"].to_list() == ["west", "east"]


def test_profiles_are_values() -> None:
    one = parse_profile(EXAMPLE, format="toml")
    assert one == parse_profile(EXAMPLE, format="toml")
    assert isinstance(one, Profile)


# -- files ---------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        load_profile(tmp_path / "nope.toml")


def test_unknown_suffix(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("x")
    with pytest.raises(InvalidInputError) as info:
        load_profile(path)
    assert info.value.params == {"file": "p.yaml"}


def test_bad_toml_names_the_file_and_position(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('[profile]\nname = "x"\nlevel = \n')
    with pytest.raises(InvalidInputError) as info:
        load_profile(path)
    assert info.value.params["file"] == "p.toml"
    assert "line 3" in info.value.params["detail"]


def test_bad_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"profile": {"name": "x"},\n "steps": [,]}')
    with pytest.raises(InvalidInputError) as info:
        load_profile(path)
    assert (info.value.params["line"], info.value.params["col"]) == (2, 12)


def test_non_utf8_profile(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_bytes('[profile]\nname = "诊所"\n'.encode("gbk"))
    with pytest.raises(InvalidInputError):
        load_profile(path)


def test_utf8_bom_and_chinese_names(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    text = (
        '\ufeff[profile]\nname = "门诊"\n'
        '[[steps]]\ncolumn = "姓名"\ntransform = "mask"\nkeep_first = 1\n'
    )
    path.write_text(text, encoding="utf-8")
    profile = load_profile(path)
    out = profile.build(REGISTRY, None).apply(pl.DataFrame({"姓名": ["张三丰"]}))
    assert out["姓名"].to_list() == ["张**"]
