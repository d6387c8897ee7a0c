"""The `pep_encrypt` profile step: identifiers leave the holder encrypted for PEP, checked against
the holder module, refused without a key before any row is read."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from shugu.errors import InvalidInputError
from shugu.pep.holder import decrypt_pseudonyms, identifier_point
from shugu.pep.keys import make_global_keys
from shugu.privacy.hierarchy import HierarchyRegistry
from shugu.privacy.profile import parse_profile
from shugu.privacy.transforms import make_pep_encrypt
from tests.cli.test_cli import clean_environment, ok_json, shugu  # noqa: F401 - autouse fixture

PROFILE = """
[profile]
name = "to-pep"
unlisted = "keep"

[[steps]]
column = "patient_id"
transform = "pep_encrypt"
"""


def _frame() -> pl.DataFrame:
    return pl.DataFrame({"patient_id": ["11010519491231002X", " abc ", None], "age": [3, 4, 5]})


def test_the_step_encrypts_each_identifier_to_its_point() -> None:
    keys = make_global_keys()
    step = make_pep_encrypt("patient_id", public_key=keys.public.to_bytes())
    out = step.apply(_frame())
    texts = out["patient_id"].to_list()
    assert texts[2] is None
    assert all(len(t) == 88 for t in texts[:2])
    points = decrypt_pseudonyms(texts, keys.secret)
    assert points[0] == identifier_point("11010519491231002X").hex()
    assert points[1] == identifier_point("ABC").hex()  # normalised like pseudonyms
    again = step.apply(_frame())["patient_id"].to_list()
    assert again[0] != texts[0]  # randomised: the intermediary cannot link the two
    assert out["age"].to_list() == [3, 4, 5]


def test_a_profile_needs_the_public_key_before_reading() -> None:
    profile = parse_profile(PROFILE, format="toml")
    with pytest.raises(InvalidInputError, match="pep_encrypt needs the space's PEP public key"):
        profile.build(HierarchyRegistry.builtin(), None)
    with pytest.raises(InvalidInputError):
        make_pep_encrypt("patient_id", public_key=bytes(31) + b"\x01")


@pytest.mark.usefixtures("clean_environment")
def test_protect_with_pep_encrypt_through_the_cli(tmp_path: Path) -> None:
    keys = make_global_keys()
    data = tmp_path / "visits.csv"
    data.write_text("patient_id,age\nP-001,31\nP-002,45\n", encoding="utf-8")
    profile = tmp_path / "profile.toml"
    profile.write_text(PROFILE, encoding="utf-8")
    out = tmp_path / "out.parquet"
    report = ok_json(
        shugu(
            tmp_path / "none",
            "privacy",
            "protect",
            str(data),
            "--profile",
            str(profile),
            "--out",
            str(out),
            "--pep-public-key",
            keys.public.to_bytes().hex(),
            "--json",
        )
    )
    assert report["steps"][0]["transform"] == "pep_encrypt"
    texts = pl.read_parquet(out)["patient_id"].to_list()
    assert decrypt_pseudonyms(texts, keys.secret) == [
        identifier_point("P-001").hex(),
        identifier_point("P-002").hex(),
    ]
    refused = shugu(
        tmp_path / "none",
        "privacy",
        "protect",
        str(data),
        "--profile",
        str(profile),
        "--out",
        str(tmp_path / "o2.parquet"),
        "--pep-public-key",
        "zz",
    )
    assert refused.exit_code == 3
    assert not (tmp_path / "o2.parquet").exists()
