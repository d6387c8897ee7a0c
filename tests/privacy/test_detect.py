"""Validating detectors: each label's validator, the column decision rule, free text.

Check digits are produced here by plain per-value reference implementations (GB 11643, Luhn,
GB 32100, ISO 13616), independent of the vectorised code under test.
"""

from __future__ import annotations

import datetime as dt
import random
import string
import uuid
from collections.abc import Callable

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shugu.errors import InvalidInputError
from shugu.privacy import reference
from shugu.privacy.detect import ColumnDetector, find_in_text, validate
from shugu.privacy.labels import Label

# ----------------------------------------------------------------------------- reference maths

ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def id_check(body: str) -> str:
    return "10X98765432"[sum(int(c) * w for c, w in zip(body, ID_WEIGHTS, strict=True)) % 11]


def make_id(region: str, birth: dt.date | str, seq: int) -> str:
    day = birth if isinstance(birth, str) else f"{birth:%Y%m%d}"
    body = f"{region}{day}{seq:03d}"
    return body + id_check(body)


def luhn_digit(prefix: str) -> str:
    total = 0
    for i, c in enumerate(reversed(prefix)):
        d = int(c)
        if i % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def make_card(rng: random.Random, prefix: str, length: int) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    return body + luhn_digit(body)


def uscc_check(body: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(body))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def make_uscc(rng: random.Random) -> str:
    org = "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
    body = rng.choice("159") + rng.choice("123") + rng.choice(["110108", "310115", "440300"]) + org
    return body + uscc_check(body)


def make_iban(country: str, bban: str) -> str:
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


def wrong_check(value: str, alphabet: str = "0123456789X") -> str:
    """The value with another check character (three places on in the check alphabet)."""
    return value[:-1] + alphabet[(alphabet.index(value[-1].upper()) + 3) % len(alphabet)]


# ----------------------------------------------------------------------------- examples per label

TODAY = dt.date.today()
VALID_IDS = [
    make_id("110105", dt.date(1949, 12, 31), 2),
    make_id("440305", dt.date(1990, 3, 7), 123),
    make_id("110228", dt.date(1975, 6, 30), 45),  # a withdrawn county code: province still valid
    make_id("650102", dt.date(2000, 2, 29), 999),
]
VALID = {
    Label.CN_RESIDENT_ID: [
        *VALID_IDS,
        VALID_IDS[0].lower(),
        f"  {VALID_IDS[1]} ",
        "130503670401001",
    ],
    Label.CN_MOBILE: ["13800138000", "+86 138 0013 8000", "138-0013-8000", "8613912345678"],
    Label.CN_LANDLINE: ["010-62345678", "(0755)2345678", "+86 10 6234 5678", "0571-87654321-801"],
    Label.BANK_CARD: ["4111111111111111", "4111 1111 1111 1111", "378282246310005"],
    Label.CN_USCC: [
        "91350100M000100Y43",
        "91110108" + "MA01ABC3X" + uscc_check("91110108MA01ABC3X"),
    ],
    Label.PASSPORT: ["E12345678", "EA1234567", "G12345678", "e12345678"],
    Label.EMAIL: ["zhang.san@example.com", "user+tag@mail.company.com.cn"],
    Label.IP_ADDRESS: [
        "192.168.1.1",
        "10.0.0.0/8",
        "::1",
        "2001:db8::8a2e:370:7334",
        "::ffff:1.2.3.4",
    ],
    Label.CN_LICENSE_PLATE: ["京A12345", "粤B·D12345", "沪AD12345", "京A-12345", "苏E12345F"],
    Label.PERSON_NAME: ["张三", "李四", "王小明", "欧阳娜娜", "迪丽热巴·迪力木拉提", "John Smith"],
    Label.ADDRESS: ["北京市朝阳区建国路88号", "1600 Pennsylvania Avenue NW, Washington, DC 20500"],
    Label.DATE: ["2024-01-02", "2024年1月2日", "20240102", "13/01/2024", "Jan 2, 2024"],
    Label.ICD10: ["J45.9", "E11.9", "I10", "J45.900x001", "S72.0"],
    Label.IBAN: ["DE89370400440532013000", "DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432"],
    Label.PHONE_E164: ["+14155552671", "+44 20 7946 0958", "+8613800138000", "+49 30 12345678"],
}
VALID[Label.CN_USCC].append(make_uscc(random.Random(3)).lower())
VALID[Label.BANK_CARD].append(make_card(random.Random(4), "622202", 19))
VALID[Label.BANK_CARD].append(make_card(random.Random(5), "2221", 16))
VALID[Label.PERSON_NAME] += [
    "Mrs. Jennifer Lee DDS",
    "Zhang Wei",
    "Smith, John",
    "Vincent van Gogh",
]
VALID[Label.ADDRESS] += [
    "河北省石家庄市长安区中山东路 3栋2单元501室",
    "0487 Hopkins Squares Apt. 080",
]
VALID[Label.ADDRESS] += ["PO Box 1234", "Hauptstraße 5, 10115 Berlin", "12 Rue de la Paix"]
VALID[Label.ADDRESS] += [
    "Studio 9\nKenneth Hill\nBrowntown\nW5 1FH",
    "Vogtallee 22-15\n73464 Ochsenfurt",
]
VALID[Label.PHONE_E164] += [
    "+1-442-269-0681x1490",
    "(0161) 4960066",
    "01632 960391",
    "(415)555-2671",
    "001-415-555-2671",
    "+44(0)20 7946 0958",
]
VALID[Label.BANK_CARD] += [
    make_card(random.Random(6), "6759", 12),
    make_card(random.Random(7), "2131", 15),
]
VALID[Label.PERSON_NAME] += ["Dr. Bogdan Hofmann", "Isabella Siering MBA.", "肖桂兰", "孙盼盼"]
VALID[Label.DATE] += ["2 January 2024", "2024-01-02T10:30:00Z", "2024/1/2 10:30", "2000-02-29"]

INVALID = {
    Label.CN_RESIDENT_ID: [
        wrong_check(VALID_IDS[0]),
        make_id("990105", dt.date(1990, 3, 7), 1),  # no such province
        make_id("110105", "19900230", 1),  # no such day
        make_id("110105", TODAY + dt.timedelta(days=40), 1),  # born in the future
        make_id("110105", dt.date(1880, 1, 1), 1),  # before 1900
        "11010519491231002",
        "A10105194912310020",
    ],
    Label.CN_MOBILE: [
        "12345678901",
        "15412345678",
        "1380013800",
        "138001380001",
        "+1 138 0013 8000",
    ],
    Label.CN_LANDLINE: [
        "2123456789",
        "400-820-8820",
        "010-12345678",
        "0600-2345678",
        "13800138000",
    ],
    Label.BANK_CARD: [
        "4111111111111112",
        "1234567812345670",  # Luhn-valid, no such issuer range
        "41111111111111111",  # 17-digit Visa
        VALID_IDS[0][:17] + "0",
    ],
    Label.CN_USCC: [
        wrong_check("91350100M000100Y43", USCC_ALPHABET),
        "91350100M000100O43",  # O is not in the code's alphabet
        "ZZ350100M000100Y43",
    ],
    Label.PASSPORT: ["A12345678", "EI1234567", "E1234567", "123456789"],
    Label.EMAIL: ["x@y", "a..b@example.com", "@example.com", "user@example"],
    Label.IP_ADDRESS: ["256.1.1.1", "1.2.3", "12:30:45", "00:1A:2B:3C:4D:5E", "1::2::3", "1.2.0.4"],
    Label.CN_LICENSE_PLATE: ["京I12345", "京A1234", "A12345", "京A1234567"],
    Label.PERSON_NAME: ["北京", "财务部", "New York", "Carson City", "Apple Inc", "abc def"],
    Label.ADDRESS: [
        "北京市朝阳区",
        "我住在北京市朝阳区建国路88号。",
        "北京中关村科技有限公司",
        "Main",
    ],
    Label.DATE: ["2024-02-30", "2024", "2024-03", "19991301", "10:30:00", "1899-12-31"],
    Label.ICD10: ["K95.1", "E95", "U99", "J4", "123"],
    Label.IBAN: ["DE89370400440532013001", "DE8937040044053201300", "XX89370400440532013000"],
    Label.PHONE_E164: [
        *("+999123456789", "+1 055 555 1234", "+86 12345", "14155552671", "4155552671"),
        *("01614960066", "0049123456789", "555-12-3456", "010-62345678"),
    ],
}


@pytest.mark.parametrize("label", list(Label), ids=str)
def test_valid_examples_validate(label: Label) -> None:
    values = VALID[label]
    assert validate(label, pl.Series(values)).to_list() == [True] * len(values)


@pytest.mark.parametrize("label", list(Label), ids=str)
def test_invalid_examples_do_not_validate(label: Label) -> None:
    values = INVALID[label]
    assert validate(label, pl.Series(values)).to_list() == [False] * len(values)


def test_validate_keeps_length_and_turns_nulls_false() -> None:
    result = validate(Label.EMAIL, pl.Series("e", ["a@b.cn", None, "", "  ", "n/a"]))
    assert result.name == "e"
    assert result.to_list() == [True, False, False, False, False]


def test_full_width_and_lower_case_x_are_accepted() -> None:
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in "13800138000")
    assert validate(Label.CN_MOBILE, pl.Series([full_width])).to_list() == [True]
    assert validate(Label.CN_RESIDENT_ID, pl.Series([VALID_IDS[0].lower()])).item()


def test_reference_implementations_agree_with_validators_on_random_values() -> None:
    rng = random.Random(11)
    ids = [
        make_id("330106", dt.date(1960, 1, 1) + dt.timedelta(days=rng.randrange(20000)), i)
        for i in range(300)
    ]
    cards = [make_card(rng, rng.choice(["4", "51", "622202", "3530"]), 16) for _ in range(300)]
    usccs = [make_uscc(rng) for _ in range(300)]
    assert validate(Label.CN_RESIDENT_ID, pl.Series(ids)).all()
    assert not validate(Label.CN_RESIDENT_ID, pl.Series([wrong_check(i) for i in ids])).any()
    assert validate(Label.BANK_CARD, pl.Series(cards)).all()
    assert validate(Label.CN_USCC, pl.Series(usccs)).all()
    wrong = [wrong_check(u, USCC_ALPHABET) for u in usccs]
    assert not validate(Label.CN_USCC, pl.Series(wrong)).any()


@settings(max_examples=40, deadline=None)
@given(
    day=st.dates(dt.date(1900, 1, 1), TODAY),
    seq=st.integers(0, 999),
    position=st.integers(0, 17),
    shift=st.integers(1, 9),
)
def test_any_single_digit_change_breaks_a_resident_id(
    day: dt.date, seq: int, position: int, shift: int
) -> None:
    value = make_id("320102", day, seq)
    digit = value[position]  # only the check character can be X
    changed = str(shift) if digit == "X" else str((int(digit) + shift) % 10)
    corrupted = value[:position] + changed + value[position + 1 :]
    assert validate(Label.CN_RESIDENT_ID, pl.Series([value, corrupted])).to_list() == [True, False]


# ----------------------------------------------------------------------------- synthetic data


def words(text: str) -> list[str]:
    return text.split()


SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于"
    "蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛"
    "闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华建国志红玉萍梅鹏飞鑫宇浩然子涵轩"
    "梓睿一诺欣怡佳琪雨萱晨阳博文思雅婷俊辉彬斌晓东海波健林琳瑶颖慧凯旭昊天泽翔宁康琦璐"
    "璇煜瀚琰骞珩昶赟淼翊瑾彦"
)
FIRST_EN = words(
    "James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Susan"
)
FIRST_EN += words("Richard Jessica Joseph Sarah Thomas Karen Daniel Nancy Matthew Lisa Emma Olivia")
LAST_EN = words("Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Wilson")
LAST_EN += words(
    "Anderson Taylor Thomas Moore Jackson Martin Lee Thompson White Harris Clark Lewis"
)
PROVINCES = ["北京市", "上海市", "广东省", "浙江省", "江苏省", "四川省", "湖北省", "山东省"]
CITIES = ["广州市", "杭州市", "南京市", "成都市", "武汉市", "青岛市", "深圳市", "苏州市"]
DISTRICTS = ["朝阳区", "海淀区", "天河区", "西湖区", "鼓楼区", "武侯区", "江汉区", "市南区"]
STREETS = ["建国路", "中山路", "人民大道", "解放街", "文一西路", "长安街", "学院路", "滨江大道"]
EN_STREETS = ["Main", "Oak", "Maple", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park", "Pine"]
EN_SUFFIX = ["Street", "St", "Avenue", "Ave", "Road", "Rd", "Boulevard", "Lane", "Drive", "Court"]
EN_CITIES = ["Springfield", "Portland", "Austin", "Denver", "Boston", "Seattle", "Madison"]
ICD = words("J45.9 E11.9 I10 K21.0 M54.5 F32.1 C34.1 N39.0 O80 A09 B18.1 J18.9 I25.1 E78.5 R51")
ICD += words("Z00.0 S72.0 G43.9 H52.4 L20.9 K35.8 I63.9 J44.1 N18.3 E03.9")
MOBILE_PREFIXES = words(
    "130 131 132 133 135 136 137 138 139 147 150 151 152 153 155 156 157 158 159"
)
MOBILE_PREFIXES += words("166 173 175 176 177 178 180 181 182 183 185 186 187 188 189 191 198 199")
AREAS = words("010 020 021 022 023 024 025 027 028 029 0755 0571 0512 0531 0311 0351 0871 0898")
PLATE_ABBR = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"

Rows = list[object]
Maker = Callable[[random.Random], object]


def column(rng: random.Random, rows: int, make: Maker, *, messy: bool = False) -> Rows:
    """`rows` values from `make`; messy columns get whitespace, blanks and a few bad values."""
    out: Rows = []
    for _ in range(rows):
        value = make(rng)
        if messy:
            roll = rng.random()
            if roll < 0.05:
                value = f"  {value}\t"
            elif roll < 0.08:
                value = rng.choice(["", None, "-", "N/A", "无"])
            elif roll < 0.11:
                value = rng.choice(["unknown", "待补充", "0", "see notes"])
        out.append(value)
    return out


def birth(rng: random.Random) -> dt.date:
    return dt.date(1935, 1, 1) + dt.timedelta(days=rng.randrange(80 * 365))


def resident_id(rng: random.Random) -> str:
    region = rng.choice(["110105", "310104", "440305", "330106", "510107", "130503", "542621"])
    value = make_id(region, birth(rng), rng.randrange(1000))
    return value.lower() if rng.random() < 0.3 else value


def mobile(rng: random.Random) -> str:
    n = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
    forms = [
        n,
        f"{n[:3]}-{n[3:7]}-{n[7:]}",
        f"+86 {n[:3]} {n[3:7]} {n[7:]}",
        f"+86{n}",
        f"(+86){n}",
    ]
    return rng.choice(forms)


def landline(rng: random.Random) -> str:
    area = rng.choice(AREAS)
    digits = 8 if len(area) == 3 else rng.choice([7, 8])
    local = str(rng.randint(2, 9)) + "".join(rng.choice(string.digits) for _ in range(digits - 1))
    forms = [f"{area}-{local}", f"({area}){local}", f"+86 {area[1:]} {local}", f"{area}{local}"]
    forms.append(f"{area}-{local}-{rng.randint(1, 999)}")
    return rng.choice(forms)


def bank_card(rng: random.Random) -> str:
    prefix, length = rng.choice([("622202", 19), ("621700", 19), ("436742", 16), ("518710", 16)])
    card = make_card(rng, prefix, length)
    return " ".join(card[i : i + 4] for i in range(0, len(card), 4)) if rng.random() < 0.3 else card


def passport(rng: random.Random) -> str:
    digits = "".join(rng.choice(string.digits) for _ in range(8))
    return rng.choice([f"E{digits}", f"G{digits}", f"E{rng.choice(PLATE_LETTERS)}{digits[1:]}"])


def email(rng: random.Random) -> str:
    user = rng.choice(["zhang", "li.na", "wang_wei", "user", "j.smith"]) + str(rng.randrange(10000))
    return f"{user}@{rng.choice(['example.com', 'qq.com', '163.com', 'corp.com.cn'])}"


def ip(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return ":".join(f"{rng.randrange(65536):x}" for _ in range(8))
    return ".".join(str(rng.randrange(256)) for _ in range(4))


def plate(rng: random.Random) -> str:
    head = rng.choice(PLATE_ABBR) + rng.choice("ABCDEFGHJK")
    if rng.random() < 0.2:
        return head + rng.choice("DF") + "".join(rng.choice(string.digits) for _ in range(5))
    tail = "".join(rng.choice(string.digits) for _ in range(4))
    return head + rng.choice([tail + rng.choice(string.digits), rng.choice("ABCDE") + tail])


def name_cn(rng: random.Random) -> str:
    size = 1 if rng.random() < 0.3 else 2
    surname = rng.choice(["欧阳", "司马", "上官"]) if rng.random() < 0.02 else rng.choice(SURNAMES)
    return surname + "".join(rng.choice(GIVEN) for _ in range(size))


def name_en(rng: random.Random) -> str:
    name = f"{rng.choice(FIRST_EN)} {rng.choice(LAST_EN)}"
    roll = rng.random()
    if roll < 0.05:
        return f"{rng.choice(['Mr.', 'Mrs.', 'Dr.'])} {name}"
    if roll < 0.10:
        first, last = name.split()
        return f"{first} {rng.choice(PLATE_LETTERS)}. {last}"
    return name


def address_cn(rng: random.Random) -> str:
    street = f"{rng.choice(STREETS)}{rng.randint(1, 999)}号"
    tail = rng.choice(
        ["", f" {rng.randint(1, 30)}栋{rng.randint(1, 6)}单元{rng.randint(101, 2808)}室"]
    )
    return rng.choice(PROVINCES) + rng.choice(CITIES) + rng.choice(DISTRICTS) + street + tail


def address_en(rng: random.Random) -> str:
    street = f"{rng.randint(1, 9999)} {rng.choice(EN_STREETS)} {rng.choice(EN_SUFFIX)}"
    state = rng.choice(["CA", "NY", "TX"])
    return f"{street}, {rng.choice(EN_CITIES)}, {state} {rng.randrange(10**5):05d}"


def date_text(rng: random.Random) -> str:
    d = birth(rng)
    return rng.choice(
        [f"{d:%Y-%m-%d}", f"{d:%Y/%m/%d}", f"{d.year}年{d.month}月{d.day}日", f"{d:%Y%m%d}"]
    )


def iban(rng: random.Random) -> str:
    def digits(n: int) -> str:
        return "".join(rng.choice(string.digits) for _ in range(n))

    country, bban = rng.choice(
        [("DE", digits(18)), ("GB", "NWBK" + digits(14)), ("FR", digits(23)), ("ES", digits(20))]
    )
    value = make_iban(country, bban)
    return (
        " ".join(value[i : i + 4] for i in range(0, len(value), 4)) if rng.random() < 0.3 else value
    )


def e164(rng: random.Random) -> str:
    return rng.choice(
        [
            f"+1 {rng.randint(201, 989)} {rng.randint(200, 999)} {rng.randrange(10000):04d}",
            f"+44 20 {rng.randint(2000, 9999)} {rng.randrange(10000):04d}",
            f"+49 30 {rng.randrange(10**8):08d}",
            f"+33 1 {rng.randrange(10**8):08d}",
            f"+81 3-{rng.randint(1000, 9999)}-{rng.randrange(10000):04d}",
            f"+8613{rng.randrange(10**9):09d}",
        ]
    )


def nanp(rng: random.Random) -> str:
    area, exchange, line = rng.randint(201, 989), rng.randint(200, 999), rng.randrange(10000)
    forms = [
        f"({area}){exchange}-{line:04d}",
        f"{area}-{exchange}-{line:04d}",
        f"{area}.{exchange}.{line:04d}",
    ]
    forms += [
        f"+1-{area}-{exchange}-{line:04d}x{rng.randint(1, 9999)}",
        f"001-{area}-{exchange}-{line:04d}",
    ]
    return rng.choice(forms)


def phone_uk(rng: random.Random) -> str:
    line = f"{rng.randint(200, 999)} {rng.randrange(10000):04d}"
    return rng.choice([f"(0161) {line}", f"+44 20 {line}", f"0113 {line}", f"+44(0)121 {line}"])


def address_uk(rng: random.Random) -> str:
    street = f"{rng.choice(LAST_EN)} {rng.choice(['Road', 'Lane', 'Close', 'Crescent', 'Hill'])}"
    postcode = (
        f"{rng.choice(['SW', 'N', 'M', 'B', 'LS'])}{rng.randint(1, 20)} {rng.randint(1, 9)}AB"
    )
    head = rng.choice([f"{rng.randint(1, 300)} {street}", f"Flat {rng.randint(1, 90)}\n{street}"])
    return f"{head}\n{rng.choice(EN_CITIES)}\n{postcode}"


def free_text(rng: random.Random) -> str:
    n = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
    return rng.choice(
        [
            f"请联系{name_cn(rng)}，电话{n}，谢谢",
            f"客户反馈物流太慢，已安排{rng.randint(1, 5)}天内回访",
            f"Customer called about order {rng.randrange(10**6)}, email {email(rng)} for follow-up",
            "复诊，情况稳定，建议继续按时服药并定期复查",
            f"已核实身份证{resident_id(rng)}，资料齐全",
            "The package arrived damaged; a replacement was sent the next day.",
        ]
    )


def ref_no(rng: random.Random) -> str:
    return wrong_check(resident_id(rng)).upper()


def digits(n: int) -> Maker:
    return lambda rng: (
        str(rng.randint(1, 9)) + "".join(rng.choice(string.digits) for _ in range(n - 1))
    )


def choose(*values: object) -> Maker:
    return lambda rng: rng.choice(values)


POSITIVE: list[tuple[str, Maker, Label, bool]] = [
    ("身份证号", resident_id, Label.CN_RESIDENT_ID, True),
    ("col_a", resident_id, Label.CN_RESIDENT_ID, False),
    ("手机", mobile, Label.CN_MOBILE, True),
    ("contact", mobile, Label.CN_MOBILE, False),
    ("office_tel", landline, Label.CN_LANDLINE, True),
    ("col_b", landline, Label.CN_LANDLINE, False),
    ("card_no", bank_card, Label.BANK_CARD, True),
    ("col_c", bank_card, Label.BANK_CARD, False),
    ("统一社会信用代码", make_uscc, Label.CN_USCC, False),
    ("passport_no", passport, Label.PASSPORT, True),
    ("col_d", passport, Label.PASSPORT, False),
    ("email", email, Label.EMAIL, True),
    ("col_e", email, Label.EMAIL, False),
    ("client_ip", ip, Label.IP_ADDRESS, True),
    ("车牌号", plate, Label.CN_LICENSE_PLATE, True),
    ("col_f", plate, Label.CN_LICENSE_PLATE, False),
    ("姓名", name_cn, Label.PERSON_NAME, True),
    ("col_g", name_cn, Label.PERSON_NAME, False),
    ("full_name", name_en, Label.PERSON_NAME, True),
    ("col_h", name_en, Label.PERSON_NAME, False),
    ("地址", address_cn, Label.ADDRESS, True),
    ("col_i", address_cn, Label.ADDRESS, False),
    ("street_address", address_en, Label.ADDRESS, True),
    ("birth_date", date_text, Label.DATE, True),
    ("col_j", date_text, Label.DATE, False),
    ("diagnosis", lambda rng: rng.choice(ICD), Label.ICD10, True),
    ("col_k", lambda rng: rng.choice(ICD), Label.ICD10, False),
    ("iban", iban, Label.IBAN, False),
    ("col_l", iban, Label.IBAN, False),
    ("intl_phone", e164, Label.PHONE_E164, False),
    (
        "联系电话",
        lambda rng: mobile(rng) if rng.random() < 0.6 else landline(rng),
        Label.CN_MOBILE,
        True,
    ),
    ("phone_us", nanp, Label.PHONE_E164, False),
    ("phone_uk", phone_uk, Label.PHONE_E164, False),
    ("address_uk", address_uk, Label.ADDRESS, False),
]

NEGATIVE: list[tuple[str, Maker]] = [
    ("ref_no", ref_no),
    ("id", digits(18)),
    ("order_no", lambda rng: f"SO{rng.randint(2020, 2025)}{rng.randrange(10**10):010d}"),
    ("order_id", digits(16)),
    ("amount", lambda rng: f"{rng.uniform(1, 99999):.2f}"),
    ("price", lambda rng: f"¥{rng.randint(1, 9999):,}.{rng.randrange(100):02d}"),
    ("comment", free_text),
    ("product_code", lambda rng: f"SKU-{rng.randrange(10**5):05d}"),
    ("part_code", lambda rng: f"{rng.choice(PLATE_LETTERS)}{rng.randrange(100):02d}"),
    ("token", lambda rng: uuid.UUID(int=rng.getrandbits(128)).hex),
    ("uuid", lambda rng: str(uuid.UUID(int=rng.getrandbits(128)))),
    ("postcode", lambda rng: f"{rng.randint(10, 86)}{rng.randrange(10**4):04d}"),
    ("year", lambda rng: str(rng.randint(1950, 2024))),
    ("count", lambda rng: str(rng.randint(0, 10**6))),
    ("serial", digits(8)),
    ("timestamp", lambda rng: str(rng.randint(1_500_000_000, 1_800_000_000))),
    ("gender", choose("男", "女", "M", "F")),
    ("flag", choose("Y", "N", "是", "否", "true", "false")),
    ("city", choose("北京", "上海", "广州", "深圳", "杭州市", "南京", "成都", "武汉市", "西安")),
    (
        "city_en",
        choose("New York", "San Francisco", "Los Angeles", "Carson City", "Salt Lake City"),
    ),
    (
        "product",
        choose("华为手机", "小米电视", "茅台酒", "可口可乐", "联想电脑", "王老吉", "康师傅"),
    ),
    ("product_en", choose("Apple Watch", "Galaxy Note", "Surface Pro", "Jack Daniels Honey")),
    ("department", choose("财务部", "人事部", "销售部", "市场部", "技术中心", "行政处", "研发部")),
    ("company", choose("北京中关村科技有限公司", "上海浦东发展银行", "杭州阿里巴巴集团")),
    ("status", choose("active", "pending", "closed", "已完成", "处理中")),
    (
        "time",
        lambda rng: f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}",
    ),
    ("version", lambda rng: f"{rng.randrange(5)}.{rng.randrange(20)}.{rng.randrange(50)}"),
    ("region_code", choose("110105", "310104", "440305", "330106")),
    ("mac", lambda rng: ":".join(f"{rng.randrange(256):02X}" for _ in range(6))),
    ("url", lambda rng: f"https://example.com/item/{rng.randrange(10**6)}"),
    ("year_month", lambda rng: f"{rng.randint(2000, 2024)}-{rng.randint(1, 12):02d}"),
    ("ratio", lambda rng: f"{rng.random() * 100:.1f}%"),
    ("version", lambda rng: ".".join(str(rng.randrange(10)) for _ in range(4))),
    ("doc_code", lambda rng: f"{rng.choice('ABCMNXZ')}{rng.randrange(10**8):08d}"),
    ("digits12", digits(12)),
    ("card_like", lambda rng: "6" + "".join(rng.choice(string.digits) for _ in range(15))),
    (
        "ssn_us",
        lambda rng: f"{rng.randint(100, 899)}-{rng.randint(10, 99)}-{rng.randrange(10**4):04d}",
    ),
    (
        "isbn",
        lambda rng: (
            f"978-{rng.randint(0, 9)}-{rng.randrange(10**5):05d}-{rng.randrange(10**3):03d}-1"
        ),
    ),
    (
        "job",
        choose("软件工程师", "销售经理", "会计", "Senior Software Engineer", "Product Manager"),
    ),
    ("given_only", choose("玉兰", "秀英", "建国", "伟", "Steven", "Mary", "Linda")),
    ("surname_only", choose("王", "李", "张", "Smith", "Johnson")),
]


def synthetic_columns(rows: int, seed: int = 2026) -> list[tuple[str, Rows, Label | None]]:
    """A labelled set: a messy column per label (with and without a name hint), many negatives."""
    rng = random.Random(seed)
    columns = [
        (name, column(rng, rows, make, messy=True), label) for name, make, label, _ in POSITIVE
    ]
    columns += [(name, column(rng, rows, make), None) for name, make in NEGATIVE]
    return columns


def detect(name: str, values: Rows | pl.Series, **kwargs: int | None) -> ColumnDetector:
    detector = ColumnDetector(name, **kwargs)  # type: ignore[arg-type]
    detector.update(
        values if isinstance(values, pl.Series) else pl.Series(name, values, dtype=pl.String)
    )
    return detector


def test_every_column_of_the_synthetic_set_is_labelled_right() -> None:
    wrong = []
    # 1,500 rows: past PRUNE_AFTER, so candidate pruning is part of what is tested.
    for name, values, expected in synthetic_columns(rows=1_500):
        verdict = detect(name, values).verdict()
        if verdict.label != expected:
            wrong.append((name, expected, verdict.label, verdict.rows_valid, verdict.rows_checked))
    assert wrong == []


def test_typed_columns_are_read_as_text() -> None:
    rng = random.Random(5)
    mobiles = pl.Series(
        "m", [int(rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}") for _ in range(200)]
    )
    dates = pl.Series("d", [birth(rng) for _ in range(200)])
    ymd = pl.Series("n", [int(f"{birth(rng):%Y%m%d}") for _ in range(200)])
    excel = mobiles.cast(pl.Float64)  # spreadsheets hand numbers over as floats
    assert detect("col", mobiles).verdict().label is Label.CN_MOBILE
    assert detect("col", excel).verdict().label is Label.CN_MOBILE
    assert detect("col", dates).verdict().label is Label.DATE
    assert detect("col", ymd).verdict().label is Label.DATE
    assert (
        detect("col", pl.Series("x", [rng.randrange(10**8) for _ in range(200)])).verdict().label
        is None
    )
    assert detect("col", pl.Series("f", [rng.random() for _ in range(200)])).verdict().label is None


def test_pyarrow_input_and_dictionary_arrays() -> None:
    ids = [resident_id(random.Random(i)) for i in range(50)]
    detector = ColumnDetector("x")
    detector.update(pa.array(ids))
    detector.update(pa.chunked_array([pa.array(ids).dictionary_encode()]))
    assert detector.verdict().label is Label.CN_RESIDENT_ID
    assert detector.verdict().rows_checked == 100


# ----------------------------------------------------------------------------- decision rule


def test_ref_no_with_wrong_check_digits_is_not_an_id_even_with_an_id_hint() -> None:
    rng = random.Random(1)
    values = [ref_no(rng) for _ in range(300)]
    for name in ("ref_no", "身份证号", "id_card"):
        verdict = detect(name, values).verdict()
        assert verdict.label is None
        assert verdict.rows_valid < 60  # ~10 % pass Luhn: the best remaining candidate, if any


def test_col_a_of_valid_ids_is_an_id_without_any_hint() -> None:
    rng = random.Random(2)
    verdict = detect("col_a", [resident_id(rng) for _ in range(300)]).verdict()
    assert verdict.label is Label.CN_RESIDENT_ID
    assert verdict.rows_valid == verdict.rows_checked == 300
    assert verdict.confidence > 0.99


def test_threshold_and_what_a_hint_changes() -> None:
    rng = random.Random(3)
    mixed = [mobile(rng) if i % 10 < 7 else f"ext {i}" for i in range(300)]  # 70 % valid
    assert detect("col", mixed).verdict().label is None
    assert detect("手机号码", mixed).verdict().label is Label.CN_MOBILE
    half = [
        mobile(rng) if i % 2 else f"ext {i}" for i in range(300)
    ]  # 50 %: even a hint is not enough
    assert detect("mobile", half).verdict().label is None


def test_passport_generic_shapes_need_the_hint() -> None:
    rng = random.Random(4)
    us = [f"{rng.choice('ACDF')}{rng.randrange(10**8):08d}" for _ in range(200)]
    assert detect("doc", us).verdict().label is None
    assert detect("passport_number", us).verdict().label is Label.PASSPORT


def test_undotted_code_column_is_not_icd10_without_a_hint() -> None:
    rng = random.Random(6)
    codes = [f"{rng.choice('ABCFGJKMN')}{rng.randrange(100):02d}" for _ in range(200)]
    assert detect("code", codes).verdict().label is None
    assert detect("icd_code", codes).verdict().label is Label.ICD10


def test_mobile_beats_e164_on_a_tie_and_loses_on_mixed_countries() -> None:
    rng = random.Random(7)
    plus86 = [f"+86{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}" for _ in range(200)]
    assert detect("phone", plus86).verdict().label is Label.CN_MOBILE
    world = [e164(rng) for _ in range(300)]
    assert detect("phone", world).verdict().label is Label.PHONE_E164


def test_dates_as_yyyymmdd_versus_plain_integers() -> None:
    rng = random.Random(8)
    assert detect("dt", [f"{birth(rng):%Y%m%d}" for _ in range(300)]).verdict().label is Label.DATE
    assert (
        detect("n", [str(rng.randint(10**7, 10**8 - 1)) for _ in range(300)]).verdict().label
        is None
    )
    sequence = [str(20240001 + i) for i in range(300)]  # year-prefixed running numbers
    assert detect("no", sequence).verdict().label is None


def test_bank_cards_versus_resident_ids() -> None:
    rng = random.Random(9)
    cards18 = [make_card(rng, "6", 18) for _ in range(300)]
    assert detect("col", cards18).verdict().label is Label.BANK_CARD
    ids = [resident_id(rng) for _ in range(300)]
    assert detect("card_no", ids).verdict().label is Label.CN_RESIDENT_ID


def test_free_text_is_unlabelled_and_counts_what_it_contains() -> None:
    verdict = detect(
        "remark", ["请联系张三，电话13800138000"] * 10 + ["周三下午到店取货，谢谢配合"] * 10
    ).verdict()
    assert verdict.label is None
    assert verdict.labels_in_text == {Label.CN_MOBILE: 10}
    labelled = detect("mobile", ["13800138000"] * 20).verdict()
    assert labelled.labels_in_text == {}


def test_find_in_text_counts_each_validated_identifier() -> None:
    text = pl.Series(
        [
            f"身份证{VALID_IDS[0]}，手机+86 139 1234 5678，邮箱 a.b@example.com",
            "车牌京A12345于2024年1月2日登记，IP 10.0.0.1，座机010-62345678",
            f"号码 {wrong_check(VALID_IDS[1])} 无效，13800138000 也写错成 1380013800",
            "USCC 91350100M000100Y43, IBAN DE89 3704 0044 0532 0130 00",
        ]
    )
    assert find_in_text(text) == {
        Label.CN_RESIDENT_ID: 1,
        Label.CN_MOBILE: 2,
        Label.EMAIL: 1,
        Label.CN_LICENSE_PLATE: 1,
        Label.DATE: 1,
        Label.IP_ADDRESS: 1,
        Label.CN_LANDLINE: 1,
        Label.CN_USCC: 1,
        Label.IBAN: 1,
    }
    assert find_in_text(pl.Series(["nothing here", None])) == {}


def test_names_versus_places_products_and_departments() -> None:
    rng = random.Random(10)
    assert detect("name", [name_cn(rng) for _ in range(300)]).verdict().label is Label.PERSON_NAME
    cities = ["北京", "上海", "杭州", "苏州", "南京", "武汉", "长沙", "郑州", "合肥", "西安"] * 20
    assert detect("name", cities).verdict().label is None
    departments = ["财务部", "人事部", "销售部", "市场部", "技术部", "行政部", "法务部"] * 20
    assert detect("dept_name", departments).verdict().label is None
    places_en = [
        "New York",
        "Los Angeles",
        "San Diego",
        "Fort Worth",
        "Santa Clara",
        "Long Beach",
    ] * 20
    assert detect("city", places_en).verdict().label is None


def test_plates_versus_other_codes() -> None:
    rng = random.Random(12)
    assert detect("col", [plate(rng) for _ in range(200)]).verdict().label is Label.CN_LICENSE_PLATE
    codes = [f"{rng.choice('ABC')}{rng.randrange(10**5):05d}" for _ in range(200)]
    assert detect("plate", codes).verdict().label is None


def test_sampling_stops_at_sample_rows_and_full_pass_reads_everything() -> None:
    values = pl.Series("e", ["a@b.cn"] * 25_000)
    sampled = ColumnDetector("e", sample_rows=10_000)
    assert not sampled.done
    sampled.update(values)
    assert sampled.done
    sampled.update(values)  # ignored
    assert sampled.verdict().rows_checked == 10_000
    full = ColumnDetector("e", sample_rows=None)
    full.update(values)
    full.update(values)
    assert not full.done
    assert full.verdict().rows_checked == 50_000


def test_phone_columns_mixing_mobiles_and_landlines_get_the_majority_kind() -> None:
    rng = random.Random(13)
    mixed = [mobile(rng) if i % 5 < 3 else landline(rng) for i in range(3000)]  # 60 / 40
    verdict = detect("col", mixed).verdict()
    assert verdict.label is Label.CN_MOBILE
    assert verdict.rows_valid == 1800
    landlines = [landline(rng) if i % 5 < 3 else mobile(rng) for i in range(3000)]
    assert detect("col", landlines).verdict().label is Label.CN_LANDLINE
    junk = [mobile(rng) if i % 2 else f"ext {i}" for i in range(500)]
    assert detect("col", junk).verdict().label is None


def test_a_hint_never_decides_alone() -> None:
    words_only = ["see attached", "pending", "n/a later", "call back", "unknown"] * 40
    for name in ("email", "手机", "身份证", "姓名", "地址", "ip", "passport"):
        assert detect(name, words_only).verdict().label is None


def test_reference_tables_hold_known_facts() -> None:
    codes = {d.code: d for d in reference.divisions()}
    assert codes["110000"].name == "北京市" and codes["440300"].name == "深圳市"
    assert codes["330106"].level == "county" and not codes["110228"].current
    assert len([d for d in codes.values() if d.level == "province"]) == 34
    assert {"欧阳", "王", "肖"} <= set(reference.cn_surnames())
    assert reference.cn_surnames()["单"] == "shan"
    assert {"010", "0755", "0571"} <= reference.cn_area_codes()
    assert {"138", "199", "1349"} <= reference.cn_mobile_prefixes()
    assert "154" not in reference.cn_mobile_prefixes()
    assert reference.iban_lengths()["DE"] == 22 and reference.iban_lengths()["GB"] == 22
    assert {"1", "44", "86", "852"} <= reference.e164_calling_codes()
    assert {"john", "mary"} <= reference.latin_given_names()
    assert {"杭州", "杭州市", "周宁县"} <= reference.cn_place_names()
    assert "周宁" not in reference.cn_place_names()
    assert {"zhang", "xiang"} <= reference.pinyin_syllables()
    assert {"Street", "St", "Avenue"} <= reference.street_suffixes()


def test_sample_rows_must_be_positive() -> None:
    with pytest.raises(InvalidInputError) as caught:
        ColumnDetector("x", sample_rows=0)
    assert caught.value.params == {"sample_rows": 0}


def test_empty_and_blank_columns() -> None:
    verdict = detect("x", [None, "", "  ", "N/A"]).verdict()
    assert (verdict.label, verdict.rows_checked, verdict.rows_valid, verdict.confidence) == (
        None,
        0,
        0,
        0.0,
    )
    assert ColumnDetector("y").verdict().rows_checked == 0
