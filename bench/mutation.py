"""Mutation scores of the Merkle tree and of the identifier validators, from mutmut's results.

    make mutation                        # mutmut run (config in pyproject [tool.mutmut]), then this
    uv run python -m bench.mutation      # the scores of the last run only

Reads ``mutmut results --all true`` and prints, per module, the mutants killed (a test failed or
timed out, as mutmut counts them), survived, and classified equivalent in `EQUIVALENT` (no test
can tell them from the original; each with its reason). The score is killed / (killed + survived)
over the mutants run, equivalent ones left out; exits 1 when a module scores below `MINIMUM` or
some of its mutants were not run.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter, defaultdict

MINIMUM = 97.0
MODULES = {"merkle": "shugu.ledger.merkle.", "validators": "shugu.privacy._validators."}
KILLED = {"killed", "timeout", "caught by type check", "segfault"}

# Mutants that behave exactly like the original on every input, with the reason.
_FN_NONZERO = (
    "`while not fn & 1 and fn != 0` as `... fn != 1`: the loop is entered with fn == sn > 0"
    " (sn == 0 was refused as too long) or fn odd, and an even fn > 0 reaches a set bit before 0,"
    " so fn is never 0 (nor 1, being even) in the test; the guard is RFC 9162's wording"
)
_USCC_DEFAULT = (
    "the lookup default of a USCC character (0 as None or 1, or no return dtype): the gate's"
    " pattern lets only characters of the alphabet through, so the default is never used"
)
_USCC_ZIP = "zip(strict=True) as strict=False/None/absent: both sides always hold 18 items"
_USCC = "shugu.privacy._validators.identifiers.x__check_uscc__mutmut_"
_V = "shugu.privacy._validators."
_NEVER_NULL = (
    "fill_null(True) for fill_null(False) over a mask computed from gated, non-null values with"
    " total operations (slices, lookups with a default, is_in, contains): it holds no null"
)
_MISSING_NULL = (
    "fill_null(True) where only a missing value gives null: the mask is then null, not False,"
    " and every caller drops nulls first (ColumnDetector) or fills them with False (validate)"
)
_DTYPE = (
    "the lookup's return dtype left out: the table's own integer type (Int64) instead of"
    " Int32/UInt32, for values that fit both, compared or summed the same way"
)
_STRICT = (
    "a strict cast for strict=False: the cast text is always ASCII digits (the gate and the"
    " pattern admit nothing else) short enough for the type, or null, so a strict cast never fails"
)
_ZIP = "zip(strict=...) changed: both sides always hold 3 items"
_PROPERTY = (
    r"\p{Han}/\p{Latin} spelt in another case: the regex crate matches property names"
    " loosely (case-insensitively)"
)
_DATE_FIXED = (
    "_date_fixed is a fast path for YYYY-MM-DD (also / and .) and YYYYMMDD; every value it accepts"
    " is accepted again by the first two _DATE_FORMS patterns, which see what it rejects. These"
    " mutants only make it reject more (a slice that reads a separator or the whole value, a year"
    " or month out of range, no match), so no result changes (6,000 fuzzed fixed-width dates"
    " agree); the mutants that accept more are killed by tests"
)
_FIXED = "shugu.privacy._validators.dates.x__date_fixed__mutmut_"
_NAME = "shugu.privacy._validators.names.x__cn_name__mutmut_"
EQUIVALENT: dict[str, str] = {
    "shugu.ledger.merkle.x_root_from_inclusion__mutmut_33": _FN_NONZERO,
    "shugu.ledger.merkle.x_verify_consistency__mutmut_93": _FN_NONZERO,
    **{f"{_USCC}{n}": _USCC_DEFAULT for n in (13, 14, 29)},
    **{f"{_USCC}{n}": _USCC_ZIP for n in (37, 40, 41)},
    # identifiers
    **{f"{_V}identifiers.x__mod97__mutmut_{n}": _STRICT for n in (6, 13, 31, 39)},
    f"{_V}identifiers.x__mod97__mutmut_14": (
        "`% 97` as `% 98` on the first 9-digit chunk: the longest IBAN of the registry has 33"
        " characters (RU), at most 64 digits expanded, so the first chunk of the 72 zero-filled"
        " digits is a single digit (a letter expands to 10-35, a digit is < 10), below both moduli"
    ),
    f"{_V}identifiers.x__luhn__mutmut_3": (
        "range(19) as range(20): the 20th digit of a UInt64 below 10^19 (19 zero-filled digits)"
        " is 0 and adds 0"
    ),
    f"{_V}identifiers.x__check_passport__mutmut_8": "[A-Z] as [a-z] under (?i): the same class",
    **{
        f"{_V}identifiers.x__check_icd10__mutmut_{n}": (
            "the gate's byte bound (<= 16 as < 16, <= 17, or | instead of &): the ICD-10 pattern"
            " that decides matches at most 15 bytes (A00.0AAAX000 and a 3-byte dagger)"
        )
        for n in (6, 11, 12)
    },
    f"{_V}identifiers.x__check_email__mutmut_8": _MISSING_NULL,
    **{f"{_V}identifiers.x__check_ip__mutmut_{n}": _MISSING_NULL for n in (7, 19)},
    **{f"{_V}identifiers.x__check_iban__mutmut_{n}": _DTYPE for n in (35,)},
    f"{_V}identifiers.x__check_iban__mutmut_34": (
        "an unknown country's length as null instead of 0: the comparison is then null, and the"
        " mask is filled with False, as 0 != length gives False"
    ),
    f"{_V}identifiers.x__check_iban__mutmut_48": (
        "an unknown country's length as 1 instead of 0: the shape test admits only 15-34"
        " characters, equal to neither"
    ),
    **{f"{_V}identifiers.x__check_resident_id__mutmut_{n}": _STRICT for n in (40, 41, 77, 84)},
    **{
        f"{_V}identifiers.x__check_resident_id__mutmut_{n}": (
            "slice(17, 1) as slice(17, None/2/absent): a gated value has 15 or 18 characters,"
            " so the slice is the same (empty or the check character)"
        )
        for n in (44, 46, 48)
    },
    f"{_V}identifiers.x__check_resident_id__mutmut_122": (
        "the check as fill_null(True): it is null only for a 15-digit number (no check"
        " character), where ~long already makes the value pass the check"
    ),
    f"{_V}identifiers.x__check_bank_card__mutmut_26": (
        "zfill(19) as zfill(20): one more leading zero, the same integer"
    ),
    f"{_V}identifiers.x__check_bank_card__mutmut_38": (
        "fill_null(True): the Luhn term is null only for more than 19 digits (UInt64"
        " overflow), where the issuer pattern (at most 19 digits) is already False"
    ),
    # base
    f"{_V}base.x__text_expr__mutmut_4": (
        "is_finite() | ... for &: a non-finite float fails floor() == V (NaN) or abs < 1e18 (inf)"
    ),
    f"{_V}base.x__text_expr__mutmut_7": "1e18 as 1e+18: the same literal",
    **{f"{_V}base.x__text_expr__mutmut_{n}": _STRICT for n in (13, 14)},
    f"{_V}base.x__expand__mutmut_6": (
        "clip(0) as clip(None): index -1 occurs only before the mask's first True, where the"
        " gathered value is anded with False"
    ),
    f"{_V}base.x__ymd_valid__mutmut_24": (
        "clip(0, 12) as clip(1, 12): only month 0 reads another table entry, and month 0 fails"
        " m.is_between(1, 12) anyway"
    ),
    **{f"{_V}base.x__lookup__mutmut_{n}": _DTYPE for n in (5, 9)},
    # phones
    f"{_V}phones.x__landline_expr__mutmut_37": _NEVER_NULL,
    **{f"{_V}phones.x__check_e164__mutmut_{n}": _NEVER_NULL for n in (118, 129)},
    f"{_V}phones.x__check_landline__mutmut_9": (
        "the gate's minimum of 10 bytes as 11: the shortest landline has 11 digits (0 + a 2-digit"
        " area code + 8, or 0 + a 3-digit code + 7), so no 10-byte value passes either way"
    ),
    f"{_V}phones.x__check_e164__mutmut_104": (
        "the NANP national pattern as null: every value it matches has a separator and 10 digits"
        " ^[2-9]..[2-9]...... with no leading 0 (never a Chinese landline), so it is sure again"
        " as a national number written with separators"
    ),
    # dates
    f"{_V}dates.x__date_form__mutmut_13": _DTYPE,
    **{f"{_V}dates.x__date_form__mutmut_{n}": _STRICT for n in (24, 25)},
    **{f"{_V}dates.x__date_form__mutmut_{n}": _ZIP for n in (28, 31, 34)},
    **{
        f"{_FIXED}{n}": _DATE_FIXED
        for n in (2, 3, 4, 5, 6, 14, 15, 16, 17, 19, 23, 24, 26, 27, 28, 29, 30, 31, 32, 34)
    },
    **{f"{_FIXED}{n}": _DATE_FIXED for n in (40, 41, 43, 44, 45, 46, 48, 49, 50)},
    # names and addresses
    **{f"{_NAME}{n}": _DTYPE for n in (89, 111)},
    **{f"{_NAME}{n}": _NEVER_NULL for n in (159, 227)},
    **{
        f"{_NAME}{n}": (
            "slice(1, 1) as slice(1, None/2/absent) of a given name of exactly 2 characters"
            " (the clause is anded with size == 2): the same character"
        )
        for n in (207, 208, 209, 214)
    },
    **{f"{_V}names.x__latin_name__mutmut_{n}": _NEVER_NULL for n in (104, 115)},
    **{f"{_V}names.x__check_person_name__mutmut_{n}": _PROPERTY for n in (8, 9, 17, 18)},
    **{f"{_V}addresses.x__check_address__mutmut_{n}": _PROPERTY for n in (16, 17)},
}


def results() -> dict[str, str]:
    """Every mutant's name and status, as mutmut reports them."""
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pairs = (line.strip().rsplit(": ", 1) for line in out.splitlines() if ": " in line)
    return dict(pair for pair in pairs if len(pair) == 2)


def tally(statuses: dict[str, str]) -> dict[str, Counter[str]]:
    """Per module: killed, survived, equivalent and any other status, counted."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for name, status in statuses.items():
        module = next((m for m, prefix in MODULES.items() if name.startswith(prefix)), None)
        if module is None:
            continue
        if name in EQUIVALENT:
            kind = "equivalent"
        elif status in KILLED:
            kind = "timeout" if status == "timeout" else "killed"
        else:
            kind = status
        counts[module][kind] += 1
    return counts


def main() -> int:
    statuses = results()
    counts = tally(statuses)
    failed = False
    print("| module | mutants | killed | (timeouts) | survived | equivalent | not run | score |")
    print("|---|---|---|---|---|---|---|---|")
    for module in MODULES:
        c = counts[module]
        killed = c["killed"] + c["timeout"]
        not_run = sum(c.values()) - killed - c["survived"] - c["equivalent"]
        checked = killed + c["survived"]
        score = 100.0 * killed / checked if checked else 0.0
        failed |= score < MINIMUM or not_run > 0
        print(
            f"| {module} | {sum(c.values())} | {killed} | {c['timeout']} | {c['survived']} "
            f"| {c['equivalent']} | {not_run} | {score:.1f} % |"
        )
    survivors = sorted(n for n, s in statuses.items() if s == "survived" and n not in EQUIVALENT)
    for name in survivors:
        print("survived:", name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
