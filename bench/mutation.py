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
EQUIVALENT: dict[str, str] = {
    "shugu.ledger.merkle.x_root_from_inclusion__mutmut_33": _FN_NONZERO,
    "shugu.ledger.merkle.x_verify_consistency__mutmut_93": _FN_NONZERO,
    **{f"{_USCC}{n}": _USCC_DEFAULT for n in (13, 14, 29)},
    **{f"{_USCC}{n}": _USCC_ZIP for n in (37, 40, 41)},
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
