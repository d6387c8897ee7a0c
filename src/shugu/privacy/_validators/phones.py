"""Validators for phone numbers: Chinese mobiles and landlines, and E.164 numbers."""

from __future__ import annotations

import polars as pl

from shugu.privacy._validators.base import (
    C,
    V,
    _apply,
    _expand,
    _gate,
    _staged,
    _tables,
)


def _check_mobile(s: pl.Series) -> tuple[pl.Series, None]:
    mask, t = _gate(s, V.str.contains(r"^[+(（]*[0-9][0-9\s\-()（）]{9,22}$"))
    if t.is_empty():
        return mask, None
    digits = {"d": V.str.replace_all(r"[\s\-()（）]", "")}
    number = {
        "n": C("d").str.tail(11),
        "shape": C("d").str.contains(r"^(?:\+86|0086|86)?1[0-9]{10}$"),
    }
    tables = _tables()
    prefix = C("n").str.slice(0, 3).is_in(tables["mobile3"]) | C("n").str.slice(0, 4).is_in(
        tables["mobile4"]
    )
    return _expand(mask, _staged(t, [digits, number], C("shape") & prefix)[0]), None


_EXTENSION = r"(?i)\s*(?:-|#|转|ext\.?|x)\s*[0-9]{1,6}$"


def _landline_expr(digits: pl.Expr) -> pl.Expr:
    """Area code (2 or 3 digits after the trunk 0, +86 or 0086 allowed) and local number."""
    tables = _tables()
    number = digits.str.replace(r"^(?:\+|00)860?", "0")
    two = number.str.contains(r"^0[0-9]{2}[2-9][0-9]{7}$") & number.str.slice(1, 2).is_in(
        tables["area2"]
    )
    three = number.str.contains(r"^0[0-9]{3}[2-9][0-9]{6,7}$") & number.str.slice(1, 3).is_in(
        tables["area3"]
    )
    return (two | three).fill_null(False)


def _check_landline(s: pl.Series) -> tuple[pl.Series, None]:
    gate = V.str.contains(r"^(?:[+(（]?0|\+86)") & V.str.len_bytes().is_between(10, 32)
    mask, t = _gate(s, gate)
    if t.is_empty():
        return mask, None
    separators = r"[\s\-()（）]"
    (ok,) = _apply(t, _landline_expr(V.str.replace_all(separators, "")))
    rest_mask, rest = _gate(t, pl.lit(~ok))  # then with a trailing extension (-801, 转8) removed
    if not rest.is_empty():
        short = V.str.replace(_EXTENSION, "").str.replace_all(separators, "")
        ok = ok | _expand(rest_mask, _apply(rest, _landline_expr(short))[0])
    return _expand(mask, ok), None


_PHONE_EXTENSION = r"(?i)\s*(?:x|ext\.?|#|转)\s*[0-9]{1,6}$"
_NANP_NATIONAL = r"^\(?[2-9][0-9]{2}\)?[\s.-]?[2-9][0-9]{2}[\s.-][0-9]{4}$"
_TRUNK_NATIONAL = r"^(?:\(0[0-9]{2,5}\)|0[0-9]{2,5})[\s-]?[0-9]{3,8}(?:[\s-][0-9]{2,6})?$"


def _check_e164(s: pl.Series) -> tuple[pl.Series, pl.Series]:
    """E.164 with + (or 00 and separators), NANP and trunk-0 national forms with separators;
    bare national digits are maybe values; Chinese landlines are left to cn_landline."""
    mask, t = _gate(s, V.str.contains(r"^[+(0-9][0-9\s\-().+/xXet#转]{6,40}$"))
    if t.is_empty():
        return mask, mask
    core, number, e164 = C("core"), C("number"), C("e164")
    stage1 = {"core": V.str.replace(_PHONE_EXTENSION, "")}
    stage2 = {"number": core.str.replace_all(r"[\s\-().]", "")}
    double_zero = number.str.starts_with("00") & core.str.contains(r"^00[0-9]{1,3}[\s(-]")
    stage3 = {
        "e164": pl.when(double_zero).then(pl.lit("+") + number.str.slice(2)).otherwise(number)
    }
    codes = _tables()["calling"]
    known = e164.str.slice(1, 1).is_in(codes) | e164.str.slice(1, 2).is_in(codes)
    known = known | e164.str.slice(1, 3).is_in(codes)
    shape = e164.str.contains(r"^\+[1-9][0-9]{7,14}$")
    nanp = ~e164.str.starts_with("+1") | e164.str.contains(r"^\+1[2-9][0-9]{2}[2-9][0-9]{6}$")
    china = ~e164.str.starts_with("+86") | e164.str.contains(
        r"^\+86(?:1[3-9][0-9]{9}|[2-9][0-9]{8,10})$"
    )
    sure = (shape & known & nanp & china) | core.str.contains(_NANP_NATIONAL)
    trunk = core.str.contains(_TRUNK_NATIONAL) & number.str.len_bytes().is_between(9, 12)
    stage4 = {
        "sure": sure.fill_null(False),
        "separated": core.str.contains(r"[\s\-().]"),
        "national": (number.str.contains(r"^[2-9][0-9]{2}[2-9][0-9]{6}$") | trunk).fill_null(False),
    }
    national = C("national") & ~C("sure")
    result = _staged(t, [stage1, stage2, stage3, stage4], C("sure"), national, C("separated"))
    sure_t, national_t, separated_t = result
    # National numbers: Chinese landlines (0755-...) belong to cn_landline; written with
    # separators ("01632 960391") they are phone numbers, bare digits only maybe.
    local, rest = _gate(t, pl.lit(national_t))
    if not rest.is_empty():
        plain = rest.str.replace(_PHONE_EXTENSION, "").str.replace_all(r"[\s\-().]", "")
        national_t = _expand(local, ~_apply(plain, _landline_expr(V))[0])
    sure_t = sure_t | (national_t & separated_t)
    return _expand(mask, sure_t), _expand(mask, national_t & ~separated_t)
