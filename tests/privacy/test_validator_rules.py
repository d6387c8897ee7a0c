"""The edges of the identifier rules, taken from the standards rather than from the code.

- GB 11643-1999 (resident ID): 6-digit address code, 8-digit birth date, 3-digit sequence,
  ISO 7064 MOD 11-2 check character; the 1989 15-digit numbers have a 6-digit ``YYMMDD`` date
  of the 1900s and no check character. A child may be registered on the day it is born.
- Card brands (ISO/IEC 7812 issuer ranges): Mastercard 51-55 and 2221-2720, 16 digits; Visa 4,
  13, 16 or 19 digits; American Express 34 and 37, 15 digits; all with the Luhn check.
- GB 32100-2015 (USCC): the first character is the registration authority (1-9, A, N, Y, never
  0), the second the category (never 0), then a 6-digit region code, the organisation code and a
  MOD 31 check character from the 31-character alphabet (no I, O, S, V, Z).
- Every rule counts ASCII digits only.
"""

from __future__ import annotations

import datetime as dt
import random

import polars as pl
import pytest

from shugu.privacy._validators import _CHECKS
from shugu.privacy._validators.base import _normalise
from shugu.privacy.detect import validate
from shugu.privacy.labels import Label
from tests.privacy.test_detect import (
    INVALID,
    USCC_ALPHABET,
    VALID,
    id_check,
    luhn_digit,
    make_card,
    make_iban,
    make_id,
    uscc_check,
)

ID = make_id("110105", dt.date(1949, 12, 31), 2)  # 11010519491231002X
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
DEVANAGARI = str.maketrans("0123456789", "०१२३४५६७८९")


def valid(label: Label, *values: str) -> list[bool]:
    return validate(label, pl.Series(values, dtype=pl.String)).to_list()


def verdicts(label: Label, *values: str) -> list[tuple[bool, bool]]:
    """(sure, maybe) per value, from the label's check (maybe False where it has none)."""
    sure, maybe = _CHECKS[label](_normalise(pl.Series(values, dtype=pl.String)))
    maybes = [False] * len(values) if maybe is None else maybe.to_list()
    return list(zip(sure.to_list(), maybes, strict=True))


SURE, MAYBE, NO = (True, False), (False, True), (False, False)


# --- GB 11643 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        f"{ID[:6]} {ID[6:14]} {ID[14:]}",
        f"{ID[:6]}-{ID[6:14]}-{ID[14:]}",
        f"{ID[:6]} {ID[6:14]}-{ID[14:]}",
        f"{ID[:6]}{ID[6:14]} {ID[14:]}",
        f"{ID[:6]}\t{ID[6:]}",
    ],
)
def test_a_resident_id_may_be_written_in_its_printed_groups(written: str) -> None:
    assert valid(Label.CN_RESIDENT_ID, written) == [True]


@pytest.mark.parametrize(
    "written",
    [
        f"{ID[:4]} {ID[4:]}",  # a break inside the address code
        f"{ID[:6]}  {ID[6:]}",  # two separators
        f"{ID[:6]} -{ID[6:]}",
        f"{ID[:10]}-{ID[10:]}",  # a break inside the date
        f"{ID[:6]}_{ID[6:]}",
        f"{ID[:6]} {ID[6:14]} {ID[14:17]}5",  # printed groups, wrong check character
    ],
)
def test_a_resident_id_broken_elsewhere_or_with_a_wrong_check_is_refused(written: str) -> None:
    assert valid(Label.CN_RESIDENT_ID, written) == [False]


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("110105491231002", True),  # 1949-12-31
        ("650102960229123", True),  # 1996-02-29, a leap day
        ("440305000101001", True),  # 1900-01-01, the first day a 15-digit number can hold
        ("650102970229123", False),  # 1997 has no 29 February
        ("650102000229123", False),  # nor has 1900 (not a leap year)
        ("110105491301002", False),  # month 13
        ("110105490001002", False),  # month 0
        ("110105491200002", False),  # day 0
        ("110105490431002", False),  # 31 April
        ("990105491231002", False),  # no province 99
        ("000105491231002", False),
        ("11010549123100X", False),  # 15-digit numbers have no check character
        ("1101054912310021", False),  # 16 digits
        ("11010549123100", False),  # 14 digits
    ],
)
def test_fifteen_digit_ids_check_province_and_a_date_of_the_1900s(value: str, ok: bool) -> None:
    assert valid(Label.CN_RESIDENT_ID, value) == [ok]


def test_a_person_born_today_has_a_valid_id_and_one_born_tomorrow_does_not() -> None:
    today = dt.date.today()
    born = [make_id("310104", today + dt.timedelta(days=d), 7) for d in (-1, 0, 1)]
    assert valid(Label.CN_RESIDENT_ID, *born) == [True, True, False]


def test_the_check_character_is_iso_7064_mod_11_2_with_x_for_ten() -> None:
    body = "11010519491231002"
    assert id_check(body) == "X"
    assert valid(Label.CN_RESIDENT_ID, body + "X", body + "x", body + "0", body + "10") == [
        True,
        True,
        False,
        False,
    ]
    zero = next(b for b in (f"4403051990030712{i:1d}" for i in range(10)) if id_check(b) == "0")
    assert valid(Label.CN_RESIDENT_ID, zero + "0", zero + "X") == [True, False]


# --- card brands -------------------------------------------------------------------------------


def card(prefix: str, length: int, seed: int = 1) -> str:
    return make_card(random.Random(seed), prefix, length)


@pytest.mark.parametrize(
    ("prefix", "length", "ok"),
    [
        ("2220", 16, False),
        ("2221", 16, True),
        ("2299", 16, True),
        ("2300", 16, True),
        ("2699", 16, True),
        ("2700", 16, True),
        ("2719", 16, True),
        ("2720", 16, True),
        ("2721", 16, False),
        ("2730", 16, False),
        ("2221", 15, False),
        ("2221", 17, False),
        ("2720", 19, False),
        ("51", 16, True),
        ("55", 16, True),
        ("51", 15, False),
        ("55", 17, False),
        ("59", 16, False),
    ],
)
def test_mastercard_ranges_and_length(prefix: str, length: int, ok: bool) -> None:
    values = [card(prefix, length, seed) for seed in range(5)]
    assert valid(Label.BANK_CARD, *values) == [ok] * 5


@pytest.mark.parametrize(("length", "ok"), [(12, False), (13, True), (14, False), (15, False)])
def test_visa_lengths_up_to_15(length: int, ok: bool) -> None:
    assert valid(Label.BANK_CARD, *(card("4", length, seed) for seed in range(5))) == [ok] * 5


@pytest.mark.parametrize(("length", "ok"), [(16, True), (17, False), (18, False), (19, True)])
def test_visa_lengths_from_16(length: int, ok: bool) -> None:
    assert valid(Label.BANK_CARD, *(card("4", length, seed) for seed in range(5))) == [ok] * 5


def test_american_express_is_34_or_37_with_15_digits() -> None:
    cards = [card(p, n) for p, n in (("34", 15), ("37", 15), ("34", 16), ("37", 14), ("33", 15))]
    assert valid(Label.BANK_CARD, *cards) == [True, True, False, False, False]


def test_every_card_needs_the_luhn_check() -> None:
    for value in (card("4", 16), card("2720", 16), card("55", 16), card("37", 15)):
        body, check = value[:-1], int(value[-1])
        others = [body + str((check + shift) % 10) for shift in range(1, 10)]
        assert valid(Label.BANK_CARD, value, *others) == [True] + [False] * 9
    assert luhn_digit("411111111111111") == "1"


def test_cards_may_be_grouped_by_spaces_or_hyphens() -> None:
    value = card("2221", 16)
    groups = [value[i : i + 4] for i in range(0, 16, 4)]
    assert valid(Label.BANK_CARD, " ".join(groups), "-".join(groups), "_".join(groups)) == [
        True,
        True,
        False,
    ]


# --- GB 32100 ----------------------------------------------------------------------------------


def uscc(body: str) -> str:
    return body + uscc_check(body)


@pytest.mark.parametrize(
    ("body", "ok"),
    [
        ("91110108MA01ABC3X", True),
        ("11110108MA01ABC3X", True),
        ("51110108MA01ABC3X", True),
        ("Y1110108MA01ABC3X", True),
        ("N2110108MA01ABC3X", True),
        ("A1110108MA01ABC3X", True),
        ("01110108MA01ABC3X", False),  # no registration authority 0
        ("90110108MA01ABC3X", False),  # no category 0
        ("B1110108MA01ABC3X", False),  # no authority B
        ("9A110108MA01ABC3X", False),  # the category is a digit
        ("911101A8MA01ABC3X", False),  # the region code is six digits
        ("91110108MA01SBC3X", False),  # S is not in the alphabet (nor I, O, V, Z)
        ("91110108MA01ABC3", False),  # 17 characters before the check
    ],
)
def test_uscc_authority_category_region_and_alphabet(body: str, ok: bool) -> None:
    alphabet_ok = all(c in USCC_ALPHABET for c in body)
    value = uscc(body) if alphabet_ok else body + "0"
    assert valid(Label.CN_USCC, value) == [ok]


def test_uscc_check_character_is_mod_31_over_the_alphabet() -> None:
    body = "01110108MA01ABC3X"  # a 0 first is refused even with the right check character
    value = uscc(body)
    assert uscc_check(body) in USCC_ALPHABET
    good = uscc("91110108MA01ABC3X")
    others = [good[:-1] + c for c in USCC_ALPHABET if c != good[-1]]
    assert (
        valid(Label.CN_USCC, value, good, good.lower(), *others)
        == [False, True, True] + [False] * 30
    )


# --- ASCII digits only -----------------------------------------------------------------------

DIGIT_LABELS = [
    Label.CN_RESIDENT_ID,
    Label.CN_MOBILE,
    Label.CN_LANDLINE,
    Label.BANK_CARD,
    Label.CN_USCC,
    Label.PASSPORT,
    Label.IP_ADDRESS,
    Label.CN_LICENSE_PLATE,
    Label.DATE,
    Label.ICD10,
    Label.IBAN,
    Label.PHONE_E164,
]


@pytest.mark.parametrize("label", DIGIT_LABELS, ids=str)
@pytest.mark.parametrize("table", [ARABIC_INDIC, DEVANAGARI], ids=["arabic-indic", "devanagari"])
def test_digits_of_other_scripts_make_a_value_invalid(label: Label, table: dict[int, str]) -> None:
    examples = [v for v in VALID[label] if any(c.isdigit() for c in v)]
    assert valid(label, *examples) == [True] * len(examples)
    assert valid(label, *(v.translate(table) for v in examples)) == [False] * len(examples)


def test_one_foreign_digit_is_enough_and_full_width_digits_still_fold() -> None:
    for at in range(len(ID) - 1):
        changed = ID[:at] + ID[at].translate(ARABIC_INDIC) + ID[at + 1 :]
        assert valid(Label.CN_RESIDENT_ID, changed) == [False], changed
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in ID)
    assert valid(Label.CN_RESIDENT_ID, full_width) == [True]


def test_the_invalid_examples_stay_invalid_with_foreign_digits() -> None:
    for label in DIGIT_LABELS:
        values = [v.translate(ARABIC_INDIC) for v in INVALID[label]]
        assert valid(label, *values) == [False] * len(values), label


# --- ISO 13616 -------------------------------------------------------------------------------


def test_iban_mod_97_covers_every_digit_of_a_long_letter_heavy_account() -> None:
    long = make_iban("RU", "ABCDEFGHJKLMNPQRSTUVWXYZABCDE")  # 33 characters, 64 digits expanded
    assert len(long) == 33
    changed = [long[:-1] + c for c in "ABCDEFGHJK" if c != long[-1]]
    near_start = long[:4] + "B" + long[5:]  # the first digits of the expanded number
    assert valid(Label.IBAN, long, *changed, near_start) == [True] + [False] * (len(changed) + 1)


# --- Chinese person names (the person_name rule in shugu.privacy.detect) ----------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("张三", SURE),  # surname + a given-name character
        ("张 三", SURE),  # spaces inside a name are not part of it
        ("欧阳 娜娜", SURE),  # compound surname + 2 given characters: 4 characters
        ("上官婉", SURE),  # compound surname (上 is no single surname) + 1 given character
        ("张赟三", SURE),  # one of the two given characters is in the table
        ("孙盼盼", SURE),  # a doubled character
        ("张赟", MAYBE),  # a character of neither table: the shape only
        ("张赟珩", MAYBE),
        ("张小明明", MAYBE),  # a 3-character given name is never sure
        ("张市明", NO),  # a non-name character (市) anywhere in the given name
        ("张明市", NO),
        ("张明市红", NO),
        ("欧阳娜娜娜", NO),  # 5 characters
        ("鑫明", NO),  # 鑫 is no surname
        ("乐山", NO),  # a place name
        ("信阳", NO),
        ("安全", NO),  # a common word
        ("健康", NO),
    ],
)
def test_chinese_name_surname_given_name_and_words(value: str, expected: tuple[bool, bool]) -> None:
    assert verdicts(Label.PERSON_NAME, value) == [expected]


# --- Latin-script person names -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Dr. Mary Qwertz", SURE),  # honorific dropped: a known given name first
        ("Qwertz Smith PhD", SURE),  # suffix dropped: a known family name last
        ("Qwertz Smith", SURE),
        ("Garcia Olivia", SURE),  # family name first, given name last
        ("Qiu Xiaoming", SURE),  # pinyin surname + pinyin syllables, either way round
        ("Xiaoming Qiu", SURE),
        ("Smith Qwertz", MAYBE),  # a family name first is not enough alone
        ("Qwertz Xiaoming", MAYBE),  # pinyin syllables without a pinyin surname
        ("Xiaoming Qwertz", MAYBE),
        ("Qwertz, Zyx", MAYBE),  # "Family, Given" with an unknown given name
        ("Qwertz Zyx", MAYBE),  # the shape only
    ],
)
def test_latin_name_known_words_and_pinyin(value: str, expected: tuple[bool, bool]) -> None:
    assert verdicts(Label.PERSON_NAME, value) == [expected]


# --- passports and ICD-10 ---------------------------------------------------------------------


def test_a_chinese_passport_number_is_sure_and_a_generic_shape_only_maybe() -> None:
    values = ("E12345678", "A12345678", "AB123456", "123456789", "E1234567890")
    assert verdicts(Label.PASSPORT, *values) == [SURE, MAYBE, MAYBE, MAYBE, NO]


def test_icd10_codes_in_either_case_dotted_sure_undotted_maybe() -> None:
    values = ("j45.9", "J45.9", "i10", "e95", "J45..9")
    assert verdicts(Label.ICD10, *values) == [SURE, SURE, MAYBE, NO, NO]


# --- dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("01/13/2024", True),  # MM/DD/YYYY: the month may come first
        ("13/01/2024", True),  # DD/MM/YYYY
        ("13/13/2024", False),
        ("19150002", False),  # month 00
        ("20740019", False),
        ("32090509", False),  # year 3209
        ("1958-12-32", False),  # day 32
        ("2024-02-29", True),
        ("2023-02-29", False),
    ],
)
def test_dates_need_a_real_day_in_either_day_month_order(value: str, ok: bool) -> None:
    assert valid(Label.DATE, value) == [ok]


# --- addresses (the address rule in shugu.privacy.detect) --------------------------------------

CN_STREET = "浙江省杭州市西湖区文三路"  # 12 characters


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("杭州市西湖区文三路", True),  # administrative units + a street marker
        ("北京朝阳路", True),  # a province name + a street marker
        ("建国路88号", True),  # a street name + a house number
        ("长街1号", True),  # 4 characters
        ("建国门外大街", False),  # a street name alone
        (CN_STREET * 6 + "文三路8888号", True),  # 80 characters
        (CN_STREET * 6 + "大文三路8888号", False),  # 81 characters: text
        ("1 Elm St", True),  # 8 characters
        ("1 A St", False),
        ("apt 4B, 12 Main Street", True),  # a unit, in any case, before the number
        ("12 " + "A" * 150 + " Street", True),  # 160 characters
        ("12 " + "A" * 151 + " Street", False),
        ("Kenneth Hill\nBrowntown\nW5 1FH", True),  # a street part and a closing postcode
        ("Kenneth Hill\nBrowntown", False),  # no postcode
        ("Browntown\nW5 1FH", False),  # no street part
    ],
)
def test_address_parts_and_lengths(value: str, ok: bool) -> None:
    assert valid(Label.ADDRESS, value) == [ok]


# --- e-mail: RFC 5321 4.5.3.1.3, a path of at most 256 octets with its <>: 254 for the address --


def test_an_email_address_has_at_most_254_octets() -> None:
    local, labels = "a" * 64, f"{'b' * 63}.{'c' * 63}"
    at_limit, over = f"{local}@{labels}.{'d' * 57}.com", f"{local}@{labels}.{'d' * 58}.com"
    assert (len(at_limit), len(over)) == (254, 255)  # every label within its 63 octets
    assert valid(Label.EMAIL, at_limit, over) == [True, False]


# --- phone numbers: MIIT 号段, Chinese area codes, ITU-T E.164 --------------------------------


def test_a_mobile_prefix_may_be_a_four_digit_segment() -> None:
    # 1740 (satellite) is a 4-digit block of the MIIT plan; 174 is no whole segment.
    assert valid(Label.CN_MOBILE, "17400012345", "+86 1740 001 2345") == [True, True]


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("010-6234-5678", True),  # the local number in two groups
        ("0755-2345-678", True),
        (")010-62345678", False),  # a landline starts with 0, +86, ( or +0
        ("-010-62345678", False),
    ],
)
def test_landline_separators_and_start(value: str, ok: bool) -> None:
    assert valid(Label.CN_LANDLINE, value) == [ok]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+1 415 555 2671 X123", SURE),  # an extension, X in either case
        ("0081 3 1234 5678", SURE),  # 00 + a separator for +
        ("+852 2123 4567", SURE),  # a 3-digit country code (Hong Kong)
        ("+86 1023 4567", NO),  # +86 needs a mobile or an area-code shape
        ("4155552671", MAYBE),  # bare national NANP digits
        ("020 123456", SURE),  # trunk 0 + 9 digits, with a separator
        ("010-62345678转801", NO),  # a Chinese landline, with an extension: cn_landline's
    ],
)
def test_e164_country_codes_national_forms_and_chinese_landlines(
    value: str, expected: tuple[bool, bool]
) -> None:
    assert verdicts(Label.PHONE_E164, value) == [expected]


def test_an_ip_address_is_sure_and_a_quad_of_single_digits_only_maybe() -> None:
    assert verdicts(Label.IP_ADDRESS, "192.168.1.1", "1.2.0.4") == [SURE, MAYBE]


def test_an_iban_may_be_written_in_lower_case() -> None:
    assert valid(Label.IBAN, "de89 3704 0044 0532 0130 00", "de89370400440532013001") == [
        True,
        False,
    ]


# --- card lengths, years, typed and nested columns ---------------------------------------------


def test_a_card_number_longer_than_19_digits_is_refused() -> None:
    assert valid(Label.BANK_CARD, "4111 1111 1111 1111 1111 11", card("4", 19)) == [False, True]


def test_a_year_after_2100_is_no_date() -> None:
    assert valid(Label.DATE, "2100-12-31", "2101-01-01") == [True, False]


def test_floats_are_text_as_integers_only_when_integral() -> None:
    values = pl.Series("m", [13800138000.0, 13800138000.5], dtype=pl.Float64)
    assert validate(Label.CN_MOBILE, values).to_list() == [True, False]


def test_nested_values_are_never_valid_and_never_raise() -> None:
    values = pl.Series("x", [["13800138000"], []], dtype=pl.List(pl.String))
    assert validate(Label.CN_MOBILE, values).to_list() == [False, False]
