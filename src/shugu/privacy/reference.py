"""Reference tables the privacy engine reads: facts from public standards, kept as data files.

Every file under `reference/` starts with `#` comment lines naming its source; the loaders skip
them. Tables are loaded once per process and cached.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = [
    "Division",
    "Icd10Chapter",
    "cn_area_codes",
    "cn_given_name_chars",
    "cn_mobile_prefixes",
    "cn_non_name_chars",
    "cn_place_names",
    "cn_surnames",
    "divisions",
    "e164_calling_codes",
    "iban_lengths",
    "icd10_chapter_of",
    "icd10_chapters",
    "latin_family_names",
    "latin_given_names",
    "pinyin_syllables",
    "read_table",
    "street_suffixes",
]


def read_table(name: str) -> list[dict[str, str]]:
    """Rows of `reference/<name>` (a CSV file with a header after its `#` source lines)."""
    text = resources.files(__package__).joinpath("reference", name).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


@dataclass(frozen=True, slots=True)
class Icd10Chapter:
    """One ICD-10 chapter: its roman numeral, its first and last 3-character block, its titles."""

    chapter: str
    first: str
    last: str
    title_en: str
    title_zh: str

    def contains(self, code: str) -> bool:
        """True when the code's 3-character category lies in this chapter."""
        return self.first <= code[:3].upper() <= self.last


@cache
def icd10_chapters() -> tuple[Icd10Chapter, ...]:
    """The 22 chapters of ICD-10 (WHO 2019) in order."""
    return tuple(Icd10Chapter(**row) for row in read_table("icd10_chapters.csv"))


def icd10_chapter_of(code: str) -> Icd10Chapter | None:
    """The chapter a code such as ``J45.9`` belongs to, or None when it lies in no chapter."""
    for chapter in icd10_chapters():
        if chapter.contains(code):
            return chapter
    return None


@dataclass(frozen=True, slots=True)
class Division:
    """One GB/T 2260 administrative division: 6-digit code, Chinese name, level, still in use."""

    code: str
    name: str
    level: str  # "province", "prefecture" or "county"
    current: bool


@cache
def divisions() -> tuple[Division, ...]:
    """Every GB/T 2260 division code, current and withdrawn (withdrawn codes live on in old IDs)."""
    return tuple(
        Division(r["code"], r["name"], r["level"], r["current"] == "1")
        for r in read_table("gbt2260_divisions.csv")
    )


# Suffixes stripped from division names to get the short forms people write ("杭州" for 杭州市).
_PLACE_SUFFIXES = ("特别行政区", "自治区", "自治州", "自治县", "自治旗", "地区", "特区", "新区")
_PLACE_SUFFIX_CHARS = "省市区县盟旗州"


@cache
def cn_place_names() -> frozenset[str]:
    """Place names: every division as written (杭州市), provinces and prefectures also short.

    Short forms (杭州 for 杭州市) are how places are usually written without their unit; county
    short forms are left out because many of them are also common personal names (周宁, 和平).
    """
    names: set[str] = set()
    for division in divisions():
        name = division.name
        names.add(name)
        if division.level == "county":
            continue
        suffix = next((s for s in _PLACE_SUFFIXES if name.endswith(s)), None)
        if suffix is not None:
            names.add(name[: -len(suffix)])
        elif name[-1] in _PLACE_SUFFIX_CHARS and len(name) >= 3:
            names.add(name[:-1])
    return frozenset(n for n in names if len(n) >= 2 and n not in ("市辖区", "县", "市区"))


@cache
def cn_surnames() -> dict[str, str]:
    """Chinese surnames (single and compound) mapped to their Hanyu Pinyin."""
    return {r["surname"]: r["pinyin"] for r in read_table("cn_surnames.csv")}


@cache
def cn_given_name_chars() -> dict[str, int]:
    """Characters common in given names, weighted 2 (most frequent) or 1 (common)."""
    return {r["char"]: int(r["weight"]) for r in read_table("cn_given_name_chars.csv")}


@cache
def cn_non_name_chars() -> frozenset[str]:
    """Characters that mark a word as a place, an organisation, goods or grammar, not a name."""
    return frozenset(r["char"] for r in read_table("cn_non_name_chars.csv"))


@cache
def cn_mobile_prefixes() -> frozenset[str]:
    """MIIT mobile number prefixes: 3 digits (a whole 号段) or 4 digits (a block)."""
    return frozenset(r["prefix"] for r in read_table("cn_mobile_prefixes.csv"))


@cache
def cn_area_codes() -> frozenset[str]:
    """Fixed-line long-distance area codes with their leading 0 ("010", "0755")."""
    return frozenset(r["area_code"] for r in read_table("cn_area_codes.csv"))


@cache
def iban_lengths() -> dict[str, int]:
    """IBAN length by ISO 3166 country code (SWIFT IBAN registry)."""
    return {r["country"]: int(r["length"]) for r in read_table("iban_lengths.csv")}


@cache
def e164_calling_codes() -> frozenset[str]:
    """ITU-T E.164 country calling codes ("1", "44", "86", "880", ...)."""
    return frozenset(r["code"] for r in read_table("e164_calling_codes.csv"))


@cache
def latin_given_names() -> frozenset[str]:
    """Common given names in Latin script, lower-case."""
    return frozenset(r["name"].lower() for r in read_table("latin_given_names.csv"))


@cache
def latin_family_names() -> frozenset[str]:
    """Common family names in Latin script, lower-case."""
    return frozenset(r["name"].lower() for r in read_table("latin_family_names.csv"))


@cache
def pinyin_syllables() -> frozenset[str]:
    """The syllables of Hanyu Pinyin without tones, lower-case."""
    return frozenset(r["syllable"] for r in read_table("pinyin_syllables.csv"))


@cache
def street_suffixes() -> frozenset[str]:
    """Street types in English addresses and their abbreviations ("Street", "St"), title-case."""
    names: set[str] = set()
    for row in read_table("usps_street_suffixes.csv"):
        names.add(row["suffix"])
        if row["abbreviation"]:
            names.add(row["abbreviation"].title())
    return frozenset(names)
