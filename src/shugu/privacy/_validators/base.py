"""What the validators share: value normalisation, helpers that evaluate polars expressions
over a Series, and the reference sets and lookup tables, converted once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from functools import cache
from typing import cast

import polars as pl
import pyarrow as pa

from shugu.privacy import reference as ref

_STRIP = " \t\r\n\u3000\ufeff\u200b\xa0"
_RARE = "[\uff01-\uff5e\u3000\ufeff\u200b]"
_FULLWIDTH = {chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)} | {"\u3000": " "}
_PLACEHOLDERS = [
    *("-", "--", "---", "—", "/", "\\N", "?", "N/A", "n/a", "NA", "na", "NULL", "null", "Null"),
    *("None", "none", "NaN", "nan", "nil", "无", "空", "暂无", "未知", "不详", "未填", "（空）"),
]

# A check returns (valid, maybe): booleans as long as its input; maybe may be None.
_Check = Callable[[pl.Series], tuple[pl.Series, pl.Series | None]]


# ----------------------------------------------------------------------------- normalisation

V = pl.col("v")
C = pl.col


def _as_series(values: pl.Series | pa.Array | pa.ChunkedArray) -> pl.Series:
    if isinstance(values, pl.Series):
        return values
    return cast(pl.Series, pl.from_arrow(values))  # an array gives a series


def _text_expr(dtype: pl.DataType) -> pl.Expr | None:
    """How to turn a column of `dtype` into text (None: nested values, not examined)."""
    if dtype == pl.String:
        return V
    if dtype.is_float():
        integral = V.is_finite() & (V.floor() == V) & (V.abs() < 1e18)
        as_int = V.cast(pl.Int64, strict=False).cast(pl.String)
        return pl.when(integral).then(as_int).otherwise(V.cast(pl.String))
    if dtype.is_numeric() or isinstance(dtype, pl.Date | pl.Datetime | pl.Categorical | pl.Enum):
        return V.cast(pl.String)
    if dtype == pl.Binary:
        return V.cast(pl.String, strict=False)
    if isinstance(dtype, pl.Boolean | pl.Time | pl.Duration):  # values, but never a label
        return pl.when(V.is_not_null()).then(pl.lit("\x00"))
    return None


def _normalise(values: pl.Series) -> pl.Series:
    """Text, stripped, full-width folded; missing values and placeholders as null."""
    text = _text_expr(values.dtype)
    if text is None:
        return pl.Series(values.name, [None] * len(values), dtype=pl.String)
    missing = (V.str.len_bytes() == 0) | V.is_in(_tables()["placeholders"])
    query = values.to_frame("v").lazy().select(text.str.strip_chars().alias("v"))
    query = query.select(
        pl.when(~missing).then(V).alias("v"), V.str.contains(_RARE).any().alias("r")
    )
    s, rare = query.collect().get_columns()
    if not rare[0]:
        return s
    # Full-width ASCII, ideographic spaces, BOMs, zero-width spaces: fold and strip again.
    s = s.str.replace_many(_FULLWIDTH).str.strip_chars(_STRIP)
    return s.to_frame("v").select(pl.when(~missing).then(V))["v"]


# ----------------------------------------------------------------------------- helpers


def _apply(s: pl.Series, *exprs: pl.Expr) -> list[pl.Series]:
    """Evaluate expressions over `s` (as column "v") in one query."""
    query = s.to_frame("v").lazy().select(e.alias(f"r{i}") for i, e in enumerate(exprs))
    return query.collect().get_columns()


def _staged(s: pl.Series, stages: list[dict[str, pl.Expr]], *out: pl.Expr) -> list[pl.Series]:
    """Evaluate `out` over `s` (column "v") after adding each stage's named columns in turn.

    Staging computes every intermediate once (polars does not share common subexpressions
    reliably inside one select).
    """
    query = s.to_frame("v").lazy()
    for stage in stages:
        query = query.with_columns(**stage)
    return query.select(e.alias(f"r{i}") for i, e in enumerate(out)).collect().get_columns()


def _gate(s: pl.Series, expr: pl.Expr) -> tuple[pl.Series, pl.Series]:
    """The mask of values passing a cheap shape test, and those values."""
    (mask,) = _apply(s, expr.fill_null(False))
    return mask, s.filter(mask)


def _expand(mask: pl.Series, sub: pl.Series) -> pl.Series:
    """Put the subset's results back at the mask's True positions (False elsewhere)."""
    if sub.is_empty():
        return mask
    m = pl.col("m")
    index = (m.cast(pl.Int64).cum_sum() - 1).clip(0)
    return mask.to_frame("m").select(m & pl.lit(sub).gather(index).fill_null(False))["m"]


def _digit(n: pl.Expr, power: int) -> pl.Expr:
    digit: pl.Expr = (n // 10**power) % 10
    return digit


def _ymd_valid(y: pl.Expr, m: pl.Expr, d: pl.Expr) -> pl.Expr:
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    days = pl.lit(_DAYS_IN_MONTH).gather(m.clip(0, 12).cast(pl.UInt32))
    days = days + ((m == 2) & leap).cast(pl.Int32)
    return (y.is_between(1900, 2100) & m.is_between(1, 12) & d.is_between(1, days)).fill_null(False)


_DAYS_IN_MONTH = pl.Series([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=pl.Int32)


def _lookup(e: pl.Expr, table: str, default: int | None, dtype: type[pl.DataType]) -> pl.Expr:
    old, new = _mappings()[table]
    return e.replace_strict(old, new, default=default, return_dtype=dtype)


# ----------------------------------------------------------------------------- reference tables

# Common words that start with a surname character and would otherwise pass as names.
_CN_STOPWORD_TEXT = (
    "安全 黄金 高速 高级 高端 方法 方便 方向 方案 文化 文件 金额 金融 时间 周期 周末 "
    "白色 黄色 红色 蓝色 程序 程度 平安 和平 高中 高校 马上 江湖 海洋 海关 石油 林业 "
    "任务 任何 余额 许可 许多 连接 连续 温度 武器 宋体 唐朝 韩国 熊猫 牛奶 牛肉 花园 "
    "花生 叶子 石头 金牌 包装 毛巾 管理 管道 车辆 华为 小米 龙虾 东方 明天 明星 明年 "
    "国家 国际 全国 全部 全新 成功 成本 成人 胡同 常规 常见 严重 严格 杨树 柳树 万元 "
    "千克 段落 易于 乐观 田园 雷达 米饭 齐全 薛定谔 孔雀 鲁迅 宁静 安静 安心 康复 "
    "健康"
)
_CN_STOPWORDS = frozenset(_CN_STOPWORD_TEXT.split())
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100: a character is worth its index
_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"  # also in the date patterns
_MONTH_NUMBER = {m: i + 1 for i, m in enumerate(_MONTHS.split("|"))}


@cache
def _tables() -> dict[str, pl.Series]:
    """Reference sets as polars Series, converted once (`is_in` converts a Python set per call)."""
    prefixes = ref.cn_mobile_prefixes()
    areas = ref.cn_area_codes()
    provinces = {d.code[:2] for d in ref.divisions() if d.level == "province"}
    surnames = ref.cn_surnames()
    sets: dict[str, Collection[str]] = {
        "placeholders": _PLACEHOLDERS,
        "provinces": provinces | {"83"},
        "mobile3": [p for p in prefixes if len(p) == 3],
        "mobile4": [p for p in prefixes if len(p) == 4],
        "area2": [a[1:] for a in areas if len(a) == 3],
        "area3": [a[1:] for a in areas if len(a) == 4],
        "surname1": [s for s in surnames if len(s) == 1],
        "surname2": [s for s in surnames if len(s) > 1],
        "surname_pinyin": set(surnames.values()),
        "calling": ref.e164_calling_codes(),
        "places": ref.cn_place_names(),
        "cn_stopwords": _CN_STOPWORDS,
        "given": ref.latin_given_names(),
        "family": ref.latin_family_names(),
        "icd10": _icd10_categories(),
    }
    return {name: pl.Series(name, sorted(v), dtype=pl.String).implode() for name, v in sets.items()}


@cache
def _mappings() -> dict[str, tuple[pl.Series, pl.Series]]:
    """Lookup tables for `replace_strict` as (old, new) Series pairs."""
    scores = dict.fromkeys(ref.cn_non_name_chars(), -9) | ref.cn_given_name_chars()
    pairs: dict[str, dict[str, int]] = {
        "char_score": scores,
        "uscc": {c: i for i, c in enumerate(_USCC_ALPHABET)},
        "month": _MONTH_NUMBER,
        "iban_length": ref.iban_lengths(),
    }
    return {
        name: (pl.Series(list(table), dtype=pl.String), pl.Series(list(table.values())))
        for name, table in pairs.items()
    }


@cache
def _icd10_categories() -> frozenset[str]:
    """Every 3-character category (letter + 2 digits) that lies inside an ICD-10 chapter."""
    every = (f"{chr(c)}{n:02d}" for c in range(ord("A"), ord("Z") + 1) for n in range(100))
    return frozenset(code for code in every if ref.icd10_chapter_of(code) is not None)
