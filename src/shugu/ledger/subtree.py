"""Subtrees of the RFC 9162 Merkle tree and the checks of their proofs (Merkle Tree Certificates).

Section numbers refer to draft-ietf-plants-merkle-tree-certs. A *subtree* ``[start, end)`` is
the tree ``MTH(D[start:end])`` over a slice of the leaves, where ``0 <= start < end`` and ``start``
is a multiple of ``BIT_CEIL(end - start)`` (§4.1). A full subtree (a power-of-two size) is a
perfect node of every tree of at least ``end`` leaves; a partial one is a node only of the tree of
exactly ``end`` leaves, yet a *subtree consistency proof* still ties it to any larger tree (§4.4).
A *subtree inclusion proof* is an ordinary RFC 9162 inclusion proof inside the subtree (§4.3).

Only verification lives here; proofs are built from perfect nodes as in `shugu.ledger.merkle`.

>>> from shugu.ledger.merkle import fold, inclusion_ranges, leaf_hash, root_of
>>> leaves = [leaf_hash(bytes([i])) for i in range(14)]
>>> subtree, root = root_of(leaves[8:13]), root_of(leaves)
>>> proof = [fold(p, leaves[8:13]) for p in inclusion_ranges(10 - 8, 13 - 8)]
>>> verify_subtree_inclusion(leaves[10], 10, 8, 13, proof, subtree)
>>> spans = [(12, 13), (13, 14), (8, 12), (0, 8)]
>>> verify_subtree_consistency(8, 13, 14, subtree, root, [fold(s, leaves) for s in spans])
"""

from __future__ import annotations

from collections.abc import Sequence

from shugu.i18n import N_
from shugu.ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    InvalidProofError,
    node_hash,
    root_from_inclusion,
)

_Cursor = tuple[int, int, int]
"""The draft's ``(fn, sn, tn)``: the subtree's first and last leaf and the tree's last leaf,
each right-shifted once per level climbed."""


def is_subtree(start: int, end: int) -> bool:
    """Whether ``[start, end)`` is a subtree: ``0 <= start < end``, ``start`` aligned to its size.

    >>> is_subtree(8, 13), is_subtree(4, 8), is_subtree(2, 5), is_subtree(3, 3)
    (True, True, False, False)
    """
    return 0 <= start < end and start % (1 << (end - start - 1).bit_length()) == 0


def verify_subtree_inclusion(
    leaf_hash: bytes,
    index: int,
    start: int,
    end: int,
    proof: Sequence[bytes],
    subtree_root: bytes,
) -> None:
    """Check that the leaf at `index` (counted in the whole tree) is in subtree ``[start, end)``.

    The proof is the RFC 9162 inclusion proof of ``index - start`` in ``MTH(D[start:end])``.

    Raises:
        InvalidProofError: it is not, or the subtree, index or hashes are malformed.
    """
    _check_subtree(start, end)
    if not start <= index < end:
        raise InvalidProofError(
            N_("index {index} is outside the subtree [{start}, {end})"),
            index=index,
            start=start,
            end=end,
        )
    _check_hashes(subtree_root)
    if root_from_inclusion(leaf_hash, index - start, end - start, proof) != subtree_root:
        raise InvalidProofError(
            N_(
                "the inclusion proof of index {index} does not lead to the subtree [{start}, {end})"
            ),
            index=index,
            start=start,
            end=end,
        )


def verify_subtree_consistency(
    start: int,
    end: int,
    size: int,
    subtree_root: bytes,
    root: bytes,
    proof: Sequence[bytes],
) -> None:
    """Check that subtree ``[start, end)`` with `subtree_root` is part of the tree of `size`.

    Follows the draft's §4.4.3. As in transparency-dev/merkle, an empty range ``[s, s)`` with
    ``s <= size`` is also accepted: its hash is the empty-tree hash and its proof is empty.

    Raises:
        InvalidProofError: it is not, or the subtree, size or hashes are malformed.
    """
    _check_hashes(subtree_root, root, *proof)
    if start == end:
        _check_empty_subtree(start, size, subtree_root, proof)
        return
    _check_subtree(start, end)
    _check_fits(start, end, size)
    first, second = _fold_consistency(start, end, size, subtree_root, proof)
    if first != subtree_root or second != root:
        raise InvalidProofError(
            N_(
                "the consistency proof of the subtree [{start}, {end}) in a tree of size {size}"
                " does not match the roots"
            ),
            start=start,
            end=end,
            size=size,
        )


def _fold_consistency(
    start: int, end: int, size: int, subtree_root: bytes, proof: Sequence[bytes]
) -> tuple[bytes, bytes]:
    """Steps 2-7 of §4.4.3: the subtree hash and the tree root the proof leads to."""
    cursor = _skip_inner_levels((start, end - 1, size - 1))
    hashes = list(proof)
    if cursor[0] != cursor[1]:
        if not hashes:
            raise InvalidProofError(N_("the consistency proof is empty"))
        subtree_root = hashes.pop(0)
    first = second = subtree_root
    for sibling in hashes:
        first, second, cursor = _climb(sibling, first, second, cursor)
    if cursor[2] != 0:
        raise InvalidProofError(N_("the consistency proof is too short"))
    return first, second


def _skip_inner_levels(cursor: _Cursor) -> _Cursor:
    """Climb the levels that need no proof hash (steps 3-4 of §4.4.3)."""
    fn, sn, tn = cursor
    flush = sn == tn
    while fn != sn and (flush or sn & 1):
        fn, sn, tn = fn >> 1, sn >> 1, tn >> 1
    return fn, sn, tn


def _climb(
    sibling: bytes, first: bytes, second: bytes, cursor: _Cursor
) -> tuple[bytes, bytes, _Cursor]:
    """Fold one proof hash into both running hashes and move up (step 7 of §4.4.3)."""
    fn, sn, tn = cursor
    if tn == 0:
        raise InvalidProofError(N_("the consistency proof is too long"))
    if sn & 1 or sn == tn:
        if fn < sn:
            first = node_hash(sibling, first)
        second = node_hash(sibling, second)
        while not sn & 1:  # here sn == tn > 0, so a set bit is reached
            fn, sn, tn = fn >> 1, sn >> 1, tn >> 1
    else:
        second = node_hash(second, sibling)
    return first, second, (fn >> 1, sn >> 1, tn >> 1)


def _check_empty_subtree(
    start: int, size: int, subtree_root: bytes, proof: Sequence[bytes]
) -> None:
    _check_fits(start, start, size)
    if proof or subtree_root != EMPTY_ROOT:
        raise InvalidProofError(N_("an empty subtree needs the empty-tree hash and an empty proof"))


def _check_subtree(start: int, end: int) -> None:
    if not is_subtree(start, end):
        raise InvalidProofError(
            N_("[{start}, {end}) is not a subtree of a Merkle tree"), start=start, end=end
        )


def _check_fits(start: int, end: int, size: int) -> None:
    if not 0 <= start <= end <= size:
        raise InvalidProofError(
            N_("the subtree [{start}, {end}) does not fit in a tree of size {size}"),
            start=start,
            end=end,
            size=size,
        )


def _check_hashes(*hashes: bytes) -> None:
    if any(len(h) != HASH_SIZE for h in hashes):
        raise InvalidProofError(N_("a hash in the proof is not {size} bytes"), size=HASH_SIZE)
