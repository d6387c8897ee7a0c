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
- ``address``: Chinese, 4-80 characters: an administrative unit (省/市/区/县/... or a province
  name) plus a street marker (路/街/道/巷/村/镇/号/栋/室/...), or a street name plus a house number
  (建国路88号); no sentence punctuation, no phone-length digit runs, not an organisation name.
  English, 8-160 characters: house number + capitalised words + a USPS street suffix; a street
  part plus a closing UK postcode, US ``ST 12345`` or ``12345 City``; PO boxes, military
  addresses, ``Hauptstraße 5`` streets. Longer values are text, not addresses.
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
as missing. A digit is an ASCII ``0``-``9`` in every rule: digits of other scripts (``١٩٩٠``) make a
value invalid. Validators take any text and never raise on a value.

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

import re
from collections import Counter
from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa

from shugu.errors import InvalidInputError
from shugu.i18n import N_
from shugu.privacy._validators import _CHECKS
from shugu.privacy._validators.base import V, _apply, _as_series, _normalise
from shugu.privacy._validators.identifiers import _PROVINCE_ABBR
from shugu.privacy.labels import Label

__all__ = [
    "HINTS",
    "TEXT_LABELS",
    "TEXT_TOKEN",
    "ColumnDetector",
    "ColumnVerdict",
    "find_in_text",
    "label_tokens",
    "validate",
]

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
        r"[0-9]{4}年[0-9]{1,2}月[0-9]{1,2}日",
        r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
        rf"{_B}[0-9]{{1,3}}(?:\.[0-9]{{1,3}}){{3}}{_B}",
        rf"{_B}[0-9]{{4}}[-/.][0-9]{{1,2}}[-/.][0-9]{{1,2}}{_B}",
        rf"[{_PROVINCE_ABBR}][A-Z][·•・\- ]?[A-Z0-9]{{5,6}}",
        rf"{_B}[A-Z]{{2}}[0-9]{{2}}(?: ?[A-Z0-9]{{4}}){{2,7}}(?: ?[A-Z0-9]{{1,3}})?{_B}",
        rf"{_B}[0-9A-Z]{{18}}{_B}",
        rf"{_B}(?:E[A-Z0-9][0-9]{{7}}|G[0-9]{{8}}){_B}",
        rf"{_B}\+?[0-9]+(?:[ \-][0-9]+)*[Xx]?{_B}",
    ]
)
# Tokens by shape, and the labels tried on each shape, most specific first (a token counts once).
_TEXT_KINDS: dict[str, tuple[pl.Expr, tuple[Label, ...]]] = {
    "email": (V.str.contains("@", literal=True), (Label.EMAIL,)),
    "plate": (V.str.contains(f"^[{_PROVINCE_ABBR}]"), (Label.CN_LICENSE_PLATE,)),
    "date": (V.str.contains(r"年|^[0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}$"), (Label.DATE,)),
    "ip": (V.str.contains(r"^[0-9]{1,3}(?:\.[0-9]{1,3}){3}$"), (Label.IP_ADDRESS,)),
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


TEXT_TOKEN = _TEXT_TOKEN
"""The regular expression of candidate identifier tokens in free text (`label_tokens` decides)."""
TEXT_LABELS: frozenset[Label] = frozenset(lb for _, labels in _TEXT_KINDS.values() for lb in labels)
"""The labels `find_in_text` can find inside free text."""


def label_tokens(tokens: pl.Series) -> pl.Series:
    """The label of each candidate token (`TEXT_TOKEN` matches), or null when none validates.

    Tokens are tried by shape, the most specific label first; a token gets one label at most.

    >>> label_tokens(pl.Series(["13800138000", "12345"])).to_list()
    ['cn_mobile', None]
    """
    out = pl.Series(tokens.name, [None] * len(tokens), dtype=pl.String)
    if tokens.is_empty():
        return out
    kind = pl.lit(None, dtype=pl.String)
    for name, (test, _) in reversed(_TEXT_KINDS.items()):
        kind = pl.when(test).then(pl.lit(name)).otherwise(kind)
    (kinds,) = _apply(tokens, kind)
    for name, (_, labels) in _TEXT_KINDS.items():
        rows = (kinds == name).fill_null(False).arg_true()
        for label in labels:
            if rows.is_empty():
                break
            hits = validate(label, tokens.gather(rows))
            if hits.any():
                out = out.scatter(rows.filter(hits), str(label))
            rows = rows.filter(~hits)
    return out


def find_in_text(values: pl.Series) -> dict[Label, int]:
    """Count validated identifiers inside free text (each token counted once, first label wins).

    >>> find_in_text(pl.Series(["请联系张三，电话13800138000"]))
    {<Label.CN_MOBILE: 'cn_mobile'>: 1}
    """
    text = _normalise(values)
    (candidate,) = _apply(text, V.str.contains("[0-9@]").fill_null(False))  # all need one
    tokens = text.filter(candidate).str.extract_all(_TEXT_TOKEN).explode().drop_nulls()
    counts = Counter(label_tokens(tokens).drop_nulls().to_list())
    return {Label(name): n for name, n in counts.items() if n}


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
