"""The message catalogue is complete: every marked message has a zh_CN translation with the same
placeholders, and language choice works."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

import shugu
from shugu.i18n import _catalogue, lang_from_environment, normalize_lang, translate

SRC = Path(shugu.__file__).parent
PLACEHOLDER = re.compile(r"\{(\w*)\}")


def _marked_messages() -> set[str]:
    found = extract_from_dir(
        str(SRC), method_map=[("**.py", "python")], keywords={"N_": None, "_": None}
    )
    return {m[2] for m in found if isinstance(m[2], str)}


def test_every_marked_message_is_translated() -> None:
    catalogue = _catalogue("zh_CN")
    missing = sorted(m for m in _marked_messages() if m not in catalogue)
    assert missing == [], "run `make catalogue` and translate: " + "; ".join(missing)


def test_translations_keep_the_placeholders() -> None:
    catalogue = _catalogue("zh_CN")
    for english, chinese in catalogue.items():
        assert sorted(PLACEHOLDER.findall(english)) == sorted(PLACEHOLDER.findall(chinese)), english


def test_there_are_enough_messages_for_the_check_to_mean_something() -> None:
    assert len(_marked_messages()) > 100


def test_unknown_messages_fall_back_to_english() -> None:
    assert translate("no such message", "zh_CN") == "no such message"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("zh_CN.UTF-8", "zh_CN"),
        ("zh-Hans", "zh_CN"),
        ("en_GB", "en"),
        ("fr", "en"),
        (None, "en"),
        ("fr-FR,zh;q=0.5", "zh_CN"),
    ],
)
def test_language_names_are_normalised(value: str | None, expected: str) -> None:
    assert normalize_lang(value) == expected


def test_language_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SHUGU_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    assert lang_from_environment() == "en"
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert lang_from_environment() == "zh_CN"
    monkeypatch.setenv("SHUGU_LANG", "en")
    assert lang_from_environment() == "en"
