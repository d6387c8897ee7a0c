"""Validators for person names: Chinese (surname and given-name tables) and Latin-script."""

from __future__ import annotations

from functools import cache

import polars as pl

from shugu.privacy import reference as ref
from shugu.privacy._validators.base import (
    C,
    V,
    _expand,
    _gate,
    _lookup,
    _staged,
    _tables,
)


def _cn_name(t: pl.Series) -> list[pl.Series]:
    """(sure, maybe) for Chinese names: 2-4 Han characters, or transliterations with a dot."""
    tables = _tables()
    name = C("name")
    stage1 = {"name": V.str.replace_all(r"\s+", "")}
    stage2 = {
        "length": name.str.len_chars(),
        "compound": name.str.slice(0, 2).is_in(tables["surname2"]),
        "single": name.str.slice(0, 1).is_in(tables["surname1"]),
        "word": name.is_in(tables["places"]) | name.is_in(tables["cn_stopwords"]),
        "dotted": V.str.contains(_DOTTED_NAME),
    }
    compound = C("compound") & (C("length") >= 3)
    stage3 = {
        "given": pl.when(compound).then(name.str.slice(2)).otherwise(name.str.slice(1)),
        "surname": compound | C("single"),
    }
    stage4 = {
        "size": C("given").str.len_chars(),
        "first": _lookup(C("given").str.slice(0, 1), "char_score", 0, pl.Int32),
        "second": _lookup(C("given").str.slice(1, 1), "char_score", 0, pl.Int32),
    }
    clean = (C("first") >= 0) & (C("second") >= 0) & ~C("word") & (C("length") <= 4)
    stage5 = {
        "candidate": (C("surname") & clean).fill_null(False),
        "scored": ((C("size") == 1) & (C("first") >= 1))
        | ((C("size") == 2) & (C("first") + C("second") >= 1))
        | ((C("size") == 2) & (C("given").str.slice(0, 1) == C("given").str.slice(1, 1))),
    }
    stage6 = {"sure": (C("candidate") & C("scored")).fill_null(False) | C("dotted")}
    maybe = C("candidate") & C("size").is_between(1, 3) & ~C("sure")
    return _staged(t, [stage1, stage2, stage3, stage4, stage5, stage6], C("sure"), maybe)


_DOTTED_NAME = r"^\p{Han}{1,12}(?:[·•・.]\p{Han}{1,12})+$"
_WORD = r"\p{Lu}[\p{L}'’-]*"
_PARTICLE = r"(?:de|da|di|del|della|der|den|van|von|le|la|du|dos|das|bin|ibn|al|y)"
_LATIN_NAME = rf"^{_WORD}(?:\s+(?:{_WORD}|\p{{Lu}}\.?|{_PARTICLE})){{0,2}}\s+{_WORD}$"
_LATIN_COMMA = rf"^({_WORD}),\s*({_WORD})(?:\s+\p{{Lu}}\.?)?$"
_HONORIFIC = (
    r"(?i)^(?:(?:mr|mrs|ms|miss|mx|dr|prof|sir|dame|rev|herr|frau|sig|sig\.ra|dott|sr|sra|mme|mlle"
    r"|m|univ\.\s?prof|dipl\.-ing|ing)\.?\s+)+"
)
_NAME_SUFFIX = (
    r"(?i)(?:,?\s+(?:jr|sr|ii|iii|iv|md|dds|phd|dvm|esq|mba|b\.?\s?sc|m\.?\s?sc|b\.?\s?a|m\.?\s?a"
    r"|b\.?\s?eng|m\.?\s?eng|ll\.?\s?m)\.?)+$"
)
_LATIN_STOP = (
    r"(?i)(?-u:\b)(?:city|town|county|state|province|district|street|st|road|rd|avenue|ave|lane|drive|"
    r"park|lake|beach|valley|hills?|heights|island|bay|port|fort|mount|north|south|east|west|new|"
    r"san|santa|los|las|saint|inc|ltd|llc|plc|gmbh|co|corp|company|group|holdings|bank|university|"
    r"college|school|hospital|clinic|center|centre|hotel|restaurant|store|shop|market|the|and|of|"
    r"for|with|pro|max|plus|mini|ultra|edition|series|model|black|white|red|blue|gold|silver)(?-u:\b)"
)


@cache
def _pinyin_word() -> str:
    syllables = sorted(ref.pinyin_syllables(), key=len, reverse=True)
    return "(?i)^(?:" + "|".join(syllables) + "){1,3}$"


def _latin_name(t: pl.Series) -> list[pl.Series]:
    """(sure, maybe) for Latin-script names."""
    tables = _tables()
    given, family, py_surname = tables["given"], tables["family"], tables["surname_pinyin"]
    core = C("core")
    stage1 = {"core": V.str.replace(_HONORIFIC, "").str.replace(_NAME_SUFFIX, "")}
    stage2 = {
        "shape": core.str.contains(_LATIN_NAME) & ~core.str.contains(_LATIN_STOP),
        "comma": core.str.contains(_LATIN_COMMA),
        "first": core.str.split(" ").list.first(),
        "last": core.str.split(" ").list.last(),
        "lower": core.str.to_lowercase().str.split(" "),
    }
    stage3 = {"first_l": C("lower").list.first(), "last_l": C("lower").list.last()}
    first_l, last_l = C("first_l"), C("last_l")
    known = (
        first_l.is_in(given) | last_l.is_in(family) | (first_l.is_in(family) & last_l.is_in(given))
    )
    pinyin = (first_l.is_in(py_surname) & C("last").str.contains(_pinyin_word())) | (
        last_l.is_in(py_surname) & C("first").str.contains(_pinyin_word())
    )
    comma_given = C("comma") & last_l.is_in(given)  # "Smith, John": the given name is last
    stage4 = {"sure": (C("shape") & (known | pinyin) | comma_given).fill_null(False)}
    maybe = (C("shape") | C("comma")).fill_null(False) & ~C("sure")
    return _staged(t, [stage1, stage2, stage3, stage4], C("sure"), maybe)


def _check_person_name(s: pl.Series) -> tuple[pl.Series, pl.Series]:
    cn_mask, cn = _gate(s, V.str.contains(r"^\p{Han}[\p{Han}\s·•・.]{1,30}$"))
    la_mask, la = _gate(s, V.str.contains(r"^\p{Latin}[\p{Latin}.,'’\s-]{2,60}$"))
    sure, maybe = cn_mask & False, cn_mask & False
    for mask, sub, check in ((cn_mask, cn, _cn_name), (la_mask, la, _latin_name)):
        if not sub.is_empty():
            sub_sure, sub_maybe = check(sub)
            sure, maybe = sure | _expand(mask, sub_sure), maybe | _expand(mask, sub_maybe)
    return sure, maybe
