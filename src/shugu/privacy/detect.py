"""Validating detectors: which kind of personal data a column holds, decided from its values.

Every label has a vectorised validator (polars regular expressions, set membership against the
reference tables in `reference`, check-digit arithmetic on integer columns). A value is *valid*
for a label only when it passes the label's checks, not when it merely has the right shape:

- ``cn_resident_id``: GB 11643, 18 characters: province (first 2 digits) in GB/T 2260 or 83
  (Taiwan residence permits), birth date real, >= 1900 and not in the future, ISO 7064 MOD 11-2
  check character (``x`` accepted). The 15-digit numbers of 1989 (no check digit): province and
  ``19YYMMDD`` date.
- ``cn_mobile``: 11 digits whose prefix is an MIIT 号段 (3 or 4 digits), optional ``+86``/``0086``/
  ``86`` and separators (spaces, hyphens, brackets).
- ``cn_landline``: ``0`` + area code from the area-code table + 7 or 8 digits not starting with
  0/1, separators, brackets, ``+86`` and an extension allowed. Service numbers (400/800) are not
  landlines.
- ``bank_card``: 12-19 digits (separators allowed), an issuer range that exists for that length
  (Visa, Mastercard 51-55 and 2221-2720, UnionPay and other 6-series, Amex, JCB, Diners, Maestro,
  old 9-series Chinese debit cards) and the Luhn check.
- ``cn_uscc``: GB 32100, 18 characters from the code's 31-character alphabet, registration
  authority and category code, 6-digit region, MOD 31 check character.
- ``passport``: Chinese formats only: ``E`` + 8 digits, ``E`` + letter + 7 digits (no I/O),
  ``G`` + 8 digits, ``DE``/``SE``/``PE`` + 7 digits, Hong Kong ``K`` + 8 digits. Generic shapes
  (1-2 letters + 6-8 digits, 9 digits) count only when the column name says passport.
- ``email`` (RFC 5322 dot-atom local part, domain labels, alphabetic TLD), ``ip_address`` (IPv4
  with optional prefix length, every IPv6 form, by regular expression; ``1.2.0.4``-style quads of
  single digits, which are usually version numbers, count only with a hint), ``cn_license_plate``
  (province abbreviation, letter, 5 characters or 6 for new-energy vehicles, no I/O).
- ``person_name``: Chinese: 2-4 Han characters, a surname from the table (compound surnames
  first), a 1-2 character given name with at least one character of the given-name table (or a
  doubled character: 盼盼) and no non-name character (部/市/路/...), not a place name (divisions,
  and provinces and prefectures without their unit) nor a common word. Names with a middle
  dot (少数民族 transliterations) pass. Latin: 2-4 capitalised words (particles, initials,
  honorifics and suffixes allowed), no place/organisation word, and the first word a known
  given name or the last a known family name (or pinyin surname + pinyin syllables);
  ``Family, Given`` too. Shape-only names count with a name hint.
- ``address``: Chinese: an administrative unit (省/市/区/县/... or a province name) plus a street
  marker (路/街/道/巷/村/镇/号/栋/室/...), or a street name plus a house number (建国路88号); no
  sentence punctuation, no phone-length digit runs, not an organisation name. English: house
  number + capitalised words + a USPS street suffix; a street part plus a closing UK postcode,
  US ``ST 12345`` or ``12345 City``; PO boxes, military addresses, ``Hauptstraße 5`` streets.
- ``date``: ``YYYY-MM-DD`` (``/`` or ``.``), ``YYYY年M月D日``, ``YYYYMMDD``, ``DD/MM/YYYY`` or
  ``MM/DD/YYYY``, month names; optional time and zone; year 1900-2100 and a real day. Years alone,
  year-months and times are not dates.
- ``icd10``: letter + 2 digits, optional ``.`` subcategory (national ``x001`` extensions too),
  inside a chapter of `reference.icd10_chapters`.
- ``iban``: country length from the SWIFT registry and ISO 7064 MOD 97-10.
- ``phone_e164``: ``+`` (or ``00`` and a separator) and 8-15 digits starting with an ITU-T E.164
  country code (NANP numbers checked for their area and exchange codes, +86 for a mobile or
  area-code shape), extensions allowed; national forms written with separators: NANP
  (``(415)555-2671``) and trunk ``0`` numbers that are not Chinese landlines (``01632 960391``).
  The same national numbers as bare digits are maybe values.

Values are normalised first: cast to text (integral floats as integers, dates as ISO text),
stripped (also full-width spaces, BOMs, zero-width spaces), full-width ASCII folded to
half-width; empty strings and placeholders (``-``, ``N/A``, ``null``, ``无``, ``不详`` ...) count
as missing.

Decision rule of `ColumnDetector` (``n`` = non-missing values examined):

1. For each label, ``valid`` = values passing its validator. Some labels also have *maybe*
   values (a shape they cannot verify: undotted ICD-10 codes, generic passport numbers, names
   whose characters or words are not in the tables, national phone numbers, ``1.2.0.4``).
2. A label qualifies when ``valid / n >= 0.80``; with a matching column-name hint
   (`HINTS`: 身份证, phone, 手机, email, 姓名, 地址, ...) the threshold is 0.60 and maybe values
   count too. Without a hint, ICD-10 also needs 30 % of values in dotted form (``J45.9``), so
   ``A12``-style product codes stay unlabelled. A hint never labels a column by itself: the values
   must validate.
3. Among qualifying labels the highest share wins; labels within 0.05 of it are a near-tie,
   broken first by a name hint, then by specificity: resident ID, USCC, IBAN, bank card, mobile,
   landline, E.164, email, IP, plate, passport, ICD-10, date, person name, address (so ``+86``
   mobiles are ``cn_mobile``, not ``phone_e164``).
   If nothing qualifies but values valid for some phone label (mobile, landline, E.164) together
   reach the threshold, the column gets the most frequent of those phone labels (a 联系电话
   column mixing mobiles and landlines).
4. ``confidence`` is the winner's share (+0.05 with a hint, at most 1), times ``n / (n + 1)``;
   with no label it is ``1 - best share`` (times the same factor), 0 when nothing was examined.
   ``rows_valid`` is the winner's count, or the best remaining candidate's for no label.
5. To stay fast, labels below 0.50 after 1,000 examined values are dropped as candidates (phone
   labels survive while no single one reaches 0.80 and the phone kinds together reach 0.50), and
   so are labels 0.25 or more behind a qualifying label; the column is processed in slices of
   65,536 values after a first slice of 4,096.
6. Free text: while no label qualifies and at least 30 % of a slice looks like text (12+
   characters with spaces, punctuation, or Han characters mixed with digits), `find_in_text`
   counts the validated identifiers inside it; a column with a label reports no text counts.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from functools import cache

import polars as pl
import pyarrow as pa

from shugu.errors import InvalidInputError
from shugu.i18n import N_
from shugu.privacy import reference as ref
from shugu.privacy.labels import Label

__all__ = ["HINTS", "ColumnDetector", "ColumnVerdict", "find_in_text", "validate"]

THRESHOLD = 0.80
HINT_THRESHOLD = 0.60
NEAR_TIE = 0.05
PRUNE_BELOW = 0.50
PRUNE_AFTER = 1_000
PRUNE_BEHIND = 0.25
SLICE_ROWS = 65_536
FIRST_SLICE_ROWS = 4_096
TEXT_SHARE = 0.30
ICD10_DOTTED_SHARE = 0.30

PRIORITY: tuple[Label, ...] = (
    Label.CN_RESIDENT_ID,
    Label.CN_USCC,
    Label.IBAN,
    Label.BANK_CARD,
    Label.CN_MOBILE,
    Label.CN_LANDLINE,
    Label.PHONE_E164,
    Label.EMAIL,
    Label.IP_ADDRESS,
    Label.CN_LICENSE_PLATE,
    Label.PASSPORT,
    Label.ICD10,
    Label.DATE,
    Label.PERSON_NAME,
    Label.ADDRESS,
)

_NOT_LETTER = r"(?:^|[^a-z])"
HINTS: dict[Label, re.Pattern[str]] = {
    Label.CN_RESIDENT_ID: re.compile(
        r"身份证|证件号|公民身份|idcard|id_?card|id_?no|id_?num|identity|citizen|national_?id"
        r"|resident|sfz|shenfen"
    ),
    Label.CN_MOBILE: re.compile(rf"手机|移动电话|联系电话|mobile|cell|phone|{_NOT_LETTER}tel"),
    Label.CN_LANDLINE: re.compile(rf"电话|座机|固话|传真|landline|fax|phone|{_NOT_LETTER}tel"),
    Label.BANK_CARD: re.compile(r"银行卡|卡号|借记卡|信用卡|bank|card|acct|account|账号|账户"),
    Label.CN_USCC: re.compile(r"信用代码|社会信用|uscc|credit_?code|税号|纳税人识别"),
    Label.PASSPORT: re.compile(r"护照|passport"),
    Label.EMAIL: re.compile(r"邮箱|邮件|email|e_mail|mail"),
    Label.IP_ADDRESS: re.compile(
        rf"{_NOT_LETTER}ip(?:[^a-z]|$)|ip地址|ipaddr|ipv[46]|remote_?addr"
    ),
    Label.CN_LICENSE_PLATE: re.compile(r"车牌|号牌|plate|licen[cs]e"),
    Label.PERSON_NAME: re.compile(
        r"姓名|名字|联系人|负责人|持卡人|患者|客户名|收件人|^name$|full_?name|first_?name"
        r"|last_?name|given_?name|family_?name|real_?name|person|patient_?name|customer_?name"
        r"|contact_?name|owner_?name|holder_?name|employee_?name|^姓$|^名$"
    ),
    Label.ADDRESS: re.compile(r"地址|住址|住所|居住地|address|addr|street"),
    Label.DATE: re.compile(r"日期|时间|生日|出生|date|time|dob|birth|day|_at$|_on$"),
    Label.ICD10: re.compile(r"icd|诊断|疾病|diag|disease"),
    Label.IBAN: re.compile(r"iban|bank|account"),
    Label.PHONE_E164: re.compile(rf"phone|电话|mobile|msisdn|e164|{_NOT_LETTER}tel"),
}

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
    converted = pl.from_arrow(values)
    assert isinstance(converted, pl.Series)
    return converted


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


# ----------------------------------------------------------------------------- identifiers

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _check_resident_id(s: pl.Series) -> tuple[pl.Series, None]:
    """GB 11643 on 18 digits (15-digit 1989 numbers: province and date only)."""
    mask, t = _gate(s, V.str.contains(r"^(?:\d{6}[\s-]?\d{8}[\s-]?\d{3}[\dXx]|\d{15})$"))
    if t.is_empty():
        return mask, None
    t = t.str.replace_all(r"[\s-]", "")  # 110105 19491231 002X as printed on forms
    long = V.str.len_bytes() == 18
    day = pl.when(long).then(V.str.slice(6, 8)).otherwise(V.str.slice(6, 6)).cast(pl.Int32)
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


def _check_mobile(s: pl.Series) -> tuple[pl.Series, None]:
    mask, t = _gate(s, V.str.contains(r"^[+(（]*\d[\d\s\-()（）]{9,22}$"))
    if t.is_empty():
        return mask, None
    digits = {"d": V.str.replace_all(r"[\s\-()（）]", "")}
    number = {"n": C("d").str.tail(11), "shape": C("d").str.contains(r"^(?:\+86|0086|86)?1\d{10}$")}
    tables = _tables()
    prefix = C("n").str.slice(0, 3).is_in(tables["mobile3"]) | C("n").str.slice(0, 4).is_in(
        tables["mobile4"]
    )
    return _expand(mask, _staged(t, [digits, number], C("shape") & prefix)[0]), None


_EXTENSION = r"(?i)\s*(?:-|#|转|ext\.?|x)\s*\d{1,6}$"


def _landline_expr(digits: pl.Expr) -> pl.Expr:
    """Area code (2 or 3 digits after the trunk 0, +86 or 0086 allowed) and local number."""
    tables = _tables()
    number = digits.str.replace(r"^(?:\+|00)860?", "0")
    two = number.str.contains(r"^0\d{2}[2-9]\d{7}$") & number.str.slice(1, 2).is_in(tables["area2"])
    three = number.str.contains(r"^0\d{3}[2-9]\d{6,7}$") & number.str.slice(1, 3).is_in(
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


_IIN = (
    r"^(?:4\d{12}(?:\d{3}){0,2}|5[1-5]\d{14}|2(?:22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)\d{12}"
    r"|3[47]\d{13}|35\d{14,17}|(?:1800|2131)\d{11}|3(?:0[0-5]|[68]\d)\d{11,16}"
    r"|(?:5[06-8]|6\d)\d{10,17}|9\d{15,18})$"
)


def _luhn(n: pl.Expr) -> pl.Expr:
    """Luhn over an unsigned integer of at most 19 digits."""
    terms = []
    for power in range(19):
        d = _digit(n, power)
        terms.append(d * 2 - (d >= 5).cast(pl.UInt64) * 9 if power % 2 else d)
    return (pl.sum_horizontal(terms) % 10 == 0) & n.is_not_null()


def _check_bank_card(s: pl.Series) -> tuple[pl.Series, None]:
    mask, t = _gate(s, V.str.contains(r"^\d[\d\s-]{10,24}\d$"))
    if t.is_empty():
        return mask, None
    digits = V.str.replace_all(r"[\s-]", "")
    first = {
        "iin": digits.str.contains(_IIN),
        "n": digits.str.zfill(19).cast(pl.UInt64, strict=False),
    }
    ok = (C("iin") & _luhn(C("n"))).fill_null(False)
    return _expand(mask, _staged(t, [first], ok)[0]), None


_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (*(pow(3, i, 31) for i in range(17)), 1)
_USCC = r"(?i)^[1-9ANY][1-9]\d{6}[0-9A-HJ-NP-RTUW-Y]{10}$"


def _check_uscc(s: pl.Series) -> tuple[pl.Series, None]:
    mask, t = _gate(s, V.str.contains(_USCC))
    if t.is_empty():
        return mask, None
    upper = {"u": V.str.to_uppercase()}
    values = (_lookup(C("u").str.slice(i, 1), "uscc", 0, pl.Int64) for i in range(18))
    total = pl.sum_horizontal(v * w for v, w in zip(values, _USCC_WEIGHTS, strict=True))
    return _expand(mask, _staged(t, [upper], total % 31 == 0)[0]), None  # GB 32100 MOD 31


_PASSPORT = r"^(?:E[0-9A-HJ-NP-Z]\d{7}|G\d{8}|[DSP]E\d{7}|K\d{8})$"


def _check_passport(s: pl.Series) -> tuple[pl.Series, pl.Series]:
    mask, t = _gate(s, V.str.contains(r"(?i)^(?:[A-Z]{1,2}\d{6,8}|\d{9})$"))
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


_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_H = r"[0-9A-Fa-f]{1,4}"
_IPV6 = (
    rf"(?:(?:{_H}:){{7}}{_H}|(?:{_H}:){{1,7}}:|(?:{_H}:){{1,6}}:{_H}"
    rf"|(?:{_H}:){{1,5}}(?::{_H}){{1,2}}|(?:{_H}:){{1,4}}(?::{_H}){{1,3}}"
    rf"|(?:{_H}:){{1,3}}(?::{_H}){{1,4}}|(?:{_H}:){{1,2}}(?::{_H}){{1,5}}"
    rf"|{_H}:(?::{_H}){{1,6}}|:(?:(?::{_H}){{1,7}}|:)"
    rf"|(?:{_H}:){{6}}{_IPV4}|::(?:[fF]{{4}}:)?{_IPV4}|(?:{_H}:){{1,5}}:{_IPV4})"
)
_IP = rf"^(?:{_IPV4}(?:/(?:3[0-2]|[12]?\d))?|{_IPV6}(?:%[0-9A-Za-z]+)?(?:/\d{{1,3}})?)$"


def _check_ip(s: pl.Series) -> tuple[pl.Series, pl.Series]:
    """IPv4 and IPv6; dotted quads of single digits ("1.2.0.4") look like versions: maybe."""
    small = V.str.contains(r"^\d\.\d\.\d\.\d$")
    ok = V.str.contains(_IP).fill_null(False)
    sure, maybe = _apply(s, ok & ~small, ok & small.fill_null(False))
    return sure, maybe


_PROVINCE_ABBR = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_L = "A-HJ-NP-Z"
_PLATE = (
    rf"^[{_PROVINCE_ABBR}][{_L}](?:[{_L}0-9]{{4}}[{_L}0-9挂学警港澳领试超]"
    rf"|[A-HJK][{_L}0-9]\d{{4}}|\d{{5}}[A-HJK])$"
)


def _check_plate(s: pl.Series) -> tuple[pl.Series, None]:
    mask, t = _gate(s, V.str.contains(f"^[{_PROVINCE_ABBR}][A-Za-z][A-Za-z0-9·•・.\\-\\s]{{5,9}}$"))
    if t.is_empty():
        return mask, None
    plate = V.str.to_uppercase().str.replace_all(r"[·•・.\-\s]", "")
    return _expand(mask, _apply(t, plate.str.contains(_PLATE))[0]), None


# ----------------------------------------------------------------------------- names

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


# ----------------------------------------------------------------------------- addresses, dates

_CN_ADMIN = r"(?:省|自治区|市|自治州|地区|盟|区|县|旗)"
_CN_PROVINCES = (
    "^(?:北京|天津|上海|重庆|河北|山西|内蒙古|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南"
    "|湖北|湖南|广东|广西|海南|四川|贵州|云南|西藏|陕西|甘肃|青海|宁夏|新疆|台湾|香港|澳门)"
)
_CN_STREET = (
    r"(?:路|街|大道|道|巷|弄|胡同|里|村|镇|乡|社区|小区|大厦|广场|花园|公寓|苑|庄|屯|组"
    r"|\d+\s*(?:号|栋|幢|座|室|楼|单元|层)|[A-Za-z]座)"
)
_CN_STREET_NAME = r"\p{Han}(?:路|街|大道|道|巷|弄|胡同|里|村|镇|乡)"
_CN_HOUSE = r"(?:\d+\s*(?:号|栋|幢|座|室|楼|单元|层)|[A-Za-z0-9]\s*座)"
_CN_NOT_ADDRESS = (
    r"[。！？!?；;]|\d{7,}|(?:公司|集团|医院|学校|大学|中心|银行|委员会|研究所|店|厂)$"
)


@cache
def _en_address() -> str:
    words = sorted(ref.street_suffixes(), key=len, reverse=True)
    suffix = "|".join([*words, *(w.upper() for w in words)])
    unit = r"(?:(?:apt|apartment|suite|ste|unit|flat|room|rm)\.?\s*#?\w+,?\s+)?"
    return (
        rf"^(?i:{unit})(?:No\.?\s*)?\d{{1,6}}[A-Za-z]?(?:-\d{{1,5}})?,?\s+"
        rf"(?:[A-Z0-9][\w.'’-]*\s+){{0,5}}(?:{suffix})\.?(?:$|[\s,])"
    )


@cache
def _en_street_part() -> str:
    """A part (line or comma-separated) naming a street: words ending in a street suffix."""
    words = "|".join(sorted(ref.street_suffixes(), key=len, reverse=True))
    return (
        r"(?:^|[\n,]\s*)(?:\d{1,6}[A-Za-z]?\s+)?\p{Lu}[\p{L}'’.-]*(?:\s+\p{L}[\p{L}'’.-]*){0,3}"
        rf"\s+(?i:{words})\.?(?:$|[\s,])"
    )


_POSTCODE_END = (
    r"(?:(?-u:\b)[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}|(?-u:\b)[A-Z]{2}\s+\d{5}(?:-\d{4})?"
    r"|(?:^|[\n,]\s*)\d{4,5}\s+\p{Lu}[\p{L}.' -]+)$"
)
_EN_OTHER_ADDRESS = (
    r"^(?:(?i:p\.?\s*o\.?\s*box|post office box)\s+\d+"
    r"|(?:PSC|Unit|USNS|USS|USCGC|CMR)\s+\w.*(?-u:\b)(?:APO|FPO|DPO)\s+A[AEP]\s+\d{5}"
    r"|(?i:[\p{L}.' -]+(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|straat|laan|gatan"
    r"|vägen|vej|via|viale|calle|rue|avenida|rua))\s+\d+[a-zA-Z]?(?:[-/]\d+[a-zA-Z]?)?(?:$|[\s,]))"
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


_TIME = (
    r"(?:(?:[T\s]+|\s*)\d{1,2}(?::\d{2}|时|点)(?::\d{2}|\d{1,2}分)?(?:[.,]\d{1,9}|\d{1,2}秒)?"
    r"\s*(?:[AaPp]\.?[Mm]\.?)?\s*(?:Z|[+-]\d{2}:?\d{2}|UTC|GMT)?)?$"
)
_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
_MONTH_NUMBER = {m: i + 1 for i, m in enumerate(_MONTHS.split("|"))}
# (pattern, group numbers of year, month, day, form); "swap": day and month may be either way.
_DATE_FORMS: tuple[tuple[str, tuple[int, int, int], str], ...] = (
    (rf"^(\d{{4}})[-/.](\d{{1,2}})[-/.](\d{{1,2}}){_TIME}", (1, 2, 3), "digits"),
    (r"^(\d{4})(\d{2})(\d{2})$", (1, 2, 3), "digits"),
    (rf"^(\d{{4}})\s*年\s*(\d{{1,2}})\s*月\s*(\d{{1,2}})\s*[日号]?{_TIME}", (1, 2, 3), "digits"),
    (rf"^(\d{{1,2}})[-/.](\d{{1,2}})[-/.](\d{{4}}){_TIME}", (3, 2, 1), "swap"),
    (
        rf"(?i)^(\d{{1,2}})(?:st|nd|rd|th)?[\s-]+({_MONTHS})[a-z]*\.?,?[\s-]+(\d{{4}}){_TIME}",
        (3, 2, 1),
        "words",
    ),
    (
        rf"(?i)^(?:[a-z]{{3,9}},?\s+)?({_MONTHS})[a-z]*\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+"
        rf"(\d{{4}}){_TIME}",
        (3, 1, 2),
        "words",
    ),
)


def _date_form(t: pl.Series, pattern: str, order: tuple[int, int, int], form: str) -> pl.Series:
    y, m, d = (C("g").struct.field(str(i)) for i in order)
    if form == "words":
        m = _lookup(m.str.to_lowercase(), "month", None, pl.Int32)
    parts = {k: c.cast(pl.Int32, strict=False) for k, c in zip("ymd", (y, m, d), strict=True)}
    y, m, d = C("y"), C("m"), C("d")
    ok = _ymd_valid(y, m, d)
    ok = ok | _ymd_valid(y, d, m) if form == "swap" else ok
    return _staged(t, [{"g": V.str.extract_groups(pattern)}, parts], ok)[0]


def _date_fixed(t: pl.Series) -> pl.Series:
    """Dates in the fixed-width forms YYYY-MM-DD (also / and .) and YYYYMMDD, by slicing."""
    dashed = V.str.contains(r"^\d{4}[-/.]\d\d[-/.]\d\d$")
    plain = V.str.contains(r"^\d{8}$")
    parts = {
        "y": V.str.slice(0, 4).cast(pl.Int32, strict=False),
        "m": pl.when(dashed).then(V.str.slice(5, 2)).otherwise(V.str.slice(4, 2)),
        "d": pl.when(dashed).then(V.str.slice(8, 2)).otherwise(V.str.slice(6, 2)),
        "shape": dashed | plain,
    }
    ymd = {"m": C("m").cast(pl.Int32, strict=False), "d": C("d").cast(pl.Int32, strict=False)}
    return _staged(t, [parts, ymd], C("shape") & _ymd_valid(C("y"), C("m"), C("d")))[0]


def _check_date(s: pl.Series) -> tuple[pl.Series, None]:
    mask, t = _gate(s, V.str.contains(r"^(?:\d|[A-Za-z]{3})") & V.str.len_bytes().is_between(8, 40))
    if t.is_empty():
        return mask, None
    ok = _expand(mask, _date_fixed(t))
    todo, rest = _gate(s, pl.lit(mask & ~ok))
    for pattern, order, form in _DATE_FORMS:
        if rest.is_empty():
            break
        found = _expand(todo, _date_form(rest, pattern, order, form))
        ok = ok | found
        todo, rest = _gate(s, pl.lit(todo & ~found))
    return ok, None


_ICD10 = r"^[A-Z]\d{2}(?:\.\d[0-9A-Z]{0,3}(?:X\d{3})?)?[+*†]?$"


def _check_icd10(s: pl.Series) -> tuple[pl.Series, pl.Series]:
    mask, t = _gate(s, V.str.contains(r"^[A-Za-z]\d\d") & (V.str.len_bytes() <= 16))
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
    gate = V.str.contains(r"^[A-Za-z]{2}\d{2}[A-Za-z0-9 -]{11,44}$")
    mask, t = _gate(s, gate)
    if t.is_empty():
        return mask, None
    iban = C("iban")
    stage1 = {"iban": V.str.replace_all(r"[\s-]", "").str.to_uppercase()}
    stage2 = {
        "shape": iban.str.contains(r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$"),
        "length": _lookup(iban.str.slice(0, 2), "iban_length", 0, pl.UInt32)
        == iban.str.len_bytes(),
        "digits": (iban.str.slice(4) + iban.str.slice(0, 4))
        .str.replace_many(_LETTER_DIGITS)
        .str.zfill(72),
    }
    ok = C("shape") & C("length") & (_mod97(C("digits")) == 1)
    return _expand(mask, _staged(t, [stage1, stage2], ok.fill_null(False))[0]), None


_PHONE_EXTENSION = r"(?i)\s*(?:x|ext\.?|#|转)\s*\d{1,6}$"
_NANP_NATIONAL = r"^\(?[2-9]\d{2}\)?[\s.-]?[2-9]\d{2}[\s.-]\d{4}$"
_TRUNK_NATIONAL = r"^(?:\(0\d{2,5}\)|0\d{2,5})[\s-]?\d{3,8}(?:[\s-]\d{2,6})?$"


def _check_e164(s: pl.Series) -> tuple[pl.Series, pl.Series]:
    """E.164 with + (or 00 and separators), NANP and trunk-0 national forms with separators;
    bare national digits are maybe values; Chinese landlines are left to cn_landline."""
    mask, t = _gate(s, V.str.contains(r"^[+(\d][\d\s\-().+/xXet#转]{6,40}$"))
    if t.is_empty():
        return mask, mask
    core, number, e164 = C("core"), C("number"), C("e164")
    stage1 = {"core": V.str.replace(_PHONE_EXTENSION, "")}
    stage2 = {"number": core.str.replace_all(r"[\s\-().]", "")}
    double_zero = number.str.starts_with("00") & core.str.contains(r"^00\d{1,3}[\s(-]")
    stage3 = {
        "e164": pl.when(double_zero).then(pl.lit("+") + number.str.slice(2)).otherwise(number)
    }
    codes = _tables()["calling"]
    known = e164.str.slice(1, 1).is_in(codes) | e164.str.slice(1, 2).is_in(codes)
    known = known | e164.str.slice(1, 3).is_in(codes)
    shape = e164.str.contains(r"^\+[1-9]\d{7,14}$")
    nanp = ~e164.str.starts_with("+1") | e164.str.contains(r"^\+1[2-9]\d{2}[2-9]\d{6}$")
    china = ~e164.str.starts_with("+86") | e164.str.contains(r"^\+86(?:1[3-9]\d{9}|[2-9]\d{8,10})$")
    sure = (shape & known & nanp & china) | core.str.contains(_NANP_NATIONAL)
    trunk = core.str.contains(_TRUNK_NATIONAL) & number.str.len_bytes().is_between(9, 12)
    stage4 = {
        "sure": sure.fill_null(False),
        "separated": core.str.contains(r"[\s\-().]"),
        "national": (number.str.contains(r"^[2-9]\d{2}[2-9]\d{6}$") | trunk).fill_null(False),
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


_CHECKS: dict[Label, _Check] = {
    Label.CN_RESIDENT_ID: _check_resident_id,
    Label.CN_MOBILE: _check_mobile,
    Label.CN_LANDLINE: _check_landline,
    Label.BANK_CARD: _check_bank_card,
    Label.CN_USCC: _check_uscc,
    Label.PASSPORT: _check_passport,
    Label.EMAIL: _check_email,
    Label.IP_ADDRESS: _check_ip,
    Label.CN_LICENSE_PLATE: _check_plate,
    Label.PERSON_NAME: _check_person_name,
    Label.ADDRESS: _check_address,
    Label.DATE: _check_date,
    Label.ICD10: _check_icd10,
    Label.IBAN: _check_iban,
    Label.PHONE_E164: _check_e164,
}
_PHONES = (Label.CN_MOBILE, Label.CN_LANDLINE, Label.PHONE_E164)
# Labels whose maybe values are still valid instances (an undotted ICD-10 code is a real code).
_MAYBE_IS_VALID = frozenset({Label.ICD10})


def validate(label: Label, values: pl.Series) -> pl.Series:
    """Whether each value is a valid instance of `label` (stripped, full value; null is False).

    >>> validate(Label.CN_MOBILE, pl.Series(["138 0013 8000", "12345678901", None])).to_list()
    [True, False, False]
    """
    s = _normalise(values)
    sure, maybe = _CHECKS[label](s)
    if maybe is not None and label in _MAYBE_IS_VALID:
        sure = sure | maybe
    return sure.fill_null(False).alias(values.name)


# ----------------------------------------------------------------------------- free text

_B = r"(?-u:\b)"  # ASCII word boundary: Han characters count as non-word, so 电话138... splits
# One pass over the text: alternatives in the order they must win at a position (an e-mail
# before the digits inside it, a date or an IP before a run of digits).
_TEXT_TOKEN = "|".join(
    [
        r"\d{4}年\d{1,2}月\d{1,2}日",
        r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
        rf"{_B}\d{{1,3}}(?:\.\d{{1,3}}){{3}}{_B}",
        rf"{_B}\d{{4}}[-/.]\d{{1,2}}[-/.]\d{{1,2}}{_B}",
        rf"[{_PROVINCE_ABBR}][A-Z][·•・\- ]?[A-Z0-9]{{5,6}}",
        rf"{_B}[A-Z]{{2}}\d{{2}}(?: ?[A-Z0-9]{{4}}){{2,7}}(?: ?[A-Z0-9]{{1,3}})?{_B}",
        rf"{_B}[0-9A-Z]{{18}}{_B}",
        rf"{_B}(?:E[A-Z0-9]\d{{7}}|G\d{{8}}){_B}",
        rf"{_B}\+?\d+(?:[ \-]\d+)*[Xx]?{_B}",
    ]
)
# Tokens by shape, and the labels tried on each shape, most specific first (a token counts once).
_TEXT_KINDS: dict[str, tuple[pl.Expr, tuple[Label, ...]]] = {
    "email": (V.str.contains("@", literal=True), (Label.EMAIL,)),
    "plate": (V.str.contains(f"^[{_PROVINCE_ABBR}]"), (Label.CN_LICENSE_PLATE,)),
    "date": (V.str.contains(r"年|^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}$"), (Label.DATE,)),
    "ip": (V.str.contains(r"^\d{1,3}(?:\.\d{1,3}){3}$"), (Label.IP_ADDRESS,)),
    "code": (
        V.str.contains("[A-Za-z]"),
        (Label.CN_RESIDENT_ID, Label.CN_USCC, Label.IBAN, Label.PASSPORT),
    ),
    "number": (
        pl.lit(True),
        (
            Label.CN_RESIDENT_ID,
            Label.BANK_CARD,
            Label.CN_MOBILE,
            Label.CN_LANDLINE,
            Label.PHONE_E164,
        ),
    ),
}
_TEXT_LIKE = (V.str.len_chars() >= 12) & (
    V.str.contains(r"[\s，。；：！？、,;:!?]")
    | (V.str.contains(r"\p{Han}") & V.str.contains("[0-9]"))
)


def find_in_text(values: pl.Series) -> dict[Label, int]:
    """Count validated identifiers inside free text (each token counted once, first label wins).

    >>> find_in_text(pl.Series(["请联系张三，电话13800138000"]))
    {<Label.CN_MOBILE: 'cn_mobile'>: 1}
    """
    text = _normalise(values)
    (candidate,) = _apply(text, V.str.contains("[0-9@]").fill_null(False))  # all need one
    tokens = text.filter(candidate).str.extract_all(_TEXT_TOKEN).explode().drop_nulls()
    kind = pl.lit(None, dtype=pl.String)
    for name, (test, _) in reversed(_TEXT_KINDS.items()):
        kind = pl.when(test).then(pl.lit(name)).otherwise(kind)
    (kinds,) = _apply(tokens, kind)
    counts: Counter[Label] = Counter()
    for name, (_, labels) in _TEXT_KINDS.items():
        group = tokens.filter(kinds == name)
        for label in labels:
            if group.is_empty():
                break
            hits = validate(label, group)
            counts[label] += int(hits.sum())
            group = group.filter(~hits)
    return {label: n for label, n in counts.items() if n}


# ----------------------------------------------------------------------------- the detector


@dataclass(frozen=True)
class ColumnVerdict:
    """What a column holds.

    Attributes:
        name: the column's name.
        label: the label its values predominantly validate as, or None.
        confidence: 0..1, see the module docstring.
        rows_checked: non-missing values examined.
        rows_valid: values valid for `label` (for None: of the best remaining candidate).
        labels_in_text: for free text (label None), validated identifiers found inside it.
    """

    name: str
    label: Label | None
    confidence: float
    rows_checked: int
    rows_valid: int
    labels_in_text: dict[Label, int] = field(default_factory=dict)


@dataclass
class _Tally:
    valid: int = 0
    maybe: int = 0


class ColumnDetector:
    """Feed a column's values in batches, then ask for its `verdict`.

    Args:
        name: the column's name (its hints may lower the threshold, never decide alone).
        sample_rows: examine at most this many rows (None: every row).

    Raises:
        InvalidInputError: `sample_rows` is below 1.

    >>> detector = ColumnDetector("col_a")
    >>> detector.update(pl.Series(["11010519491231002X", "440305199003071236"]))
    >>> detector.verdict().label
    <Label.CN_RESIDENT_ID: 'cn_resident_id'>
    """

    def __init__(self, name: str, *, sample_rows: int | None = 10_000) -> None:
        if sample_rows is not None and sample_rows < 1:
            raise InvalidInputError(
                N_("sample_rows must be at least 1 (or None for every row), got {sample_rows}"),
                sample_rows=sample_rows,
            )
        self.name = name
        self._limit = sample_rows
        self._seen = 0
        self._checked = 0
        self._tallies = {label: _Tally() for label in PRIORITY}
        self._hints = frozenset(label for label, rx in HINTS.items() if rx.search(name.lower()))
        self._text: Counter[Label] = Counter()
        self._phones = 0  # values valid for at least one phone label

    @property
    def done(self) -> bool:
        """True once the sample is full (the caller may stop feeding)."""
        return self._limit is not None and self._seen >= self._limit

    def update(self, values: pl.Series | pa.Array | pa.ChunkedArray) -> None:
        """Examine more values of the column (any type; rows past the sample are ignored)."""
        series = _as_series(values)
        if self._limit is not None:
            series = series.head(max(self._limit - self._seen, 0))
        start = 0
        while start < len(series):
            # Until candidates are pruned every check runs, so the first slices are small.
            size = SLICE_ROWS if self._checked >= PRUNE_AFTER else FIRST_SLICE_ROWS
            self._examine(series.slice(start, size))
            start += size

    def _examine(self, chunk: pl.Series) -> None:
        self._seen += len(chunk)
        if not self._tallies and chunk.dtype != pl.String:
            self._checked += len(chunk) - chunk.null_count()  # no candidate left, never text
            return
        s = _normalise(chunk).drop_nulls()
        if s.is_empty():
            return
        self._checked += len(s)
        phones: pl.Series | None = None
        for label, tally in self._tallies.items():
            valid, maybe = _CHECKS[label](s)
            tally.valid += int(valid.sum())
            tally.maybe += int(maybe.sum()) if maybe is not None else 0
            if label in _PHONES:
                hit = valid | maybe if maybe is not None and self._with_maybe(label) else valid
                phones = hit if phones is None else phones | hit
        self._phones += int(phones.sum()) if phones is not None else 0
        if self._checked >= PRUNE_AFTER:
            self._prune()
        if self._decide()[0] is None:
            self._scan_text(s)

    def _with_maybe(self, label: Label) -> bool:
        return label in self._hints or label in _MAYBE_IS_VALID

    def _counted(self, label: Label) -> int:
        tally = self._tallies[label]
        return tally.valid + (tally.maybe if self._with_maybe(label) else 0)

    def _prune(self) -> None:
        single = max((self._counted(lb) for lb in _PHONES if lb in self._tallies), default=0)
        mixed = single < THRESHOLD * self._checked
        phones_alive = mixed and self._phones >= PRUNE_BELOW * self._checked
        for label in list(self._tallies):
            if label in _PHONES and phones_alive:
                continue
            if self._counted(label) < PRUNE_BELOW * self._checked:
                del self._tallies[label]
        leader = self._decide(mix=False)
        if leader[0] is not None:  # far behind a qualifying label: cannot win any more
            for label in list(self._tallies):
                if self._counted(label) < (leader[1] - PRUNE_BEHIND) * self._checked:
                    del self._tallies[label]

    def _qualifies(self, label: Label) -> bool:
        hinted = label in self._hints
        share = self._counted(label) / self._checked
        if share < (HINT_THRESHOLD if hinted else THRESHOLD):
            return False
        if hinted:
            return True
        tally = self._tallies[label]
        if label is Label.ICD10:
            return tally.valid >= ICD10_DOTTED_SHARE * self._checked
        return tally.valid >= THRESHOLD * self._checked

    def _decide(self, *, mix: bool = True) -> tuple[Label | None, float]:
        if not self._checked:
            return None, 0.0
        shares = {label: self._counted(label) / self._checked for label in self._tallies}
        qualified = [label for label in self._tallies if self._qualifies(label)]
        if not qualified:
            best = max(shares.values(), default=0.0)
            return self._phone_mix(best) if mix else (None, best)
        best = max(shares[label] for label in qualified)
        near = [label for label in qualified if best - shares[label] <= NEAR_TIE]
        pool = [label for label in near if label in self._hints] or near
        winner = min(pool, key=PRIORITY.index)
        return winner, shares[winner]

    def _phone_mix(self, best: float) -> tuple[Label | None, float]:
        """A column mixing phone kinds (mobiles and landlines): the most frequent kind."""
        share = self._phones / self._checked
        hinted = any(label in self._hints for label in _PHONES)
        phones = [label for label in _PHONES if label in self._tallies]
        if not phones or share < (HINT_THRESHOLD if hinted else THRESHOLD):
            return None, best
        return max(phones, key=self._counted), share

    def _scan_text(self, s: pl.Series) -> None:
        (text_like,) = _apply(s, _TEXT_LIKE)
        if text_like.sum() >= TEXT_SHARE * len(s):
            self._text.update(find_in_text(s.filter(text_like)))

    def verdict(self) -> ColumnVerdict:
        """The decision so far (see the module docstring for the rule)."""
        label, share = self._decide()
        n = self._checked
        shrink = n / (n + 1)
        if label is None:
            best = max((self._counted(lb) for lb in self._tallies), default=0)
            confidence = (1.0 - share) * shrink if n else 0.0
            return ColumnVerdict(self.name, None, round(confidence, 4), n, best, dict(self._text))
        bonus = 0.05 if label in self._hints else 0.0
        confidence = min(1.0, share + bonus) * shrink
        return ColumnVerdict(self.name, label, round(confidence, 4), n, self._counted(label), {})
