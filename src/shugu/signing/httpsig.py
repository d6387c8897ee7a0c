"""Signed HTTP requests: RFC 9421 HTTP Message Signatures with Ed25519, RFC 9530 Content-Digest.

Every authenticated request carries three headers::

    Content-Digest: sha-256=:<base64 SHA-256 of the body>:
    Signature-Input: sig1=("@method" "@path" "@query" "content-digest");created=<unix s>;\
keyid="<participant id>";nonce="<random>";alg="ed25519";tag="shugu"
    Signature: sig1=:<base64 Ed25519 signature of the signature base>:

The signature base is built as RFC 9421 §2.5 prescribes. `created` bounds the age of a request and
`nonce` makes each one unique, so the hub can refuse a replayed request (see the decision record
docs/decisions/2026-11-27-request-authentication.md). This module is pure: no storage, no clock.

>>> content_digest(b"")
'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shugu.errors import AuthenticationError
from shugu.i18n import N_

COMPONENTS = ("@method", "@path", "@query", "content-digest")
LABEL = "sig1"
TAG = "shugu"
ALG = "ed25519"

_INPUT = re.compile(
    r'^\s*([a-z][a-z0-9_.*-]*)=\(((?:\s*"[^"]*")*)\s*\)((?:;[a-z][a-z0-9_.*-]*=[^;]+)*)\s*$'
)
_ITEM = re.compile(r'"([^"]*)"')
_PARAM = re.compile(r';([a-z][a-z0-9_.*-]*)=("[\x20-\x21\x23-\x5b\x5d-\x7e]*"|-?[0-9]{1,15})')
_SIGNATURE = re.compile(r"^\s*([a-z][a-z0-9_.*-]*)=:([A-Za-z0-9+/]*={0,2}):\s*$")
_DIGEST = re.compile(r"^\s*sha-256=:([A-Za-z0-9+/]*={0,2}):\s*$")


@dataclass(frozen=True, slots=True)
class SignatureInput:
    """The parsed `Signature-Input` of a request."""

    key_id: str
    nonce: str
    created: int
    params: str
    signature: bytes


def content_digest(body: bytes) -> str:
    """The RFC 9530 `Content-Digest` header value of `body` (SHA-256)."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def signature_params(*, created: int, key_id: str, nonce: str) -> str:
    """The serialised `@signature-params` value for shugu's fixed component list."""
    items = " ".join(f'"{c}"' for c in COMPONENTS)
    return f'({items});created={created};keyid="{key_id}";nonce="{nonce}";alg="{ALG}";tag="{TAG}"'


def signature_base(method: str, path: str, query: str, digest: str, params: str) -> bytes:
    """The RFC 9421 signature base: one `"name": value` line per component, then the params."""
    lines = [
        f'"@method": {method.upper()}',
        f'"@path": {path or "/"}',
        f'"@query": ?{query}',
        f'"content-digest": {digest}',
        f'"@signature-params": {params}',
    ]
    return "\n".join(lines).encode("utf-8")


def sign(
    private_key: Ed25519PrivateKey,
    *,
    key_id: str,
    method: str,
    path: str,
    query: str,
    body: bytes,
    created: int,
    nonce: str | None = None,
) -> dict[str, str]:
    """Return the three headers that authenticate a request as `key_id`."""
    digest = content_digest(body)
    params = signature_params(created=created, key_id=key_id, nonce=nonce or new_nonce())
    signature = private_key.sign(signature_base(method, path, query, digest, params))
    return {
        "Content-Digest": digest,
        "Signature-Input": f"{LABEL}={params}",
        "Signature": f"{LABEL}=:{base64.b64encode(signature).decode()}:",
    }


def new_nonce() -> str:
    """A fresh random nonce (128 bits, base64url)."""
    return secrets.token_urlsafe(16)


def _refuse(message: str) -> AuthenticationError:
    return AuthenticationError(message)


def parse(signature_input: str | None, signature: str | None) -> SignatureInput:
    """Parse and check the shape of the signature headers.

    Raises:
        AuthenticationError: a header is missing or malformed, or covers the wrong components.
    """
    if not signature_input or not signature:
        raise AuthenticationError(
            N_("this request must be signed (Signature-Input and Signature headers)")
        )
    match = _INPUT.match(signature_input)
    sig_match = _SIGNATURE.match(signature)
    if match is None or sig_match is None or match.group(1) != sig_match.group(1):
        raise _refuse(
            N_("invalid request signature: malformed Signature-Input or Signature header")
        )
    if tuple(_ITEM.findall(match.group(2))) != COMPONENTS:
        raise _refuse(
            N_(
                'invalid request signature: it must cover "@method" "@path" "@query" '
                '"content-digest"'
            )
        )
    params = {k: v.strip('"') for k, v in _PARAM.findall(match.group(3))}
    missing = [name for name in ("created", "keyid", "nonce") if name not in params]
    if missing or params.get("alg", ALG) != ALG or params.get("tag", TAG) != TAG:
        raise _refuse(N_("invalid request signature: missing or unsupported signature parameters"))
    try:
        raw = base64.b64decode(sig_match.group(2), validate=True)
        created = int(params["created"])
    except (binascii.Error, ValueError) as exc:
        raise _refuse(N_("invalid request signature: undecodable signature")) from exc
    serialised = signature_input.strip()[len(match.group(1)) + 1 :]
    return SignatureInput(params["keyid"], params["nonce"], created, serialised, raw)


def verify(
    parsed: SignatureInput,
    public_key: Ed25519PublicKey,
    *,
    method: str,
    path: str,
    query: str,
    body: bytes,
    digest_header: str | None,
) -> None:
    """Check the body against its digest and the signature against `public_key`.

    Raises:
        AuthenticationError: the digest or the signature does not match.
    """
    if not digest_header or not _DIGEST.match(digest_header):
        raise _refuse(N_("invalid request signature: missing or malformed Content-Digest header"))
    if digest_header.strip() != content_digest(body):
        raise _refuse(N_("invalid request signature: the body does not match its Content-Digest"))
    verify_signature(
        parsed, public_key, method=method, path=path, query=query, digest=digest_header
    )


def verify_signature(
    parsed: SignatureInput,
    public_key: Ed25519PublicKey,
    *,
    method: str,
    path: str,
    query: str,
    digest: str,
) -> None:
    """Check the signature over the components, given the body's digest (not the body).

    The ledger keeps the digest of a request, not its body, so auditors re-check with this.

    Raises:
        AuthenticationError: the signature does not verify.
    """
    base = signature_base(method, path, query, digest.strip(), parsed.params)
    try:
        public_key.verify(parsed.signature, base)
    except InvalidSignature as exc:
        raise _refuse(
            N_("invalid request signature: it does not verify with the participant's key")
        ) from exc


def check_fresh(parsed: SignatureInput, now: float, *, max_age: int, max_skew: int) -> None:
    """Check the request's `created` time against `now` (Unix seconds).

    Raises:
        AuthenticationError: older than `max_age` seconds, or more than `max_skew` in the future.
    """
    age = now - parsed.created
    if age > max_age:
        raise AuthenticationError(
            N_("the request signature has expired: made {age} s ago, {limit} s allowed"),
            age=int(age),
            limit=max_age,
        )
    if -age > max_skew:
        raise AuthenticationError(
            N_("the request signature was created {ahead} s in the future; check the clock"),
            ahead=int(-age),
        )


SELF_KEY_PREFIX = "key:"


def self_key_id(public_key: bytes) -> str:
    """The key id an applicant signs with before it has a participant id."""
    return SELF_KEY_PREFIX + base64.urlsafe_b64encode(public_key).decode().rstrip("=")
