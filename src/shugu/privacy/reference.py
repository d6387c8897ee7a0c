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

__all__ = ["Icd10Chapter", "icd10_chapter_of", "icd10_chapters", "read_table"]


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
