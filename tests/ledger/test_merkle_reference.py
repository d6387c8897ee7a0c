"""`shugu.ledger.merkle` against RFC 9162 §2.1 written out as its recursive definitions.

Self-contained (no shared conformance folder): the reference below is MTH, PATH and PROOF/SUBPROOF
exactly as the RFC states them, checked on the RFC 6962 test leaves' known roots, then compared
with the module's iterative code on every tree, index and size pair up to `SIZES`.
"""

from __future__ import annotations

import hashlib

import pytest

from shugu.ledger import merkle
from shugu.ledger.merkle import (
    EMPTY_ROOT,
    CompactRange,
    build_proof,
    consistency_ranges,
    inclusion_ranges,
    perfect_nodes,
    root_from_inclusion,
    root_of,
    verify_consistency,
    verify_inclusion,
)
from tests.ledger.test_merkle import make_proof, perfect_node_table

SIZES = 20
# The test leaves of RFC 6962's reference implementation (certificate-transparency).
CT_INPUTS = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

# --- the RFC's definitions, over the data (not the leaf hashes) -----------------------------------


def split(n: int) -> int:
    """The largest power of two smaller than n."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(data: list[bytes]) -> bytes:
    if not data:
        return hashlib.sha256(b"").digest()
    if len(data) == 1:
        return hashlib.sha256(b"\x00" + data[0]).digest()
    k = split(len(data))
    return hashlib.sha256(b"\x01" + mth(data[:k]) + mth(data[k:])).digest()


def path(m: int, data: list[bytes]) -> list[bytes]:
    if len(data) == 1:
        return []
    k = split(len(data))
    if m < k:
        return [*path(m, data[:k]), mth(data[k:])]
    return [*path(m - k, data[k:]), mth(data[:k])]


def subproof(m: int, data: list[bytes], whole: bool) -> list[bytes]:
    n = len(data)
    if m == n:
        return [] if whole else [mth(data)]
    k = split(n)
    if m <= k:
        return [*subproof(m, data[:k], whole), mth(data[k:])]
    return [*subproof(m - k, data[k:], False), mth(data[:k])]


DATA = [f"entry {i}".encode() for i in range(SIZES)]
LEAVES = [hashlib.sha256(b"\x00" + d).digest() for d in DATA]
TABLE = perfect_node_table(LEAVES)


def test_the_reference_gives_the_known_roots_of_the_rfc_6962_test_tree() -> None:
    for size, want in enumerate(CT_ROOTS, start=1):
        assert mth(CT_INPUTS[:size]).hex() == want
    assert mth([]) == EMPTY_ROOT


def test_hashes_and_roots_agree_with_the_reference() -> None:
    for size, want in enumerate(CT_ROOTS, start=1):
        assert root_of([merkle.leaf_hash(d) for d in CT_INPUTS[:size]]).hex() == want
    assert merkle.node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    assert root_of([]) == EMPTY_ROOT
    assert merkle.fold_nodes([]) == EMPTY_ROOT
    for size in range(SIZES + 1):
        assert root_of(LEAVES[:size]) == mth(DATA[:size])


@pytest.mark.parametrize("size", range(1, SIZES + 1), ids=lambda n: f"size={n}")
def test_inclusion_proofs_are_the_rfc_paths_and_verify(size: int) -> None:
    root = mth(DATA[:size])
    for index in range(size):
        proof = make_proof(inclusion_ranges(index, size), TABLE)
        assert proof == path(index, DATA[:size])
        assert root_from_inclusion(LEAVES[index], index, size, proof) == root
        verify_inclusion(LEAVES[index], index, size, proof, root)


@pytest.mark.parametrize("new", range(1, SIZES + 1), ids=lambda n: f"new={n}")
def test_consistency_proofs_are_the_rfc_proofs_and_verify(new: int) -> None:
    new_root = mth(DATA[:new])
    for old in range(1, new + 1):
        proof = make_proof(consistency_ranges(old, new), TABLE)
        assert proof == subproof(old, DATA[:new], True)
        verify_consistency(old, new, mth(DATA[:old]), new_root, proof)
    assert consistency_ranges(0, new) == []


@pytest.mark.parametrize("size", range(SIZES + 1), ids=lambda n: f"size={n}")
def test_a_compact_range_reports_every_perfect_node_it_completes(size: int) -> None:
    compact, seen = CompactRange(), {}
    for index, leaf in enumerate(LEAVES[:size]):
        completed = compact.append(leaf)
        expected = [
            (level, index >> level) for level in range((index + 1 & -(index + 1)).bit_length())
        ]
        assert [(level, i) for level, i, _ in completed] == expected
        for level, i, value in completed:
            assert value == mth(DATA[i << level : (i + 1) << level])
            seen[level, i] = value
    assert compact.size == size
    assert compact.root() == mth(DATA[:size])
    assert compact.hashes == [seen[node] for node in CompactRange.nodes_for(size)]
    assert CompactRange.restore(size, compact.hashes) == compact


@pytest.mark.parametrize("end", range(SIZES + 1), ids=lambda n: f"end={n}")
def test_perfect_nodes_cover_a_range_left_to_right_with_aligned_subtrees(end: int) -> None:
    for start in range(end + 1):
        nodes = perfect_nodes(start, end)
        spans = [(i << level, (i + 1) << level) for level, i in nodes]
        bounds = [start, *(e for _, e in spans)]
        assert [s for s, _ in spans] == bounds[:-1]
        assert bounds[-1] == end
        for level, i in nodes:  # each node the largest aligned one that fits
            at, bigger = i << level, 2 << level
            assert at % bigger or at + bigger > end
    assert build_proof([(0, end)], lambda wanted: TABLE) == [mth(DATA[:end])]
