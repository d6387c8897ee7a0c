"""Transcryptors, alone or several in a chain (n-PEP), so that no single party can decrypt or link.

A `Transcryptor` holds its own pseudonymisation secret, encryption secret and blinding factor,
and performs its part of a transcription: an rsk of the whole batch with *its* factors,

    sᵢ = sᵢ(from)⁻¹·sᵢ(to)        kᵢ = kᵢ(from)⁻¹·kᵢ(to)

followed by a fresh CSPRNG order. After every transcryptor of the system has done its part, a
ciphertext of s(from)·X under the global key is one of s(to)·X under the session key, with

    s(d) = ∏ sᵢ(d)        k(c) = ∏ kᵢ(c)        y(c) = x·k(c)

since rsk steps compose: rsk(rsk(v, s₁, k₁), s₂, k₂) = rsk(v, s₁·s₂, k₁·k₂). Each transcryptor
knows only its own sᵢ and kᵢ, so none can work out a pseudonym of another domain, and each
shuffles its output, so none can pair the ciphertexts it returns with those another received.

**Setup without a dealer** (`setup_distributed`). The blinded global secret key x' is drawn at
random, and the global public key built by passing x'·G along the chain, each transcryptor
multiplying by its blinding factor:

    X = bₙ·(…·(b₁·(x'·G))) = x·G        with x = x'·∏ bᵢ,  i.e.  x' = x·∏ bᵢ⁻¹

as libpep's blinded global secret key, except that x is never computed by anyone. Clients hold
(X, x'); x' decrypts nothing.

**Session keys**, combined by the client (`DistributedKeys.session_keys`): transcryptor i gives
the share kᵢ(c)·bᵢ, and

    x'·∏ kᵢ(c)·bᵢ = x·∏ kᵢ(c) = y(c).

A missing share, or a batch that skipped a transcryptor, gives the wrong key for the batch's
public key (which `batch` tracks), so decryption fails with an error naming what is missing
rather than yielding wrong pseudonyms.

>>> a, b = Transcryptor.generate("hub"), Transcryptor.generate("auditor")
>>> system = setup_distributed([a, b])
>>> shares = [t.session_key_share("job-1") for t in (a, b)]
>>> keys = system.session_keys("job-1", shares)
>>> from shugu.pep.group import GroupElement
>>> x = GroupElement.random()
>>> from shugu.pep.batch import encrypt_batch
>>> batch = encrypt_batch([x], system.public_key)
>>> out = transcrypt_chain(batch, [a, b], domain_from=None, domain_to="job-1",
...                        session_from=None, session_to="job-1")
>>> pseudonym = system.decrypt(out, keys)
>>> pseudonym == (a.reshuffle_factor("job-1") * b.reshuffle_factor("job-1") * x).to_bytes()
True
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from shugu.errors import InvalidInputError, NotFoundError
from shugu.i18n import N_
from shugu.pep.batch import EncryptedBatch, decrypt_batch, rsk_batch
from shugu.pep.factors import (
    PseudonymizationInfo,
    make_pseudonym_rekey_factor,
    make_pseudonymisation_factor,
)
from shugu.pep.group import G, GroupElement, Scalar
from shugu.pep.keys import (
    KeyPair,
    combine_session_key_shares,
    make_blinding_factor,
    make_session_key_share,
)

__all__ = [
    "Blinder",
    "DistributedKeys",
    "SessionKeyShare",
    "Transcryptor",
    "setup_distributed",
    "transcrypt_chain",
]

SECRET_BYTES = 64


@dataclass(frozen=True, slots=True)
class SessionKeyShare:
    """One transcryptor's share kᵢ(session)·bᵢ of a session's secret key."""

    transcryptor: str
    session: str
    share: Scalar


class Transcryptor:
    """One transcryptor and its secrets (never shown in its repr).

    Args:
        name: how the system and the batches' routes name it; unique in a system.
        pseudonymization_secret: the key of its reshuffle factors.
        encryption_secret: the key of its rekey factors.
        blinding_factor: bᵢ, for n-PEP (a fresh random one if omitted).
    """

    __slots__ = ("_blinding", "_encryption", "_pseudonymization", "name")

    def __init__(
        self,
        name: str,
        pseudonymization_secret: bytes,
        encryption_secret: bytes,
        blinding_factor: Scalar | None = None,
    ) -> None:
        if not name:
            raise InvalidInputError(N_("a transcryptor needs a name"))
        if not pseudonymization_secret or not encryption_secret:
            raise InvalidInputError(N_("a transcryptor secret must be non-empty bytes"))
        self.name = name
        self._pseudonymization = bytes(pseudonymization_secret)
        self._encryption = bytes(encryption_secret)
        self._blinding = make_blinding_factor() if blinding_factor is None else blinding_factor

    @classmethod
    def generate(cls, name: str) -> Transcryptor:
        """A transcryptor with fresh 64-byte secrets and a fresh blinding factor."""
        return cls(name, secrets.token_bytes(SECRET_BYTES), secrets.token_bytes(SECRET_BYTES))

    def __repr__(self) -> str:
        return f"Transcryptor({self.name!r})"

    def reshuffle_factor(self, domain: str | None) -> Scalar:
        """Its own sᵢ(domain) (1 for the global domain)."""
        return make_pseudonymisation_factor(self._pseudonymization, domain)

    def rekey_factor(self, session: str | None) -> Scalar:
        """Its own pseudonym kᵢ(session) (1 for the global context)."""
        return make_pseudonym_rekey_factor(self._encryption, session)

    def pseudonymization_info(
        self,
        *,
        domain_from: str | None,
        domain_to: str | None,
        session_from: str | None,
        session_to: str | None,
    ) -> PseudonymizationInfo:
        """Its factors for one move: sᵢ(from)⁻¹·sᵢ(to) and kᵢ(from)⁻¹·kᵢ(to)."""
        return PseudonymizationInfo.derive(
            domain_from=domain_from,
            domain_to=domain_to,
            session_from=session_from,
            session_to=session_to,
            pseudonymization_secret=self._pseudonymization,
            encryption_secret=self._encryption,
        )

    def transcrypt(
        self,
        batch: EncryptedBatch,
        *,
        domain_from: str | None,
        domain_to: str | None,
        session_from: str | None,
        session_to: str | None,
        shuffle: bool = True,
    ) -> EncryptedBatch:
        """Its part of a transcryption: rsk with its factors, shuffled, its name on the route."""
        if self.name in batch.route:
            raise InvalidInputError(
                N_("transcryptor {transcryptor} has already transcrypted this batch"),
                transcryptor=self.name,
            )
        info = self.pseudonymization_info(
            domain_from=domain_from,
            domain_to=domain_to,
            session_from=session_from,
            session_to=session_to,
        )
        out = rsk_batch(batch, info.s, info.k, shuffle=shuffle)
        return replace(out, route=(*batch.route, self.name))

    def session_key_share(self, session: str) -> SessionKeyShare:
        """Its share kᵢ(session)·bᵢ of the session's secret key."""
        share = make_session_key_share(self.rekey_factor(session), self._blinding)
        return SessionKeyShare(self.name, session, share)

    def blind(self, partial_public_key: GroupElement) -> GroupElement:
        """Its step of the dealer-free setup: P ↦ bᵢ·P."""
        return self._blinding * partial_public_key


@dataclass(frozen=True, slots=True)
class DistributedKeys:
    """What a client of an n-PEP system holds (all of it may be public).

    Attributes:
        public_key: the global public key X = x·G, for holders to encrypt under.
        blinded_secret_key: x' = x·∏ bᵢ⁻¹.
        transcryptors: the names of the transcryptors, in chain order.
    """

    public_key: GroupElement
    blinded_secret_key: Scalar
    transcryptors: tuple[str, ...]

    def session_keys(self, session: str, shares: Iterable[SessionKeyShare]) -> KeyPair:
        """Combine one share from every transcryptor into the session's key pair.

        Raises:
            NotFoundError: a transcryptor's share is missing.
            InvalidInputError: a share is for another session, from an unknown transcryptor,
                or given twice.
        """
        by_name: dict[str, Scalar] = {}
        for share in shares:
            self._check_share(share, session, by_name)
            by_name[share.transcryptor] = share.share
        for name in self.transcryptors:
            if name not in by_name:
                raise NotFoundError(
                    N_(
                        "no session key share from transcryptor {transcryptor}: "
                        "the session key needs all {count}"
                    ),
                    transcryptor=name,
                    count=len(self.transcryptors),
                )
        ordered = [by_name[name] for name in self.transcryptors]
        return combine_session_key_shares(self.blinded_secret_key, ordered)

    def _check_share(self, share: SessionKeyShare, session: str, seen: dict[str, Scalar]) -> None:
        if share.transcryptor not in self.transcryptors:
            raise InvalidInputError(
                N_("{transcryptor} is not a transcryptor of this system"),
                transcryptor=share.transcryptor,
            )
        if share.session != session:
            raise InvalidInputError(
                N_("the share of {transcryptor} is for session {other}, not {session}"),
                transcryptor=share.transcryptor,
                other=share.session,
                session=session,
            )
        if share.transcryptor in seen:
            raise InvalidInputError(
                N_("two session key shares from transcryptor {transcryptor}"),
                transcryptor=share.transcryptor,
            )

    def decrypt(self, batch: EncryptedBatch, session_keys: KeyPair) -> bytes:
        """Decrypt a transcrypted batch (packed 32-byte pseudonyms, in the batch's order).

        Raises:
            InvalidInputError: a transcryptor of the system has not processed the batch, or the
                key is not the batch's.
        """
        if batch.route:
            for name in self.transcryptors:
                if name not in batch.route:
                    raise InvalidInputError(
                        N_(
                            "transcryptor {transcryptor} has not transcrypted this batch, "
                            "so it cannot be decrypted"
                        ),
                        transcryptor=name,
                    )
        return decrypt_batch(batch, session_keys.secret)


class Blinder(Protocol):
    """A party of the dealer-free set-up: a transcryptor here or behind its own server."""

    @property
    def name(self) -> str:
        """Its name in the system."""
        ...

    def blind(self, partial_public_key: GroupElement) -> GroupElement:
        """P ↦ bᵢ·P."""
        ...


def setup_distributed(transcryptors: Sequence[Blinder]) -> DistributedKeys:
    """Set up an n-PEP system with no dealer: nobody ever holds the global secret key."""
    names = tuple(t.name for t in transcryptors)
    if not names:
        raise InvalidInputError(N_("an n-PEP system needs at least one transcryptor"))
    if len(set(names)) != len(names):
        raise InvalidInputError(
            N_("transcryptor names must be unique, got {names}"), names=", ".join(names)
        )
    blinded = Scalar.random()
    public_key = blinded * G
    for transcryptor in transcryptors:
        public_key = transcryptor.blind(public_key)
    return DistributedKeys(public_key, blinded, names)


def transcrypt_chain(
    batch: EncryptedBatch,
    transcryptors: Sequence[Transcryptor],
    *,
    domain_from: str | None,
    domain_to: str | None,
    session_from: str | None,
    session_to: str | None,
) -> EncryptedBatch:
    """Pass a batch through every transcryptor in turn (in one process; each step is what one
    party would run on its own machine)."""
    for transcryptor in transcryptors:
        batch = transcryptor.transcrypt(
            batch,
            domain_from=domain_from,
            domain_to=domain_to,
            session_from=session_from,
            session_to=session_to,
        )
    return batch
