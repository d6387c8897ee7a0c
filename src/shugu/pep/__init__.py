"""Polymorphic encryption and pseudonymisation (PEP), byte-compatible with libpep 0.12.

Holders encrypt pseudonyms under a global public key; a transcryptor (or a chain of them, n-PEP)
moves a batch of ciphertexts from a holder's pseudonymisation domain into a job's domain and
session, and only that job decrypts them: to pseudonyms that agree across holders and differ from
every other job's. Verheul and Jacobs, "Polymorphic Encryption and Pseudonymisation in Identity
Management and Medical Research" (2017); libpep is the reference implementation.

Modules, from the bottom up: `group` (Ristretto255 scalars and elements, over libsodium),
`elgamal`, `primitives` (rerandomize, reshuffle, rekey, rsk, rrsk), `factors` (derivation from
secrets and names), `keys` (global and session keys, blinding, shares), `batch` (packed batches,
the fast path) and `distributed` (transcryptors and n-PEP).
"""

from shugu.pep.batch import (
    EncryptedBatch,
    decrypt_batch,
    encrypt_batch,
    pack_points,
    rekey_batch,
    rerandomize_batch,
    reshuffle_batch,
    rrsk_batch,
    rsk_batch,
    shuffle_batch,
    split_points,
)
from shugu.pep.distributed import (
    DistributedKeys,
    SessionKeyShare,
    Transcryptor,
    setup_distributed,
    transcrypt_chain,
)
from shugu.pep.elgamal import ElGamal, decrypt, encrypt
from shugu.pep.factors import (
    FactorType,
    LegacyFactorType,
    PseudonymizationInfo,
    derive_factor,
    derive_legacy_factor,
    make_attribute_rekey_factor,
    make_attribute_rekey_info,
    make_pseudonym_rekey_factor,
    make_pseudonym_rekey_info,
    make_pseudonymisation_factor,
    make_reshuffle_info,
)
from shugu.pep.group import G, GroupElement, Scalar
from shugu.pep.keys import (
    KeyPair,
    combine_session_key_shares,
    make_attribute_session_keys,
    make_blinded_global_secret_key,
    make_blinding_factor,
    make_global_keys,
    make_session_key_share,
    make_session_keys,
)
from shugu.pep.primitives import (
    rekey,
    rekey2,
    rerandomize,
    reshuffle,
    reshuffle2,
    rrsk,
    rrsk2,
    rsk,
    rsk2,
)

__all__ = [
    "DistributedKeys",
    "ElGamal",
    "EncryptedBatch",
    "FactorType",
    "G",
    "GroupElement",
    "KeyPair",
    "LegacyFactorType",
    "PseudonymizationInfo",
    "Scalar",
    "SessionKeyShare",
    "Transcryptor",
    "combine_session_key_shares",
    "decrypt",
    "decrypt_batch",
    "derive_factor",
    "derive_legacy_factor",
    "encrypt",
    "encrypt_batch",
    "make_attribute_rekey_factor",
    "make_attribute_rekey_info",
    "make_attribute_session_keys",
    "make_blinded_global_secret_key",
    "make_blinding_factor",
    "make_global_keys",
    "make_pseudonym_rekey_factor",
    "make_pseudonym_rekey_info",
    "make_pseudonymisation_factor",
    "make_reshuffle_info",
    "make_session_key_share",
    "make_session_keys",
    "pack_points",
    "rekey",
    "rekey2",
    "rekey_batch",
    "rerandomize",
    "rerandomize_batch",
    "reshuffle",
    "reshuffle2",
    "reshuffle_batch",
    "rrsk",
    "rrsk2",
    "rrsk_batch",
    "rsk",
    "rsk2",
    "rsk_batch",
    "setup_distributed",
    "shuffle_batch",
    "split_points",
    "transcrypt_chain",
]
