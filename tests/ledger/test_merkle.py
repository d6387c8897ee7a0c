"""RFC 9162 conformance and properties of `shugu.ledger.merkle`.

Upstream probes (transparency-dev/merkle testdata), the Certificate Transparency known answers,
every root and proof of every tree of 1..32 leaves, and Hypothesis tampering of generated proofs.
Proofs are always produced by our own path: perfect nodes from `CompactRange.append`, then
`inclusion_ranges` / `consistency_ranges` + `build_proof`.
"""

from __future__ import annotations

import base64
import doctest
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shugu.ledger import merkle
from shugu.ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    InvalidProofError,
    Node,
    Range,
    build_proof,
    consistency_ranges,
    inclusion_ranges,
    leaf_hash,
    node_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

SHARED = Path(__file__).resolve().parents[3] / "shared"
RFC6962 = SHARED / "conformance" / "rfc6962"
TESTDATA = RFC6962 / "transparency-dev-merkle" / "testdata"
PLACEHOLDER = b"don't care"

PROPERTY = settings(deadline=None, max_examples=100)
MAX_SIZE = 300

# --- the shared conformance folder ---------------------------------------------------------------


def conformance_dir() -> Path:
    """The shared RFC 6962 folder; skip without it, but fail in CI."""
    if not RFC6962.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"the shared conformance folder is missing at {RFC6962}")
        pytest.skip("shared/ is not beside this checkout")
    return RFC6962


def probe_names(kind: str) -> list[str]:
    """Probe paths relative to the testdata folder (one placeholder name if it is absent)."""
    names = sorted(p.relative_to(TESTDATA).as_posix() for p in (TESTDATA / kind).rglob("*.json"))
    return names or [f"{kind}/(missing)"]


@dataclass(frozen=True)
class Probe:
    """One upstream JSON probe (hashes in base64)."""

    name: str
    data: dict[str, Any]

    def hash(self, key: str) -> bytes:
        return base64.b64decode(self.data[key])

    @property
    def proof(self) -> list[bytes]:
        return [base64.b64decode(h) for h in self.data["proof"] or []]

    @property
    def want_err(self) -> bool:
        return bool(self.data["wantErr"])

    @property
    def hash_keys(self) -> list[str]:
        return [k for k in ("leafHash", "root", "root1", "root2") if k in self.data]

    @property
    def malformed(self) -> bool:
        """Some hash is not 32 bytes: our verifiers refuse it, whatever upstream expects."""
        return any(len(h) != HASH_SIZE for h in [*map(self.hash, self.hash_keys), *self.proof])

    @property
    def expect_error(self) -> bool:
        return self.want_err or self.malformed

    def widened(self) -> Probe:
        """The probe with upstream's "don't care" placeholder hashes made 32 bytes long."""
        data = self.data | {key: _widen(self.data[key]) for key in self.hash_keys}
        data["proof"] = [_widen(h) for h in self.data["proof"] or []]
        return replace(self, data=data)


def _widen(value: str) -> str:
    raw = base64.b64decode(value)
    if not raw.startswith(PLACEHOLDER):
        return value
    return base64.b64encode(hashlib.sha256(raw).digest()).decode()


def load_probe(name: str) -> Probe:
    """Read one probe (skipping or failing first if the shared folder is absent)."""
    conformance_dir()
    return Probe(name, json.loads((TESTDATA / name).read_text()))


def rejects(call: Callable[[], None]) -> bool:
    """Whether `call` raises InvalidProofError (any other exception propagates)."""
    try:
        call()
    except InvalidProofError:
        return True
    return False


def flip(value: bytes, bit: int) -> bytes:
    """`value` with one bit inverted."""
    data = bytearray(value)
    data[bit // 8] ^= 1 << (bit % 8)
    return bytes(data)


def flip_any(parts: list[bytes], data: st.DataObject) -> None:
    """Flip one bit, drawn by Hypothesis, of one of `parts` (in place)."""
    target = data.draw(st.integers(0, len(parts) - 1), label="hash")
    parts[target] = flip(parts[target], data.draw(st.integers(0, 8 * HASH_SIZE - 1), label="bit"))


def perfect_node_table(leaves: Sequence[bytes]) -> dict[Node, bytes]:
    """Every perfect node of the tree over `leaves`, as `CompactRange.append` reports them."""
    compact = CompactRange()
    return {(level, index): h for leaf in leaves for level, index, h in compact.append(leaf)}


def make_proof(ranges: Sequence[Range], table: dict[Node, bytes]) -> list[bytes]:
    """Our generation path: `build_proof` over a store holding exactly `table`."""
    return build_proof(ranges, lambda wanted: {n: table[n] for n in wanted if n in table})


# --- upstream probes (transparency-dev/merkle testdata) ------------------------------------------


def check_inclusion(probe: Probe) -> None:
    d = probe.data
    verify_inclusion(
        probe.hash("leafHash"), d["leafIdx"], d["treeSize"], probe.proof, probe.hash("root")
    )


def check_consistency(probe: Probe) -> None:
    d = probe.data
    verify_consistency(
        d["size1"], d["size2"], probe.hash("root1"), probe.hash("root2"), probe.proof
    )


CHECKS = {"inclusion": check_inclusion, "consistency": check_consistency}

# Upstream expects this probe to pass with two equal 12-byte "don't care" roots; every hash we
# accept must be 32 bytes, so we expect InvalidProofError instead.
UPSTREAM_OK_BUT_MALFORMED = {"consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"}

# With the placeholders widened to 32 bytes, our verdict agrees with upstream on every probe: a
# "proof" from size 0 is accepted only with the empty-tree root and an empty proof.
WIDENED_DIVERGENCES: set[str] = set()


@pytest.mark.parametrize("name", probe_names("inclusion") + probe_names("consistency"))
def test_upstream_probe(name: str) -> None:
    probe = load_probe(name)
    check = CHECKS[name.split("/")[0]]
    assert rejects(lambda: check(probe)) is probe.expect_error, probe.data["desc"]


def test_only_the_known_probe_is_refused_for_its_hash_length_alone() -> None:
    conformance_dir()
    probes = [load_probe(name) for kind in CHECKS for name in probe_names(kind)]
    assert {p.name for p in probes if p.malformed and not p.want_err} == UPSTREAM_OK_BUT_MALFORMED


def test_widened_placeholders_differ_from_upstream_only_where_known() -> None:
    conformance_dir()
    differing = set()
    for kind, check in CHECKS.items():
        for probe in (load_probe(name).widened() for name in probe_names(kind)):
            if rejects(lambda: check(probe)) is not probe.want_err:  # noqa: B023 - called at once
                differing.add(probe.name)
    assert differing == WIDENED_DIVERGENCES, "update WIDENED_DIVERGENCES if merkle.py changed"


@pytest.mark.parametrize("leaf", [b"", b"\x00" * 31, b"\x00" * 33])
def test_malformed_hashes_are_refused_not_crashed_on(leaf: bytes) -> None:
    leaves = [leaf_hash(bytes([i])) for i in range(5)]
    proof = [merkle.fold(r, leaves) for r in inclusion_ranges(2, 5)]
    with pytest.raises(InvalidProofError):
        verify_inclusion(leaf, 2, 5, proof, root_of(leaves))
    with pytest.raises(InvalidProofError):
        verify_inclusion(leaves[2], 2, 5, [*proof[:-1], leaf], root_of(leaves))
    with pytest.raises(InvalidProofError):
        verify_consistency(2, 5, leaf, root_of(leaves), [])


# --- RFC 6962 known answers (hex) ----------------------------------------------------------------


@cache
def kat() -> dict[str, Any]:
    return json.loads((conformance_dir() / "rfc6962_kat.json").read_text())


def kat_leaves() -> list[bytes]:
    return [leaf_hash(bytes.fromhex(h)) for h in kat()["reference_tree"]["leaf_data_hex"]]


def test_kat_hasher() -> None:
    functions: dict[str, Callable[[dict[str, str]], bytes]] = {
        "empty_root": lambda case: root_of([]),
        "hash_leaf": lambda case: leaf_hash(bytes.fromhex(case["data_hex"])),
        "hash_children": lambda case: node_hash(
            bytes.fromhex(case["left_hex"]), bytes.fromhex(case["right_hex"])
        ),
    }
    for case in kat()["hasher"]:
        assert functions[case["fn"]](case).hex() == case["want"], case["desc"]
    assert EMPTY_ROOT.hex() == kat()["reference_tree"]["empty_root"]


def test_kat_roots() -> None:
    leaves, compact = kat_leaves(), CompactRange()
    for size, want in sorted(
        kat()["reference_tree"]["roots_by_size"].items(), key=lambda i: int(i[0])
    ):
        while compact.size < int(size):
            compact.append(leaves[compact.size])
        assert compact.root().hex() == want == root_of(leaves[: int(size)]).hex(), size


def test_kat_inclusion_paths() -> None:
    tree = kat()["reference_tree"]
    leaves = kat_leaves()
    for case in tree["inclusion_paths"]:
        index, size = case["leaf_index_1based"] - 1, case["tree_size"]
        if index < 0:  # "0 = none": there is no leaf, so no proof either
            with pytest.raises(InvalidProofError):
                inclusion_ranges(index, size)
            continue
        table = perfect_node_table(leaves[:size])
        proof = make_proof(inclusion_ranges(index, size), table)
        assert [h.hex() for h in proof] == case["path"], case
        verify_inclusion(leaves[index], index, size, proof, root_of(leaves[:size]))


def test_kat_consistency_proofs() -> None:
    leaves = kat_leaves()
    for case in kat()["reference_tree"]["consistency_proofs"]:
        old, new = case["size1"], case["size2"]
        proof = make_proof(consistency_ranges(old, new), perfect_node_table(leaves[:new]))
        assert [h.hex() for h in proof] == case["proof"], case
        verify_consistency(old, new, root_of(leaves[:old]), root_of(leaves[:new]), proof)


# --- every proof of every tree of 1..32 leaves ---------------------------------------------------


@cache
def derived() -> dict[str, Any]:
    path = conformance_dir() / "derived_exhaustive_1_32.json"
    return json.loads(path.read_text())


DERIVED_LEAVES = [leaf_hash(bytes([i])) for i in range(32)]


def test_derived_vectors_are_exhaustive() -> None:
    data = derived()
    sizes = range(1, 33)
    assert sorted(map(int, data["roots"])) == list(sizes)
    inclusion = sorted((v["index"], v["size"]) for v in data["inclusion"])
    assert inclusion == sorted((i, n) for n in sizes for i in range(n))
    consistency = sorted((v["size1"], v["size2"]) for v in data["consistency"])
    assert consistency == sorted((m, n) for n in sizes for m in range(1, n + 1))


@pytest.mark.parametrize("size", range(1, 33), ids=lambda n: f"size={n}")
def test_derived_tree(size: int) -> None:
    data, leaves = derived(), DERIVED_LEAVES[:size]
    table, root = perfect_node_table(leaves), root_of(leaves)
    assert root.hex() == data["roots"][str(size)]
    for case in (v for v in data["inclusion"] if v["size"] == size):
        proof = make_proof(inclusion_ranges(case["index"], size), table)
        assert [h.hex() for h in proof] == case["path"], case
        verify_inclusion(leaves[case["index"]], case["index"], size, proof, root)
    for case in (v for v in data["consistency"] if v["size2"] == size):
        old = case["size1"]
        proof = make_proof(consistency_ranges(old, size), table)
        assert [h.hex() for h in proof] == case["proof"], case
        verify_consistency(old, size, root_of(leaves[:old]), root, proof)


# --- properties ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tree:
    """A tree of MAX_SIZE leaves: its leaves, perfect nodes and the root at every size."""

    leaves: list[bytes]
    table: dict[Node, bytes]
    roots: list[bytes]


@cache
def big_tree() -> Tree:
    leaves = [leaf_hash(i.to_bytes(2, "big")) for i in range(MAX_SIZE)]
    compact, table, roots = CompactRange(), {}, [EMPTY_ROOT]
    for leaf in leaves:
        table.update({(level, index): h for level, index, h in compact.append(leaf)})
        roots.append(compact.root())
    return Tree(leaves, table, roots)


@st.composite
def inclusion_claims(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, MAX_SIZE))
    return draw(st.integers(0, size - 1)), size


@st.composite
def consistency_claims(draw: st.DrawFn, smallest_old: int = 1) -> tuple[int, int]:
    new = draw(st.integers(1, MAX_SIZE))
    return draw(st.integers(min(smallest_old, new), new)), new


@dataclass(frozen=True)
class Mutation:
    """A small change to an index or a size: add `delta`, or flip bit `xor_bit`."""

    delta: int = 0
    xor_bit: int | None = None

    def __call__(self, n: int) -> int:
        return n + self.delta if self.xor_bit is None else n ^ (1 << self.xor_bit)


MUTATIONS = [Mutation(delta=1), Mutation(delta=-1), *(Mutation(xor_bit=k) for k in range(10))]
mutations = st.sampled_from(MUTATIONS)


def inclusion_proof(index: int, size: int) -> list[bytes]:
    return make_proof(inclusion_ranges(index, size), big_tree().table)


def consistency_proof(old: int, new: int) -> list[bytes]:
    return make_proof(consistency_ranges(old, new), big_tree().table)


def inclusion_shape(index: int, size: int) -> tuple[bool, ...] | None:
    """Which side each proof hash joins on: all the verifier computes besides the hashes."""
    if not 0 <= index < size:
        return None
    return tuple(lo < index for lo, _ in inclusion_ranges(index, size))


def consistency_shape(old: int, new: int) -> tuple[bool | None, tuple[bool, ...]] | None:
    """Like `inclusion_shape`, plus whether the old root seeds the proof (old a power of two)."""
    if not 0 < old <= new:
        return None  # no proof from the empty tree is ever accepted with a non-empty root
    sides = tuple(end <= old for _, end in consistency_ranges(old, new))
    return (old & (old - 1) == 0 if sides else None), sides


@PROPERTY
@given(inclusion_claims())
def test_generated_inclusion_proofs_verify(claim: tuple[int, int]) -> None:
    index, size = claim
    tree = big_tree()
    verify_inclusion(
        tree.leaves[index], index, size, inclusion_proof(index, size), tree.roots[size]
    )


@PROPERTY
@given(consistency_claims(smallest_old=0))
def test_generated_consistency_proofs_verify(claim: tuple[int, int]) -> None:
    old, new = claim
    tree = big_tree()
    if old == 0 < new:  # every tree extends the empty one; such a "proof" is refused as meaningless
        with pytest.raises(InvalidProofError, match="proves nothing"):
            verify_consistency(old, new, tree.roots[old], tree.roots[new], [])
        return
    verify_consistency(old, new, tree.roots[old], tree.roots[new], consistency_proof(old, new))


@PROPERTY
@given(inclusion_claims(), st.data())
def test_any_flipped_bit_breaks_an_inclusion_proof(
    claim: tuple[int, int], data: st.DataObject
) -> None:
    index, size = claim
    tree = big_tree()
    parts = [tree.leaves[index], tree.roots[size], *inclusion_proof(index, size)]
    flip_any(parts, data)
    with pytest.raises(InvalidProofError):
        verify_inclusion(parts[0], index, size, parts[2:], parts[1])


@PROPERTY
@given(consistency_claims(), st.data())
def test_any_flipped_bit_breaks_a_consistency_proof(
    claim: tuple[int, int], data: st.DataObject
) -> None:
    old, new = claim
    tree = big_tree()
    parts = [tree.roots[old], tree.roots[new], *consistency_proof(old, new)]
    flip_any(parts, data)
    with pytest.raises(InvalidProofError):
        verify_consistency(old, new, parts[0], parts[1], parts[2:])


@PROPERTY
@given(inclusion_claims(), mutations)
def test_a_moved_index_breaks_an_inclusion_proof(claim: tuple[int, int], mutate: Mutation) -> None:
    index, size = claim
    tree = big_tree()
    with pytest.raises(InvalidProofError):
        verify_inclusion(
            tree.leaves[index], mutate(index), size, inclusion_proof(index, size), tree.roots[size]
        )


@PROPERTY
@given(inclusion_claims(), mutations)
def test_a_changed_size_breaks_an_inclusion_proof_unless_the_path_is_alike(
    claim: tuple[int, int], mutate: Mutation
) -> None:
    index, size = claim
    tree, other = big_tree(), mutate(size)
    proof = inclusion_proof(index, size)
    alike = inclusion_shape(index, other) == inclusion_shape(index, size)
    refused = rejects(
        lambda: verify_inclusion(tree.leaves[index], index, other, proof, tree.roots[size])
    )
    assert refused is not alike


@PROPERTY
@given(consistency_claims(), mutations, st.booleans())
def test_a_changed_size_breaks_a_consistency_proof_unless_the_path_is_alike(
    claim: tuple[int, int], mutate: Mutation, move_old: bool
) -> None:
    old, new = claim
    tree = big_tree()
    other = (mutate(old), new) if move_old else (old, mutate(new))
    proof = consistency_proof(old, new)
    alike = consistency_shape(*other) == consistency_shape(old, new)
    refused = rejects(lambda: verify_consistency(*other, tree.roots[old], tree.roots[new], proof))
    assert refused is not alike


def test_a_size_with_the_same_path_cannot_be_told_apart() -> None:
    # Why the two properties above allow an exception: leaf 0 climbs the same three right-hand
    # siblings in trees of 5 and 6 leaves, so the size-5 proof and root also "prove" size 6.
    tree = big_tree()
    assert inclusion_shape(0, 5) == inclusion_shape(0, 6)
    verify_inclusion(tree.leaves[0], 0, 6, inclusion_proof(0, 5), tree.roots[5])


# --- CompactRange --------------------------------------------------------------------------------


@PROPERTY
@given(st.integers(0, 10**6), st.integers(0, 25))
def test_restore_refuses_a_frontier_that_does_not_match_the_size(size: int, count: int) -> None:
    hashes = [bytes([i]) * HASH_SIZE for i in range(count)]
    if count == size.bit_count():
        assert CompactRange.restore(size, hashes).hashes == hashes
    else:
        with pytest.raises(InvalidProofError):
            CompactRange.restore(size, hashes)


@pytest.mark.parametrize("bad", [b"", b"\x00" * (HASH_SIZE - 1), b"\x00" * (HASH_SIZE + 1)])
def test_restore_refuses_malformed_frontier_hashes(bad: bytes) -> None:
    with pytest.raises(InvalidProofError):
        CompactRange.restore(3, [b"\x00" * HASH_SIZE, bad])


@PROPERTY
@given(st.integers(0, MAX_SIZE - 1))
def test_a_restored_frontier_grows_like_the_original(size: int) -> None:
    tree, compact = big_tree(), CompactRange()
    for leaf in tree.leaves[:size]:
        compact.append(leaf)
    restored = CompactRange.restore(size, compact.hashes)
    assert restored.root() == tree.roots[size]
    restored.append(tree.leaves[size])
    assert restored.root() == tree.roots[size + 1]


def test_doctests() -> None:
    result = doctest.testmod(merkle)
    assert result.attempted > 0 and result.failed == 0
