"""The Merkle tree of RFC 9162 §2.1 (SHA-256): hashes, compact ranges, proofs and their checks.

Pure functions over bytes; no storage. A *perfect node* ``(level, index)`` is the root of the
complete subtree over leaves ``[index·2^level, (index+1)·2^level)``; every hash a proof needs is a
perfect node or a fold of a few of them, which is what lets the ledger store perfect nodes only
and still build any proof with O(log n) reads.

>>> leaves = [leaf_hash(bytes([i])) for i in range(3)]
>>> root = root_of(leaves)
>>> proof = [fold(p, leaves) for p in inclusion_ranges(1, 3)]
>>> verify_inclusion(leaves[1], 1, 3, proof, root)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from shugu.errors import InvalidInputError
from shugu.i18n import N_

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

Range = tuple[int, int]
"""A half-open range of leaf indices ``[start, end)``."""
Node = tuple[int, int]
"""A perfect node ``(level, index)``."""


class InvalidProofError(InvalidInputError):
    """A proof, root or tree size does not check out."""

    code = "invalid_proof"


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_nodes(start: int, end: int) -> list[Node]:
    """The perfect nodes whose right fold is MTH(D[start:end]), left to right.

    `start` must be aligned as in the tree (ranges produced by this module always are).
    """
    nodes: list[Node] = []
    while start < end:
        level = (end - start).bit_length() - 1  # the largest power of two that fits
        while start % (1 << level):
            level -= 1
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def fold_nodes(hashes: Sequence[bytes]) -> bytes:
    """Combine perfect-node hashes (left to right) into the MTH of their union."""
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def fold(span: Range, leaves: Sequence[bytes]) -> bytes:
    """MTH of `leaves[span]`, from leaf hashes (for tests and small trees)."""
    return root_of(leaves[span[0] : span[1]])


def root_of(leaves: Iterable[bytes]) -> bytes:
    """The root hash of a tree over these leaf hashes, in one pass."""
    compact = CompactRange()
    for leaf in leaves:
        compact.append(leaf)
    return compact.root()


@dataclass(slots=True)
class CompactRange:
    """The right frontier of a tree: one perfect-node hash per set bit of its size.

    Appending a leaf returns every perfect node it completes, so a store can keep all of them.
    """

    size: int = 0
    hashes: list[bytes] = field(default_factory=list)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; return the completed perfect nodes ``(level, index, hash)``."""
        index, level, current = self.size, 0, leaf
        completed = [(0, index, leaf)]
        self.hashes.append(leaf)
        bits = self.size
        while bits & 1:
            current = node_hash(self.hashes[-2], current)
            self.hashes[-2:] = [current]
            level += 1
            index >>= 1
            completed.append((level, index, current))
            bits >>= 1
        self.size += 1
        return completed

    def root(self) -> bytes:
        """The root hash of the tree so far."""
        return fold_nodes(self.hashes)

    @classmethod
    def restore(cls, size: int, hashes: Sequence[bytes]) -> CompactRange:
        """Rebuild from a stored size and frontier, checking they agree."""
        if len(hashes) != bin(size).count("1") or any(len(h) != HASH_SIZE for h in hashes):
            raise InvalidProofError(N_("the stored ledger frontier does not match its size"))
        return cls(size, list(hashes))

    @staticmethod
    def nodes_for(size: int) -> list[Node]:
        """The perfect nodes making up the frontier of a tree of `size` leaves."""
        return perfect_nodes(0, size)


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The leaf ranges whose hashes form the inclusion proof of `index` in a tree of `size`."""
    _check_index(index, size)
    ranges: list[Range] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index - lo < k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    ranges.reverse()
    return ranges


def consistency_ranges(old: int, new: int) -> list[Range]:
    """The leaf ranges whose hashes form the consistency proof from size `old` to `new`."""
    _check_sizes(old, new)
    if old in (0, new):
        return []
    ranges: list[Range] = []
    lo, hi, whole = 0, new, True
    while old != hi:
        k = _split(hi - lo)
        if old - lo <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo, whole = lo + k, False
    if not whole:
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


def build_proof(
    ranges: Sequence[Range], lookup: Callable[[list[Node]], Mapping[Node, bytes]]
) -> list[bytes]:
    """Turn proof ranges into hashes, fetching every perfect node needed in one `lookup` call."""
    pieces = [perfect_nodes(start, end) for start, end in ranges]
    wanted = sorted({node for nodes in pieces for node in nodes})
    found = lookup(wanted)
    missing = [n for n in wanted if n not in found]
    if missing:
        raise InvalidProofError(
            N_("the ledger store lacks node {node}; it is incomplete or damaged"), node=missing[0]
        )
    return [fold_nodes([found[n] for n in nodes]) for nodes in pieces]


def _check_index(index: int, size: int) -> None:
    if size < 1 or not 0 <= index < size:
        raise InvalidProofError(
            N_("index {index} is outside a tree of size {size}"), index=index, size=size
        )


def _check_sizes(old: int, new: int) -> None:
    if not 0 <= old <= new:
        raise InvalidProofError(
            N_("no consistency proof from size {old} to size {new}"), old=old, new=new
        )


_LEAF_LENGTH = N_("the leaf hash is {length} bytes, not {size}")
_ROOT_LENGTH = N_("the root hash is {length} bytes, not {size}")
_OLD_ROOT_LENGTH = N_("the old root hash is {length} bytes, not {size}")
_NEW_ROOT_LENGTH = N_("the new root hash is {length} bytes, not {size}")


def _check_hash(value: bytes, message: str) -> None:
    """Refuse a hash that is not `HASH_SIZE` bytes, with `message` naming which one it is."""
    if len(value) != HASH_SIZE:
        raise InvalidProofError(message, length=len(value), size=HASH_SIZE)


def _check_proof(proof: Sequence[bytes]) -> None:
    for number, value in enumerate(proof, start=1):
        if len(value) != HASH_SIZE:
            raise InvalidProofError(
                N_("hash {number} of the proof is {length} bytes, not {size}"),
                number=number,
                length=len(value),
                size=HASH_SIZE,
            )


def root_from_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root an inclusion proof leads to (RFC 9162 §2.1.3.2)."""
    _check_index(index, size)
    _check_hash(leaf, _LEAF_LENGTH)
    _check_proof(proof)
    fn, sn, result = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            raise InvalidProofError(N_("the inclusion proof is too long"))
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidProofError(N_("the inclusion proof is too short"))
    return result


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that `leaf` is at `index` in the tree of `size` with `root`.

    Raises:
        InvalidProofError: it is not (or the inputs are malformed).
    """
    _check_hash(root, _ROOT_LENGTH)
    if root_from_inclusion(leaf, index, size, proof) != root:
        raise InvalidProofError(
            N_("the inclusion proof of index {index} does not lead to the root of size {size}"),
            index=index,
            size=size,
        )


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of size `old` is a prefix of the tree of size `new` (RFC 9162 §2.1.4.2).

    As in RFC 9162 and transparency-dev, a proof from size 0 to a larger size is refused: every
    tree extends the empty one, so such a proof proves nothing (callers skip the check instead).

    Raises:
        InvalidProofError: it is not (or the inputs are malformed).
    """
    _check_sizes(old, new)
    _check_hash(old_root, _OLD_ROOT_LENGTH)
    _check_hash(new_root, _NEW_ROOT_LENGTH)
    _check_proof(proof)
    if old == 0 and old_root != EMPTY_ROOT:
        raise InvalidProofError(N_("the root of the empty tree must be the hash of nothing"))
    if old == new:
        if proof or old_root != new_root:
            raise InvalidProofError(N_("equal sizes need equal roots and an empty proof"))
        return
    if old == 0:
        raise InvalidProofError(N_("a consistency proof from the empty tree proves nothing"))
    if not proof:
        raise InvalidProofError(N_("the consistency proof is empty"))
    hashes = list(proof)
    if old & (old - 1) == 0:
        hashes.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first = second = hashes[0]
    for item in hashes[1:]:
        if sn == 0:
            raise InvalidProofError(N_("the consistency proof is too long"))
        if fn & 1 or fn == sn:
            first = node_hash(item, first)
            second = node_hash(item, second)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            second = node_hash(second, item)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidProofError(N_("the consistency proof is too short"))
    if first != old_root or second != new_root:
        raise InvalidProofError(
            N_("the consistency proof from size {old} to {new} does not match the roots"),
            old=old,
            new=new,
        )
