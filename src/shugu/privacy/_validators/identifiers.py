"""Validators for identifiers and codes: resident IDs, bank cards, USCC, passports, e-mail and
IP addresses, licence plates, ICD-10 codes and IBANs.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from shugu.privacy._validators.base import (
    C,
    V,
    _apply,
    _digit,
    _expand,
    _gate,
    _lookup,
    _staged,
    _tables,
    _ymd_valid,
)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _check_resident_id(s: pl.Series) -> tuple[pl.Series, None]:
    """GB 11643 on 18 digits (15-digit 1989 numbers: province and date only)."""
    mask, t = _gate(
        s, V.str.contains(r"^(?:[0-9]{6}[\s-]?[0-9]{8}[\s-]?[0-9]{3}[0-9Xx]|[0-9]{15})$")
    )
    if t.is_empty():
        return mask, None
    t = t.str.replace_all(r"[\s-]", "")  # 110105 19491231 002X as printed on forms
    long = V.str.len_bytes() == 18
    digits = pl.when(long).then(V.str.slice(6, 8)).otherwise(V.str.slice(6, 6))
    day = digits.cast(pl.Int32, strict=False)
    last = V.str.slice(17, 1).str.to_uppercase()
    today = int(f"{dt.date.today():%Y%m%d}")
    first = {
        "long": long,
        "province": V.str.slice(0, 2).is_in(_tables()["provinces"]),
        "day": pl.when(long).then(day).otherwise(day + 19_000_000),
        "n": V.str.slice(0, 17).cast(pl.Int64, strict=False),
        "check": pl.when(last == "X").then(10).otherwise(last.cast(pl.Int64, strict=False)),
    }
    total = pl.sum_horizontal(_digit(C("n"), 16 - i) * w for i, w in enumerate(_ID_WEIGHTS))
    checked = ((total + C("check")) % 11 == 1).fill_null(False)  # ISO 7064 MOD 11-2
    day = C("day")
    born = _ymd_valid(day // 10_000, day // 100 % 100, day % 100) & (day <= today)
    ok = C("province") & born & (~C("long") | checked)
    return _expand(mask, _staged(t, [first], ok)[0]), None


_IIN = (
    r"^(?:4[0-9]{12}(?:[0-9]{3}){0,2}|5[1-5][0-9]{14}"
    r"|2(?:22[1-9]|2[3-9][0-9]|[3-6][0-9][0-9]|7[01][0-9]|720)[0-9]{12}"
    r"|3[47][0-9]{13}|35[0-9]{14,17}|(?:1800|2131)[0-9]{11}|3(?:0[0-5]|[68][0-9])[0-9]{11,16}"
    r"|(?:5[06-8]|6[0-9])[0-9]{10,17}|9[0-9]{15,18})$"
)


def _luhn(n: pl.Expr) -> pl.Expr:
    """Luhn over an unsigned integer of at most 19 digits."""
    terms = []
    for power in range(19):
        d = _digit(n, power)
        terms.append(d * 2 - (d >= 5).cast(pl.UInt64) * 9 if power % 2 else d)
    return (pl.sum_horizontal(terms) % 10 == 0) & n.is_not_null()


def _check_bank_card(s: pl.Series) -> tuple[pl.Series, None]:
    mask, t = _gate(s, V.str.contains(r"^[0-9][0-9\s-]{10,24}[0-9]$"))
    if t.is_empty():
        return mask, None
    digits = V.str.replace_all(r"[\s-]", "")
    first = {
        "iin": digits.str.contains(_IIN),
        "n": digits.str.zfill(19).cast(pl.UInt64, strict=False),
    }
    ok = (C("iin") & _luhn(C("n"))).fill_null(False)
    return _expand(mask, _staged(t, [first], ok)[0]), None


_USCC_WEIGHTS = (*(pow(3, i, 31) for i in range(17)), 1)
_USCC = r"(?i)^[1-9ANY][1-9][0-9]{6}[0-9A-HJ-NP-RTUW-Y]{10}$"


def _check_uscc(s: pl.Series) -> tuple[pl.Series, None]:
    mask, t = _gate(s, V.str.contains(_USCC))
    if t.is_empty():
        return mask, None
    upper = {"u": V.str.to_uppercase()}
    values = (_lookup(C("u").str.slice(i, 1), "uscc", 0, pl.Int64) for i in range(18))
    total = pl.sum_horizontal(v * w for v, w in zip(values, _USCC_WEIGHTS, strict=True))
    return _expand(mask, _staged(t, [upper], total % 31 == 0)[0]), None  # GB 32100 MOD 31


_PASSPORT = r"^(?:E[0-9A-HJ-NP-Z][0-9]{7}|G[0-9]{8}|[DSP]E[0-9]{7}|K[0-9]{8})$"


def _check_passport(s: pl.Series) -> tuple[pl.Series, pl.Series]:
    mask, t = _gate(s, V.str.contains(r"(?i)^(?:[A-Z]{1,2}[0-9]{6,8}|[0-9]{9})$"))
    if t.is_empty():
        return mask, mask
    sure, maybe = _apply(t, V.str.to_uppercase().str.contains(_PASSPORT), pl.lit(True))
    return _expand(mask, sure), _expand(mask, maybe & ~sure)


_EMAIL = (
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


def _check_email(s: pl.Series) -> tuple[pl.Series, None]:
    return _apply(s, V.str.contains(_EMAIL).fill_null(False) & (V.str.len_bytes() <= 254))[0], None


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_H = r"[0-9A-Fa-f]{1,4}"
_IPV6 = (
    rf"(?:(?:{_H}:){{7}}{_H}|(?:{_H}:){{1,7}}:|(?:{_H}:){{1,6}}:{_H}"
    rf"|(?:{_H}:){{1,5}}(?::{_H}){{1,2}}|(?:{_H}:){{1,4}}(?::{_H}){{1,3}}"
    rf"|(?:{_H}:){{1,3}}(?::{_H}){{1,4}}|(?:{_H}:){{1,2}}(?::{_H}){{1,5}}"
    rf"|{_H}:(?::{_H}){{1,6}}|:(?:(?::{_H}){{1,7}}|:)"
    rf"|(?:{_H}:){{6}}{_IPV4}|::(?:[fF]{{4}}:)?{_IPV4}|(?:{_H}:){{1,5}}:{_IPV4})"
)
_IP = rf"^(?:{_IPV4}(?:/(?:3[0-2]|[12]?[0-9]))?|{_IPV6}(?:%[0-9A-Za-z]+)?(?:/[0-9]{{1,3}})?)$"


def _check_ip(s: pl.Series) -> tuple[pl.Series, pl.Series]:
    """IPv4 and IPv6; dotted quads of single digits ("1.2.0.4") look like versions: maybe."""
    small = V.str.contains(r"^[0-9]\.[0-9]\.[0-9]\.[0-9]$")
    ok = V.str.contains(_IP).fill_null(False)
    sure, maybe = _apply(s, ok & ~small, ok & small.fill_null(False))
    return sure, maybe


_PROVINCE_ABBR = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_L = "A-HJ-NP-Z"
_PLATE = (
    rf"^[{_PROVINCE_ABBR}][{_L}](?:[{_L}0-9]{{4}}[{_L}0-9挂学警港澳领试超]"
    rf"|[A-HJK][{_L}0-9][0-9]{{4}}|[0-9]{{5}}[A-HJK])$"
)


def _check_plate(s: pl.Series) -> tuple[pl.Series, None]:
    mask, t = _gate(s, V.str.contains(f"^[{_PROVINCE_ABBR}][A-Za-z][A-Za-z0-9·•・.\\-\\s]{{5,9}}$"))
    if t.is_empty():
        return mask, None
    plate = V.str.to_uppercase().str.replace_all(r"[·•・.\-\s]", "")
    return _expand(mask, _apply(t, plate.str.contains(_PLATE))[0]), None


_ICD10 = r"^[A-Z][0-9]{2}(?:\.[0-9][0-9A-Z]{0,3}(?:X[0-9]{3})?)?[+*†]?$"


def _check_icd10(s: pl.Series) -> tuple[pl.Series, pl.Series]:
    mask, t = _gate(s, V.str.contains(r"^[A-Za-z][0-9][0-9]") & (V.str.len_bytes() <= 16))
    if t.is_empty():
        return mask, mask
    upper = V.str.to_uppercase()
    inside = upper.str.slice(0, 3).is_in(_tables()["icd10"]) & upper.str.contains(_ICD10)
    first = {"inside": inside.fill_null(False), "dotted": V.str.contains(".", literal=True)}
    inside, dotted = C("inside"), C("dotted")
    sure, maybe = _staged(t, [first], inside & dotted, inside & ~dotted)
    return _expand(mask, sure), _expand(mask, maybe)


_LETTER_DIGITS = {chr(c): str(c - 55) for c in range(ord("A"), ord("Z") + 1)}


def _mod97(digits: pl.Expr) -> pl.Expr:
    """ISO 7064 MOD 97-10 remainder of a string of at most 72 digits."""
    rest = digits.str.slice(0, 9).cast(pl.UInt64, strict=False) % 97
    for i in range(1, 8):
        rest = (rest * 10**9 + digits.str.slice(9 * i, 9).cast(pl.UInt64, strict=False)) % 97
    return rest


def _check_iban(s: pl.Series) -> tuple[pl.Series, None]:
    gate = V.str.contains(r"^[A-Za-z]{2}[0-9]{2}[A-Za-z0-9 -]{11,44}$")
    mask, t = _gate(s, gate)
    if t.is_empty():
        return mask, None
    iban = C("iban")
    stage1 = {"iban": V.str.replace_all(r"[\s-]", "").str.to_uppercase()}
    stage2 = {
        "shape": iban.str.contains(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$"),
        "length": _lookup(iban.str.slice(0, 2), "iban_length", 0, pl.UInt32)
        == iban.str.len_bytes(),
        "digits": (iban.str.slice(4) + iban.str.slice(0, 4))
        .str.replace_many(_LETTER_DIGITS)
        .str.zfill(72),
    }
    ok = C("shape") & C("length") & (_mod97(C("digits")) == 1)
    return _expand(mask, _staged(t, [stage1, stage2], ok.fill_null(False))[0]), None
