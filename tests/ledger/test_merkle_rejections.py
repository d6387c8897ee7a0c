"""Every way `shugu.ledger.merkle` refuses its inputs, each told apart by its message.

A proof that is too long, too short, leads to another root, or holds a hash of the wrong length
are different faults; each test names the one it expects, so a check that fires for the wrong
reason (or a message that stops saying which) fails here.
"""

from __future__ import annotations

import pytest

from shugu.ledger import merkle
from shugu.ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    InvalidProofError,
    Node,
    build_proof,
    consistency_ranges,
    inclusion_ranges,
    leaf_hash,
    root_from_inclusion,
    root_of,
    verify_consistency,
    verify_inclusion,
)
from tests.ledger.test_merkle import make_proof, perfect_node_table

LEAVES = [leaf_hash(bytes([i])) for i in range(7)]
TABLE = perfect_node_table(LEAVES)
ROOT = root_of(LEAVES)
OTHER = leaf_hash(b"other")
WRONG_LENGTHS = [0, 1, HASH_SIZE - 1, HASH_SIZE + 1, 2 * HASH_SIZE]


def inclusion(index: int, size: int = len(LEAVES)) -> list[bytes]:
    return make_proof(inclusion_ranges(index, size), TABLE)


def consistency(old: int, new: int = len(LEAVES)) -> list[bytes]:
    return make_proof(consistency_ranges(old, new), TABLE)


# --- build_proof over a store that lacks a node -----------------------------------------------


def test_build_proof_names_the_first_node_the_store_lacks() -> None:
    ranges = inclusion_ranges(2, len(LEAVES))  # needs (0, 3), (1, 0) and the nodes of [4, 7)
    wanted: list[list[Node]] = []

    def lookup(nodes: list[Node]) -> dict[Node, bytes]:
        wanted.append(nodes)
        return {n: TABLE[n] for n in nodes if n not in {(1, 0), (0, 6)}}

    message = r"^the ledger store lacks node \(0, 6\); it is incomplete or damaged$"
    with pytest.raises(InvalidProofError, match=message) as info:
        build_proof(ranges, lookup)
    assert info.value.params["node"] == (0, 6)  # the first missing in sorted order
    assert wanted == [[(0, 3), (0, 6), (1, 0), (1, 2)]]  # one lookup, sorted, no duplicates


def test_build_proof_ignores_extra_nodes_and_folds_each_range() -> None:
    ranges = consistency_ranges(3, len(LEAVES))
    proof = build_proof(ranges, lambda _: TABLE)
    assert proof == [merkle.fold(r, LEAVES) for r in ranges]
    assert build_proof([], lambda nodes: {}) == []


# --- wrong-length hashes --------------------------------------------------------------------------


@pytest.mark.parametrize("length", WRONG_LENGTHS)
def test_root_from_inclusion_refuses_a_leaf_of_the_wrong_length(length: int) -> None:
    with pytest.raises(InvalidProofError, match=rf"^the leaf hash is {length} bytes, not 32$"):
        root_from_inclusion(b"\x01" * length, 2, len(LEAVES), inclusion(2))


@pytest.mark.parametrize("length", WRONG_LENGTHS)
@pytest.mark.parametrize("position", [0, 1, 2])
def test_root_from_inclusion_names_the_proof_hash_of_the_wrong_length(
    position: int, length: int
) -> None:
    proof = inclusion(2)
    proof[position] = proof[position][:length].ljust(length, b"\x01")
    message = rf"^hash {position + 1} of the proof is {length} bytes, not 32$"
    with pytest.raises(InvalidProofError, match=message):
        root_from_inclusion(LEAVES[2], 2, len(LEAVES), proof)


@pytest.mark.parametrize("length", WRONG_LENGTHS)
def test_verify_inclusion_refuses_a_root_of_the_wrong_length(length: int) -> None:
    root = ROOT[:length].ljust(length, b"\x01")  # a 31-byte root is a prefix of the real one
    with pytest.raises(InvalidProofError, match=rf"^the root hash is {length} bytes, not 32$"):
        verify_inclusion(LEAVES[2], 2, len(LEAVES), inclusion(2), root)


@pytest.mark.parametrize("length", WRONG_LENGTHS)
def test_verify_consistency_names_the_root_of_the_wrong_length(length: int) -> None:
    old_root, proof = root_of(LEAVES[:3]), consistency(3)
    short_old, short_new = old_root[:length].ljust(length, b"\x01"), ROOT[:length].ljust(length)
    with pytest.raises(InvalidProofError, match=rf"^the old root hash is {length} bytes, not 32$"):
        verify_consistency(3, len(LEAVES), short_old, ROOT, proof)
    with pytest.raises(InvalidProofError, match=rf"^the new root hash is {length} bytes, not 32$"):
        verify_consistency(3, len(LEAVES), old_root, short_new, proof)


@pytest.mark.parametrize("length", WRONG_LENGTHS)
def test_verify_consistency_names_the_proof_hash_of_the_wrong_length(length: int) -> None:
    proof = consistency(3)
    proof[-1] = proof[-1][:length].ljust(length, b"\x01")
    message = rf"^hash {len(proof)} of the proof is {length} bytes, not 32$"
    with pytest.raises(InvalidProofError, match=message):
        verify_consistency(3, len(LEAVES), root_of(LEAVES[:3]), ROOT, proof)


@pytest.mark.parametrize(("old", "new"), [(0, 0), (5, 5), (0, 7)])
def test_wrong_length_roots_are_refused_before_the_size_shortcuts(old: int, new: int) -> None:
    old_root = root_of(LEAVES[:old])
    with pytest.raises(InvalidProofError, match="old root hash is 31 bytes"):
        verify_consistency(old, new, old_root[:31], root_of(LEAVES[:new]), [])
    with pytest.raises(InvalidProofError, match="new root hash is 31 bytes"):
        verify_consistency(old, new, old_root, root_of(LEAVES[:new])[:31], [])


@pytest.mark.parametrize(
    ("size", "hashes"),
    [(7, [OTHER] * 2), (7, [OTHER] * 4), (0, [OTHER]), (4, [OTHER[:31]]), (3, [OTHER, b""])],
)
def test_restore_refuses_a_frontier_that_does_not_fit_its_size(
    size: int, hashes: list[bytes]
) -> None:
    message = r"^the stored ledger frontier does not match its size$"
    with pytest.raises(InvalidProofError, match=message):
        CompactRange.restore(size, hashes)


# --- too long, too short, another root ------------------------------------------------------------


@pytest.mark.parametrize(("index", "size"), [(0, 1), (0, 2), (2, 7), (6, 7), (3, 4)])
def test_an_inclusion_proof_with_an_extra_hash_is_too_long(index: int, size: int) -> None:
    proof = [*inclusion(index, size), OTHER]
    with pytest.raises(InvalidProofError, match=r"^the inclusion proof is too long$"):
        root_from_inclusion(LEAVES[index], index, size, proof)


@pytest.mark.parametrize(("index", "size"), [(0, 2), (2, 7), (6, 7), (3, 4), (4, 5)])
def test_an_inclusion_proof_missing_its_last_hash_is_too_short(index: int, size: int) -> None:
    proof = inclusion(index, size)[:-1]
    with pytest.raises(InvalidProofError, match=r"^the inclusion proof is too short$"):
        root_from_inclusion(LEAVES[index], index, size, proof)


def test_an_inclusion_proof_for_another_root_is_a_mismatch_not_a_length_fault() -> None:
    message = "^the inclusion proof of index 2 does not lead to the root of size 7$"
    with pytest.raises(InvalidProofError, match=message):
        verify_inclusion(LEAVES[2], 2, len(LEAVES), inclusion(2), root_of(LEAVES[:6]))
    with pytest.raises(InvalidProofError, match=message):
        verify_inclusion(OTHER, 2, len(LEAVES), inclusion(2), ROOT)
    verify_inclusion(LEAVES[2], 2, len(LEAVES), inclusion(2), ROOT)


@pytest.mark.parametrize(("index", "size"), [(-1, 7), (7, 7), (0, 0), (0, -1)])
def test_an_index_outside_the_tree_is_named(index: int, size: int) -> None:
    message = rf"^index {index} is outside a tree of size {size}$"
    with pytest.raises(InvalidProofError, match=message):
        root_from_inclusion(LEAVES[0], index, size, [])
    with pytest.raises(InvalidProofError, match=message):
        inclusion_ranges(index, size)


@pytest.mark.parametrize(("old", "new"), [(1, 7), (3, 7), (4, 7), (6, 7), (2, 3)])
def test_a_consistency_proof_with_an_extra_hash_is_too_long(old: int, new: int) -> None:
    proof = [*consistency(old, new), OTHER]
    with pytest.raises(InvalidProofError, match=r"^the consistency proof is too long$"):
        verify_consistency(old, new, root_of(LEAVES[:old]), root_of(LEAVES[:new]), proof)


@pytest.mark.parametrize(("old", "new"), [(1, 7), (3, 7), (5, 7), (6, 7), (3, 4)])
def test_a_consistency_proof_missing_its_last_hash_is_too_short(old: int, new: int) -> None:
    proof = consistency(old, new)[:-1]  # (a proof of one hash would become an empty one)
    assert proof
    with pytest.raises(InvalidProofError, match=r"^the consistency proof is too short$"):
        verify_consistency(old, new, root_of(LEAVES[:old]), root_of(LEAVES[:new]), proof)


def test_an_empty_consistency_proof_is_named() -> None:
    with pytest.raises(InvalidProofError, match=r"^the consistency proof is empty$"):
        verify_consistency(4, 7, root_of(LEAVES[:4]), ROOT, [])


@pytest.mark.parametrize("old", [1, 2, 3, 4, 5, 6])
def test_a_consistency_proof_against_other_roots_is_a_mismatch(old: int) -> None:
    message = rf"^the consistency proof from size {old} to 7 does not match the roots$"
    old_root, proof = root_of(LEAVES[:old]), consistency(old)
    with pytest.raises(InvalidProofError, match=message):
        verify_consistency(old, 7, OTHER, ROOT, proof)
    with pytest.raises(InvalidProofError, match=message):
        verify_consistency(old, 7, old_root, OTHER, proof)
    verify_consistency(old, 7, old_root, ROOT, proof)


def test_size_rules_of_consistency_are_told_apart() -> None:
    with pytest.raises(InvalidProofError, match=r"^no consistency proof from size 5 to size 4$"):
        verify_consistency(5, 4, ROOT, ROOT, [])
    with pytest.raises(InvalidProofError, match=r"^no consistency proof from size -1 to size 4$"):
        consistency_ranges(-1, 4)
    with pytest.raises(InvalidProofError, match=r"^the root of the empty tree must be the hash"):
        verify_consistency(0, 0, ROOT, ROOT, [])
    with pytest.raises(InvalidProofError, match=r"^equal sizes need equal roots and an empty"):
        verify_consistency(7, 7, ROOT, root_of(LEAVES[:6]), [])
    with pytest.raises(InvalidProofError, match=r"^equal sizes need equal roots and an empty"):
        verify_consistency(7, 7, ROOT, ROOT, [OTHER])
    with pytest.raises(InvalidProofError, match=r"^a consistency proof from the empty tree proves"):
        verify_consistency(0, 7, EMPTY_ROOT, ROOT, [])
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(7, 7, ROOT, ROOT, [])
