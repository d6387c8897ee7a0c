"""The PEP primitives on one ElGamal ciphertext (Verheul and Jacobs 2017; libpep 0.12's `base`).

For a ciphertext (B, C) = (r·G, M + r·Y) of M under Y = y·G:

    rerandomize((B, C), Y; r')  = (r'·G + B, r'·Y + C)            same M, fresh look
    reshuffle((B, C), s)        = (s·B, s·C)                       decrypts under y to s·M
    rekey((B, C), k)            = (k⁻¹·B, C)                       decrypts under k·y to M
    rsk((B, C), s, k)           = ((s·k⁻¹)·B, s·C)                 decrypts under k·y to s·M
    rrsk((B, C), Y; r', s, k)   = ((s·k⁻¹)·B + (s·k⁻¹·r')·G, (s·r')·Y + s·C)

rekey works because C − (k·y)·(k⁻¹·B) = C − y·B; reshuffle multiplies both halves, so the
plaintext is multiplied too: s·C − y·s·B = s·M. Reshuffling and rekeying commute, and rsk is
both in two scalar multiplications (libpep's Lemma 2 test: rsk = rekey ∘ reshuffle). rrsk also
rerandomizes, so that the output cannot be matched with the input by anyone watching.

The from→to variants move a ciphertext between two named factors without revealing either:

    reshuffle2(v, s_from, s_to) = reshuffle(v, s_from⁻¹·s_to)
    rekey2(v, k_from, k_to)     = rekey(v, k_from⁻¹·k_to)
    rsk2(v, s_from, s_to, k_from, k_to), rrsk2(v, Y, r', s_from, s_to, k_from, k_to) likewise.

They are transitive: going from 1 to 2 and then from 2 to 3 equals going from 1 to 3.

Argument order is libpep's (the ciphertext first, the public key before the randomness). Where
libpep takes an RNG, `r` here is optional and fresh when omitted.

>>> from shugu.pep.elgamal import decrypt, encrypt
>>> from shugu.pep.group import G, GroupElement, Scalar
>>> y, s, k = Scalar.random(), Scalar.random(), Scalar.random()
>>> m = GroupElement.random()
>>> decrypt(rsk(encrypt(m, y * G), s, k), k * y) == s * m
True
"""

from __future__ import annotations

from shugu.pep.elgamal import ElGamal
from shugu.pep.group import G, GroupElement, Scalar

__all__ = [
    "rekey",
    "rekey2",
    "rerandomize",
    "reshuffle",
    "reshuffle2",
    "rrsk",
    "rrsk2",
    "rsk",
    "rsk2",
]


def rerandomize(v: ElGamal, gy: GroupElement, r: Scalar | None = None) -> ElGamal:
    """The same plaintext under the same key `gy`, with fresh randomness `r`."""
    r = Scalar.random() if r is None else r
    return ElGamal(r * G + v.gb, r * gy + v.gc)


def reshuffle(v: ElGamal, s: Scalar) -> ElGamal:
    """Multiply the plaintext by `s`: M becomes s·M (a pseudonym moves to another domain)."""
    return ElGamal(s * v.gb, s * v.gc)


def rekey(v: ElGamal, k: Scalar) -> ElGamal:
    """Make a ciphertext under Y decryptable with k·y instead (k·Y)."""
    return ElGamal(k.invert() * v.gb, v.gc)


def rsk(v: ElGamal, s: Scalar, k: Scalar) -> ElGamal:
    """Reshuffle by `s` and rekey by `k` at once."""
    return ElGamal((s * k.invert()) * v.gb, s * v.gc)


def rrsk(v: ElGamal, gy: GroupElement, r: Scalar | None, s: Scalar, k: Scalar) -> ElGamal:
    """Rerandomize (under `gy`, with `r` or fresh randomness), reshuffle by `s`, rekey by `k`."""
    r = Scalar.random() if r is None else r
    ski = s * k.invert()
    return ElGamal(ski * v.gb + (ski * r) * G, (s * r) * gy + s * v.gc)


def reshuffle2(v: ElGamal, s_from: Scalar, s_to: Scalar) -> ElGamal:
    """Reshuffle from the domain with factor `s_from` to the one with `s_to`."""
    return reshuffle(v, s_from.invert() * s_to)


def rekey2(v: ElGamal, k_from: Scalar, k_to: Scalar) -> ElGamal:
    """Rekey from the key with factor `k_from` to the one with `k_to`."""
    return rekey(v, k_from.invert() * k_to)


def rsk2(v: ElGamal, s_from: Scalar, s_to: Scalar, k_from: Scalar, k_to: Scalar) -> ElGamal:
    """`rsk` from (`s_from`, `k_from`) to (`s_to`, `k_to`)."""
    return rsk(v, s_from.invert() * s_to, k_from.invert() * k_to)


def rrsk2(
    v: ElGamal,
    gy: GroupElement,
    r: Scalar | None,
    s_from: Scalar,
    s_to: Scalar,
    k_from: Scalar,
    k_to: Scalar,
) -> ElGamal:
    """`rrsk` from (`s_from`, `k_from`) to (`s_to`, `k_to`)."""
    return rrsk(v, gy, r, s_from.invert() * s_to, k_from.invert() * k_to)
