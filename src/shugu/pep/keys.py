"""Global and session key pairs, blinding factors and session key shares (libpep 0.12).

The key custodian holds a global key pair (x, X = x·G). Holders encrypt under X, which is the
*global* encryption context. A session (one job's run, say) has its own key pair

    y(session) = k(session)·x        Y(session) = y(session)·G = k(session)·X

where k(session) is the pseudonym rekey factor of the session's context (`factors`). A ciphertext
rekeyed from the global context to the session (k = 1⁻¹·k(session)) decrypts under y(session).

With several transcryptors (n-PEP, `distributed`), nobody holds x. Transcryptor i holds a
blinding factor bᵢ and its own encryption secret; clients hold the *blinded* global secret key

    x' = x·∏ bᵢ⁻¹

which alone decrypts nothing. For a session, transcryptor i hands out its *share*
kᵢ(session)·bᵢ, and the client combines them:

    y(session) = x'·∏ (kᵢ·bᵢ) = x·∏ kᵢ(session)

which is exactly the key that the chain of transcryptors rekeys to (each applies its own kᵢ).
Without every share the product is wrong, and so is the key.

>>> keys = make_global_keys()
>>> session = make_session_keys(keys.secret, "session-1", b"encryption secret")
>>> from shugu.pep.factors import make_pseudonym_rekey_factor
>>> session.public == make_pseudonym_rekey_factor(b"encryption secret", "session-1") * keys.public
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shugu.errors import InvalidInputError
from shugu.i18n import N_
from shugu.pep.factors import make_attribute_rekey_factor, make_pseudonym_rekey_factor
from shugu.pep.group import G, GroupElement, Scalar

__all__ = [
    "KeyPair",
    "combine_session_key_shares",
    "make_attribute_session_keys",
    "make_blinded_global_secret_key",
    "make_blinding_factor",
    "make_global_keys",
    "make_session_key_share",
    "make_session_keys",
]


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A secret scalar and its public element; they are checked to belong together."""

    public: GroupElement
    secret: Scalar

    def __post_init__(self) -> None:
        if self.secret * G != self.public:
            raise InvalidInputError(
                N_("the secret key does not belong to the public key {public}"),
                public=self.public.hex(),
            )

    @classmethod
    def from_secret(cls, secret: Scalar) -> KeyPair:
        """The pair (y, y·G)."""
        return cls(secret * G, secret)


def _random_not_one() -> Scalar:
    one = Scalar.one()
    while (scalar := Scalar.random()) == one:  # pragma: no cover - probability 1/l
        pass
    return scalar


def make_global_keys() -> KeyPair:
    """A fresh global key pair (x ≠ 1, as libpep: 1 would make the global key G itself)."""
    return KeyPair.from_secret(_random_not_one())


def make_session_keys(global_secret: Scalar, context: str, encryption_secret: bytes) -> KeyPair:
    """The pseudonym session key pair of `context`: (k(context)·x, k(context)·X)."""
    return KeyPair.from_secret(
        make_pseudonym_rekey_factor(encryption_secret, context) * global_secret
    )


def make_attribute_session_keys(
    global_secret: Scalar, context: str, encryption_secret: bytes
) -> KeyPair:
    """The attribute session key pair of `context` (its attribute rekey factor times x)."""
    return KeyPair.from_secret(
        make_attribute_rekey_factor(encryption_secret, context) * global_secret
    )


def make_blinding_factor() -> Scalar:
    """A fresh random blinding factor (≠ 1) for one transcryptor."""
    return _random_not_one()


def make_blinded_global_secret_key(
    global_secret: Scalar, blinding_factors: Sequence[Scalar]
) -> Scalar:
    """x' = x·∏ bᵢ⁻¹ (libpep's dealer setup; `distributed` also offers one with no dealer)."""
    product = Scalar.one()
    for factor in blinding_factors:
        product = product * factor.invert()
    if product == Scalar.one():
        raise InvalidInputError(N_("the blinding factors cancel out: they would not blind the key"))
    return global_secret * product


def make_session_key_share(rekey_factor: Scalar, blinding_factor: Scalar) -> Scalar:
    """One transcryptor's share of a session key: kᵢ(session)·bᵢ."""
    return rekey_factor * blinding_factor


def combine_session_key_shares(blinded_global_secret: Scalar, shares: Sequence[Scalar]) -> KeyPair:
    """The session key pair from the blinded global secret key and every transcryptor's share."""
    if not shares:
        raise InvalidInputError(N_("at least one session key share is needed"))
    secret = blinded_global_secret
    for share in shares:
        secret = secret * share
    return KeyPair.from_secret(secret)
