"""The message catalogue: every user-facing string, in English and 简体中文.

Messages are written in English in the code and marked with `N_` (mark only) or `_` (mark and
translate now). Translations live in the Babel/gettext catalogue
`shugu/locale/zh_CN/LC_MESSAGES/shugu.po`, read once per process. English is the source language,
so an English lookup returns the template itself.

>>> translate("participant {participant} not found", "en")
'participant {participant} not found'
>>> normalize_lang("zh-CN,zh;q=0.9,en;q=0.8")
'zh_CN'
>>> normalize_lang("de")
'en'
"""

from __future__ import annotations

import os
from functools import cache
from importlib import resources
from typing import Final, Literal

from babel.messages.pofile import read_po

Lang = Literal["en", "zh_CN"]
LANGS: Final[tuple[Lang, ...]] = ("en", "zh_CN")
DOMAIN: Final = "shugu"


def N_(message: str) -> str:  # noqa: N802 - the gettext convention
    """Mark `message` for the catalogue without translating it (for templates kept for later)."""
    return message


def _(message: str, lang: str = "en", **params: object) -> str:
    """Translate `message` into `lang` and fill in `params`."""
    text = translate(message, lang)
    return text.format(**params) if params else text


def translate(message: str, lang: str) -> str:
    """Return the `lang` translation of the English `message` (itself if untranslated)."""
    if lang == "en":
        return message
    return _catalogue(normalize_lang(lang)).get(message) or message


@cache
def _catalogue(lang: str) -> dict[str, str]:
    if lang == "en":
        return {}
    po = resources.files("shugu") / "locale" / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=lang, domain=DOMAIN)
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string and not m.fuzzy}


def normalize_lang(value: str | None) -> Lang:
    """Map a locale name or an Accept-Language header to "zh_CN" or "en" (the default)."""
    if not value:
        return "en"
    for part in value.split(","):
        tag = part.split(";")[0].strip().lower().replace("-", "_")
        if tag.startswith("zh"):
            return "zh_CN"
        if tag.startswith("en"):
            return "en"
    return "en"


def lang_from_environment() -> Lang:
    """Choose the language from SHUGU_LANG, then LC_ALL / LC_MESSAGES / LANG."""
    for name in ("SHUGU_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value and value not in ("C", "POSIX") and not value.startswith("C."):
            return normalize_lang(value.split(".")[0])
    return "en"
