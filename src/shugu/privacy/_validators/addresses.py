"""Validators for postal addresses, Chinese and English."""

from __future__ import annotations

from functools import cache

import polars as pl

from shugu.privacy import reference as ref
from shugu.privacy._validators.base import (
    V,
    _apply,
    _expand,
    _gate,
)

_CN_ADMIN = r"(?:省|自治区|市|自治州|地区|盟|区|县|旗)"
_CN_PROVINCES = (
    "^(?:北京|天津|上海|重庆|河北|山西|内蒙古|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南"
    "|湖北|湖南|广东|广西|海南|四川|贵州|云南|西藏|陕西|甘肃|青海|宁夏|新疆|台湾|香港|澳门)"
)
_CN_STREET = (
    r"(?:路|街|大道|道|巷|弄|胡同|里|村|镇|乡|社区|小区|大厦|广场|花园|公寓|苑|庄|屯|组"
    r"|[0-9]+\s*(?:号|栋|幢|座|室|楼|单元|层)|[A-Za-z]座)"
)
_CN_STREET_NAME = r"\p{Han}(?:路|街|大道|道|巷|弄|胡同|里|村|镇|乡)"
_CN_HOUSE = r"(?:[0-9]+\s*(?:号|栋|幢|座|室|楼|单元|层)|[A-Za-z0-9]\s*座)"
_CN_NOT_ADDRESS = (
    r"[。！？!?；;]|[0-9]{7,}|(?:公司|集团|医院|学校|大学|中心|银行|委员会|研究所|店|厂)$"
)


@cache
def _en_address() -> str:
    words = sorted(ref.street_suffixes(), key=len, reverse=True)
    suffix = "|".join([*words, *(w.upper() for w in words)])
    unit = r"(?:(?:apt|apartment|suite|ste|unit|flat|room|rm)\.?\s*#?\w+,?\s+)?"
    return (
        rf"^(?i:{unit})(?:No\.?\s*)?[0-9]{{1,6}}[A-Za-z]?(?:-[0-9]{{1,5}})?,?\s+"
        rf"(?:[A-Z0-9][\w.'’-]*\s+){{0,5}}(?:{suffix})\.?(?:$|[\s,])"
    )


@cache
def _en_street_part() -> str:
    """A part (line or comma-separated) naming a street: words ending in a street suffix."""
    words = "|".join(sorted(ref.street_suffixes(), key=len, reverse=True))
    return (
        r"(?:^|[\n,]\s*)(?:[0-9]{1,6}[A-Za-z]?\s+)?\p{Lu}[\p{L}'’.-]*(?:\s+\p{L}[\p{L}'’.-]*){0,3}"
        rf"\s+(?i:{words})\.?(?:$|[\s,])"
    )


_POSTCODE_END = (
    r"(?:(?-u:\b)[A-Z]{1,2}[0-9][A-Z0-9]?\s*[0-9][A-Z]{2}|(?-u:\b)[A-Z]{2}\s+[0-9]{5}(?:-[0-9]{4})?"
    r"|(?:^|[\n,]\s*)[0-9]{4,5}\s+\p{Lu}[\p{L}.' -]+)$"
)
_EN_OTHER_ADDRESS = (
    r"^(?:(?i:p\.?\s*o\.?\s*box|post office box)\s+[0-9]+"
    r"|(?:PSC|Unit|USNS|USS|USCGC|CMR)\s+\w.*(?-u:\b)(?:APO|FPO|DPO)\s+A[AEP]\s+[0-9]{5}"
    r"|(?i:[\p{L}.' -]+(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|straat|laan|gatan"
    r"|vägen|vej|via|viale|calle|rue|avenida|rua))"
    r"\s+[0-9]+[a-zA-Z]?(?:[-/][0-9]+[a-zA-Z]?)?(?:$|[\s,]))"
)


def _check_address(s: pl.Series) -> tuple[pl.Series, None]:
    length = V.str.len_chars()
    cn_mask, cn = _gate(s, length.is_between(4, 80) & V.str.contains(r"\p{Han}"))
    en_mask, en = _gate(s, length.is_between(8, 160) & V.str.contains(r"^[A-Za-z0-9#]"))
    ok = cn_mask & False
    if not cn.is_empty():
        admin = V.str.contains(_CN_ADMIN) | V.str.contains(_CN_PROVINCES)
        house = V.str.contains(_CN_STREET_NAME) & V.str.contains(_CN_HOUSE)  # 建国路88号
        street = (admin & V.str.contains(_CN_STREET)) | house
        ok = ok | _expand(cn_mask, _apply(cn, street & ~V.str.contains(_CN_NOT_ADDRESS))[0])
    if not en.is_empty():
        english = V.str.contains(_en_address()) | V.str.contains(_EN_OTHER_ADDRESS)
        english = english | (V.str.contains(_en_street_part()) & V.str.contains(_POSTCODE_END))
        ok = ok | _expand(en_mask, _apply(en, english)[0])
    return ok, None
