"""Identifiers inside free text: a 备注 column is graded by what its text holds, and `make_redact`
replaces each identifier the scanner finds there (placeholder or keyed pseudonym)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from shugu.errors import InvalidInputError
from shugu.privacy.detect import find_in_text
from shugu.privacy.grading import ColumnGrade, Grade, load_catalogue
from shugu.privacy.hierarchy import HierarchyRegistry
from shugu.privacy.ingest import open_source
from shugu.privacy.keys import PseudonymKey
from shugu.privacy.labels import Label
from shugu.privacy.profile import parse_profile
from shugu.privacy.scan import scan_source
from shugu.privacy.transforms import (
    make_mask,
    make_pseudonymize,
    make_redact,
    pseudonym,
    redactable_labels,
)

_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def resident_id(body: str) -> str:
    """A GB 11643 number: 17 digits and the ISO 7064 MOD 11-2 check character."""
    total = sum(int(c) * w for c, w in zip(body, _WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


def notes(count: int) -> list[str]:
    out = []
    for i in range(count):
        rid = resident_id(f"1101051{960 + i % 40}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}")
        out.append(
            f"身份证号{rid}已核验，联系电话13{8 + i % 2}{i:08d}，请回电"
            if i % 2 == 0
            else "客户来电询问物流进度，已告知预计周三送达。"
        )
    return out


KEY = PseudonymKey(bytes(range(32)))
REGISTRY = HierarchyRegistry.builtin()


# -- grading by what the text holds --------------------------------------------------------------


def test_a_notes_column_holding_ids_is_graded_sensitive(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    rows = [f"K{i:04d},{note}" for i, note in enumerate(notes(60))]
    path.write_text("客户编号,备注\n" + "\n".join(rows) + "\n", encoding="utf-8")
    with open_source(path) as source:
        report = scan_source(source)
    by_name = {c.verdict.name: c for c in report.columns}
    column = by_name["备注"]
    assert column.verdict.label is None  # its own label stays as it is
    assert column.verdict.labels_in_text == {Label.CN_RESIDENT_ID: 30, Label.CN_MOBILE: 30}
    assert (column.grade.personal, column.grade.sensitive, column.grade.level) == (True, True, 4)
    assert column.grade.reasons == ("labels_in_text: cn_mobile, cn_resident_id",)
    assert column.to_json()["grade_reasons"] == ["labels_in_text: cn_mobile, cn_resident_id"]
    assert by_name["客户编号"].grade.level == 1
    assert report.dataset.level == 4
    assert report.dataset.grade is Grade.GENERAL


def test_text_grade_takes_the_most_sensitive_label_and_never_lowers() -> None:
    default = load_catalogue("default")
    mobile_only = ColumnGrade.of(None, default, {Label.CN_MOBILE: 3})
    assert (mobile_only.personal, mobile_only.sensitive, mobile_only.level) == (True, False, 3)
    assert ColumnGrade.of(None, default, {}) == ColumnGrade.of(None, default)
    assert ColumnGrade.of(None, default, {Label.CN_MOBILE: 0}).reasons == ()
    own = ColumnGrade.of(Label.CN_RESIDENT_ID, default, {Label.EMAIL: 5})
    assert own == ColumnGrade.of(Label.CN_RESIDENT_ID, default)  # nothing raised, no reason
    finance = load_catalogue("finance")
    assert ColumnGrade.of(None, finance, {Label.BANK_CARD: 1}).level == 4
    escalated = default.grade([ColumnGrade.of(None, default, {Label.CN_RESIDENT_ID: 1})], 10**6)
    assert escalated.grade is Grade.IMPORTANT


# -- make_redact ---------------------------------------------------------------------------------


def test_redact_replaces_every_identifier_in_mixed_text() -> None:
    rid = resident_id("11010519491231002")
    frame = pl.DataFrame(
        {
            "备注": [
                f"身份证号{rid}已核验，联系电话13800138000，请回电",
                "两个号码：13800138000、13912345678，邮箱 li.na@example.cn",
                "按时复诊，无异常",
                None,
                "",
                "卡号6222 0212 3456 7890 128 已挂失",
            ]
        }
    )
    out = make_redact("备注").apply(frame)["备注"].to_list()
    assert out[0] == "身份证号[身份证号]已核验，联系电话[手机号]，请回电"
    assert out[1] == "两个号码：[手机号]、[手机号]，邮箱 [电子邮箱]"
    assert out[2:5] == ["按时复诊，无异常", None, ""]
    assert find_in_text(frame["备注"][5:6]) == {Label.BANK_CARD: 1}  # a Luhn-valid UnionPay card
    assert out[5] == "卡号[银行卡号] 已挂失"
    assert find_in_text(pl.Series(out)) == {}


def test_redact_only_the_chosen_labels_and_keeps_other_columns() -> None:
    frame = pl.DataFrame(
        {"id": [1, 2], "备注": ["电话13800138000，邮箱a@example.cn", "编号12345，未见号码"]}
    )
    out = make_redact("备注", labels=["email"]).apply(frame)
    assert out["备注"].to_list() == ["电话13800138000，邮箱[电子邮箱]", "编号12345，未见号码"]
    assert out["id"].to_list() == [1, 2]


def test_full_width_identifiers_are_redacted_too() -> None:
    text = "电话：１３８００１３８０００，请回电"
    assert find_in_text(pl.Series([text])) == {Label.CN_MOBILE: 1}
    out = make_redact("n").apply(pl.DataFrame({"n": [text]}))["n"][0]
    assert out == "电话：[手机号]，请回电"


def test_pseudonym_mode_gives_make_pseudonymize_s_pseudonym() -> None:
    rid = resident_id("44030519900307123")
    frame = pl.DataFrame({"n": [f"证件{rid}，电话 13800138000。"]})
    out = make_redact("n", mode="pseudonym", key=KEY).apply(frame)["n"][0]
    plain = make_pseudonymize("v", key=KEY).apply(pl.DataFrame({"v": [rid, "13800138000"]}))
    rid_p, mobile_p = plain["v"].to_list()
    assert out == f"证件{rid_p}，电话 {mobile_p}。"
    assert rid_p == pseudonym(rid, KEY)
    short = make_redact("n", mode="pseudonym", key=KEY, length=16).apply(frame)["n"][0]
    assert short == f"证件{rid_p[:16]}，电话 {mobile_p[:16]}。"


def test_redact_chains_and_streams_over_batches() -> None:
    values = notes(40)
    frame = pl.DataFrame({"备注": values, "手机": ["13800138000"] * 40})
    chain = make_redact("备注") >> make_mask("手机", keep_last=4)
    whole = chain.apply(frame)
    batches = pl.concat([chain.apply(frame.slice(i, 7)) for i in range(0, 40, 7)])
    assert whole.equals(batches)
    assert find_in_text(whole["备注"]) == {}
    assert whole["手机"][0] == "*******8000"


def test_redact_refuses_bad_arguments_before_reading_data() -> None:
    with pytest.raises(InvalidInputError, match="person_name"):
        make_redact("n", labels=["person_name"])
    with pytest.raises(InvalidInputError, match="no_such_label"):
        make_redact("n", labels=["no_such_label"])
    with pytest.raises(InvalidInputError, match="at least one label"):
        make_redact("n", labels=[])
    with pytest.raises(InvalidInputError, match="mode"):
        make_redact("n", mode="shred")
    with pytest.raises(InvalidInputError, match="pseudonym key"):
        make_redact("n", mode="pseudonym")
    step = make_redact("n")
    with pytest.raises(InvalidInputError, match="redact cannot apply to column n of type Int64"):
        step.output_schema({"n": pl.Int64()})
    with pytest.raises(InvalidInputError, match="lacks"):
        step.output_schema({"m": pl.String()})
    assert step.output_schema({"n": pl.String()})["n"] == pl.String()
    assert set(step.describe()["parameters"]["labels"]) <= {str(lb) for lb in redactable_labels()}


# -- profiles ------------------------------------------------------------------------------------

_REDACT_PROFILE = """
[profile]
name = "notes"
unlisted = "keep"

[[steps]]
column = "备注"
transform = "redact"
{extra}
"""


def test_profile_redact_step_builds_and_checks_before_data() -> None:
    profile = parse_profile(_REDACT_PROFILE.format(extra='labels = ["cn_mobile"]'), format="toml")
    chain = profile.build(REGISTRY, None)
    frame = pl.DataFrame({"备注": ["电话13800138000，邮箱a@example.cn"], "n": [1]})
    assert chain.apply(frame).row(0) == ("电话[手机号]，邮箱a@example.cn", 1)
    with pytest.raises(InvalidInputError, match="of type Int64"):
        chain.output_schema({"备注": pl.Int64(), "n": pl.Int64()})
    pseudonymous = parse_profile(
        '{"profile": {"name": "j"}, "steps": [{"column": "备注", "transform": "redact",'
        ' "mode": "pseudonym", "length": 16}]}',
        format="json",
    )
    with pytest.raises(InvalidInputError, match="redact needs a pseudonym key"):
        pseudonymous.build(REGISTRY, None)
    out = pseudonymous.build(REGISTRY, KEY).apply(frame)
    assert out.row(0) == (
        f"电话{pseudonym('13800138000', KEY, 16)}，邮箱{pseudonym('a@example.cn', KEY, 16)}",
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('labels = ["person_name"]', "redact cannot find label person_name"),
        ('labels = ["nope"]', "label nope"),
        ('mode = "shred"', "field mode is invalid"),
        ("labels = []", "field labels is invalid"),
        ("colour = 1", "unknown field colour"),
    ],
)
def test_profile_redact_step_errors_name_step_and_field(extra: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_profile(_REDACT_PROFILE.format(extra=extra), format="toml")
    assert message in str(info.value)
    assert "step 1" in str(info.value)


def test_text_using_the_nul_marker_is_redacted_exactly() -> None:
    text = "a\x00电话13800138000\x00b"
    out = make_redact("n").apply(pl.DataFrame({"n": [text, "\ue000"]}))["n"].to_list()
    assert out == ["a\x00电话[手机号]\x00b", "\ue000"]
    every = "".join(["\x00", *(chr(c) for c in range(0xE000, 0xE010))])
    with pytest.raises(InvalidInputError, match="marker"):
        make_redact("n").apply(pl.DataFrame({"n": [every]}))
