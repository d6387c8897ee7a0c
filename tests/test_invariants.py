"""Runtime invariants are explicit checks, not asserts: they hold under `python -O` too.

Each test breaks one invariant with real parts (a database that drops a row, a workload whose
size is wrong, an unsealed share, a zero scalar, a model used without its inputs) and shows the
clear error that names it.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import numpy as np
import polars as pl
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import text

from shugu.api.transcryptor import sealed_share
from shugu.errors import ConflictError, InvalidInputError, ShuguError
from shugu.ledger import Event
from shugu.pep.benchmark import LOOPS, Workload
from shugu.pep.distributed import Transcryptor
from shugu.pep.group import G, Scalar
from shugu.pep.ports import ShareAnswer
from shugu.pep.sharing import SealedShare, seal_share
from shugu.privacy.anonymity import DistinctLDiversity, HierarchicalTCloseness, Hierarchy
from shugu.privacy.anonymity.data import encode
from shugu.privacy.anonymity.search import Evaluation, Evaluator
from shugu.runtime import Hub

ID = "01M8DPABCH53NJF7BQZQV6XJXG"


# -- the ledger: a checkpoint row that must exist ------------------------------------------------


@pytest.fixture
def checkpoints_dropped(hub: Hub) -> Iterator[Hub]:
    """The hub with a database trigger that silently drops every new checkpoint row."""
    dialect = hub.db.engine.dialect.name
    if dialect == "sqlite":
        install = [
            "CREATE TRIGGER shugu_test_drop BEFORE INSERT ON ledger_checkpoints"
            " BEGIN SELECT RAISE(IGNORE); END"
        ]
        remove = ["DROP TRIGGER IF EXISTS shugu_test_drop"]
    else:
        install = [
            "CREATE FUNCTION shugu_test_drop() RETURNS trigger LANGUAGE plpgsql"
            " AS $$ BEGIN RETURN NULL; END $$",
            "CREATE TRIGGER shugu_test_drop BEFORE INSERT ON ledger_checkpoints"
            " FOR EACH ROW EXECUTE FUNCTION shugu_test_drop()",
        ]
        remove = [
            "DROP TRIGGER IF EXISTS shugu_test_drop ON ledger_checkpoints",
            "DROP FUNCTION IF EXISTS shugu_test_drop()",
        ]
    with hub.db.session() as session:
        for statement in install:
            session.execute(text(statement))
    try:
        yield hub
    finally:
        with hub.db.session() as session:
            for statement in remove:
                session.execute(text(statement))


def test_a_checkpoint_that_vanishes_after_it_was_stored_is_an_error(
    checkpoints_dropped: Hub,
) -> None:
    ledger = checkpoints_dropped.ledger
    ledger.append([Event("test.thing.happened", ID, (ID,), {"n": 1})])
    with pytest.raises(ShuguError, match="is missing right after it was stored") as caught:
        ledger.make_checkpoint()
    assert caught.value.code == "error"  # an internal error, not blamed on the caller
    assert caught.value.params == {"size": ledger.size()}


# -- the PEP benchmark: a loop that measures the wrong output ------------------------------------


@pytest.mark.parametrize("loop", sorted(LOOPS))
def test_a_benchmark_loop_with_the_wrong_output_size_is_refused(loop: str) -> None:
    workload = Workload.make(2)
    LOOPS[loop](workload)  # the right size passes
    wrong = dataclasses.replace(workload, n=3)
    with pytest.raises(ShuguError, match=f"benchmark loop {loop} produced"):
        LOOPS[loop](wrong)


# -- a transcryptor server never hands out its share in clear ------------------------------------


def test_a_transcryptor_share_in_clear_is_never_sent() -> None:
    transcryptor = Transcryptor.generate("t1")
    share = transcryptor.session_key_share("run-1")
    answer = ShareAnswer(share, G)
    with pytest.raises(ShuguError, match="t1 produced an unsealed session key share"):
        sealed_share(answer, "t1")


def test_a_sealed_transcryptor_share_passes() -> None:
    transcryptor = Transcryptor.generate("t1")
    share = transcryptor.session_key_share("run-1")
    recipient = X25519PrivateKey.generate().public_key().public_bytes_raw()
    sealed = seal_share(share, recipient)
    assert isinstance(sealed, SealedShare)
    assert sealed_share(ShareAnswer(sealed, G), "t1") is sealed


# -- the group: only zero has no inverse -----------------------------------------------------------


def test_inverting_a_zero_scalar_is_refused() -> None:
    zero = Scalar._trusted(bytes(32))  # bypasses the check every public constructor makes
    with pytest.raises(InvalidInputError, match="the scalar is zero"):
        zero.invert()


# -- anonymisation: models used without their inputs ---------------------------------------------

SIZES = np.array([2.0, 3.0])
HIST = np.array([[1.0, 1.0], [3.0, 0.0]])
REFERENCE = np.array([0.6, 0.4])


@pytest.mark.parametrize("monotone", [False, True])
def test_a_content_model_without_sensitive_counts_is_refused(monotone: bool) -> None:
    model = DistinctLDiversity(2)
    check = model.check_monotone if monotone else model.check
    with pytest.raises(InvalidInputError, match="needs a sensitive column"):
        check(SIZES, None, REFERENCE)


@pytest.mark.parametrize("monotone", [False, True])
def test_hierarchical_t_closeness_before_it_is_prepared_is_refused(monotone: bool) -> None:
    model = HierarchicalTCloseness(0.2)
    check = model.check_monotone if monotone else model.check
    with pytest.raises(ConflictError, match="before it was prepared with the sensitive"):
        check(SIZES, HIST, REFERENCE)


def test_the_classes_of_a_node_that_failed_the_monotone_part_are_refused() -> None:
    evaluation = Evaluation((1, 0), None, ok=False, monotone_ok=False)
    with pytest.raises(ConflictError, match="node 1,0 failed the monotone part"):
        _ = evaluation.known_classes


def test_an_evaluator_with_a_content_model_needs_the_sensitive_column() -> None:
    frame = pl.DataFrame({"sex": ["m", "f", "f"], "illness": ["a", "b", "a"]})
    sex = Hierarchy.from_rows([["m", "*"], ["f", "*"]])
    table = encode(frame, ["sex"], {"sex": sex})  # encoded without the sensitive column
    with pytest.raises(InvalidInputError, match="distinct l-diversity needs a sensitive column"):
        Evaluator(table, [DistinctLDiversity(2)], limit=0)


# -- under python -O ------------------------------------------------------------------------------


def test_the_checks_hold_under_python_optimise() -> None:
    probe = textwrap.dedent(
        """
        import numpy as np
        from shugu.errors import ShuguError
        from shugu.pep.group import Scalar
        from shugu.privacy.anonymity import DistinctLDiversity
        from shugu.privacy.anonymity.search import Evaluation

        if __debug__:
            raise SystemExit("not running under -O")
        attempts = [
            lambda: Scalar._trusted(bytes(32)).invert(),
            lambda: DistinctLDiversity(2).check(np.ones(1), None, np.ones(1)),
            lambda: Evaluation((0,), None, ok=False, monotone_ok=False).known_classes,
        ]
        for attempt in attempts:
            try:
                attempt()
            except ShuguError as error:
                print(error.code)
            else:
                print("passed")
        """
    )
    result = subprocess.run(
        [sys.executable, "-O", "-c", probe], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["invalid_input", "invalid_input", "conflict"]
