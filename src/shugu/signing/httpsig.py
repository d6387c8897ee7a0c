"""Signed HTTP requests: RFC 9421 HTTP Message Signatures with Ed25519, RFC 9530 Content-Digest.

Every authenticated request carries three headers::

    Content-Digest: sha-256=:<base64 SHA-256 of the body>:
    Signature-Input: sig1=("@method" "@authority" "@path" "@query" "content-digest");\
created=<unix s>;keyid="<key id>";alg="ed25519";nonce="<random>";tag="shugu"
    Signature: sig1=:<base64 Ed25519 signature of the signature base>:

The signature base is built, signed and verified by the `http-message-signatures` library
(generic over covered components: `signature_base`, `sign_message`, `verify_message`); the
headers are parsed as RFC 8941 structured fields by `http-sf`. On top, shugu's policy: exactly
the components above, one signature tagged ``shugu``, ``alg="ed25519"``, a `created` time and a
nonce (freshness and replay are checked by the caller against its own clock and
`shugu.signing.replay`). See docs/decisions/2026-12-04-request-signing-library.md.

`@authority` makes a request good for one server only. Evidence stored before it was covered
(`LEGACY_COMPONENTS`) is still verified by `verify_evidence`, never for a live request.

>>> content_digest(b"")
'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:'
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

import http_sf
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from http_message_signatures import (
    HTTPMessageSignaturesException,
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureComponentResolver,
    MappingKeyResolver,
    algorithms,
)

from shugu.errors import AuthenticationError
from shugu.i18n import N_

if TYPE_CHECKING:
    from shugu.signing.models import SignedRequest

COMPONENTS = ("@method", "@authority", "@path", "@query", "content-digest")
LEGACY_COMPONENTS = ("@method", "@path", "@query", "content-digest")
"""What signatures covered before `@authority` was added: accepted for stored evidence only."""
LABEL = "sig1"
TAG = "shugu"
ALG = "ed25519"
PARAMETERS = frozenset({"created", "keyid", "nonce", "alg", "tag"})
SIGNATURE_BYTES = 64
DIGESTS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}
NO_AUTHORITY = "authority.invalid"
"""The host of the URL the library reads when `@authority` is not covered (legacy evidence)."""


@dataclass(slots=True)
class Message:
    """An HTTP request as the library's signer and verifier read it (``method``, ``url``,
    ``headers``), with its `@authority` given rather than taken from the URL."""

    method: str
    authority: str
    path: str
    query: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The absolute URL `@path` and `@query` are read from."""
        return f"https://{self.authority or NO_AUTHORITY}{self.path or '/'}?{self.query}"


class _Resolver(HTTPSignatureComponentResolver):
    """The library's component resolver; `@authority` is the message's own (normalised by
    `shugu.signing.authority` on both sides), not re-derived from a URL."""

    derived_component_resolvers: ClassVar[dict[str, Any]] = {
        **HTTPSignatureComponentResolver.derived_component_resolvers,
        "@authority": lambda resolver: resolver.message.authority,
    }


class _Verifier(HTTPMessageVerifier):
    """The library's verifier without its freshness check: that reads the system clock, and
    shugu checks `created` itself against its injected clock (`check_fresh`)."""

    def validate_created_and_expires(self, sig_input: Any, max_age: Any = None) -> None:
        """Freshness is checked by the caller."""


@dataclass(frozen=True, slots=True)
class SignatureInput:
    """The shugu signature of a request, parsed and shape-checked."""

    label: str
    key_id: str
    nonce: str
    created: int
    components: tuple[str, ...]
    signature: bytes
    signature_input: str
    """The `Signature-Input` header as received."""
    signature_header: str
    """The `Signature` header as received."""


# -- generic RFC 9421 (any covered components) ------------------------------------------------


def _signer(resolver: MappingKeyResolver | None = None) -> HTTPMessageSigner:
    """The library's signer for shugu's messages (Ed25519, shugu's component resolver)."""
    return HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519,
        key_resolver=resolver,
        component_resolver_class=_Resolver,
    )


def signature_base(
    message: Message,
    components: Sequence[str],
    *,
    key_id: str,
    created: int,
    nonce: str | None = None,
    tag: str | None = None,
    include_alg: bool = True,
) -> bytes:
    """The RFC 9421 §2.5 signature base of `message` over `components`."""
    try:
        prepared = _signer().prepare(
            message,
            key_id=key_id,
            created=_when(created),
            nonce=nonce,
            tag=tag,
            include_alg=include_alg,
            covered_component_ids=tuple(components),
            use_existing_digest=True,
        )
    except (HTTPMessageSignaturesException, ValueError, TypeError) as exc:
        raise _refuse(
            N_("invalid request signature: malformed Signature-Input or Signature header")
        ) from exc
    return prepared.signature_base


def sign_message(
    private_key: Ed25519PrivateKey,
    message: Message,
    components: Sequence[str],
    *,
    key_id: str,
    created: int,
    nonce: str | None = None,
    tag: str | None = None,
    include_alg: bool = True,
    label: str = LABEL,
    body: bytes | None = None,
) -> None:
    """Sign `message` in place: adds `Signature-Input`, `Signature` (and, given `body`, its
    `Content-Digest`)."""
    resolver = MappingKeyResolver(public_keys={}, private_keys={key_id: private_key})
    _signer(resolver).sign(
        message,
        key_id=key_id,
        created=_when(created),
        nonce=nonce,
        label=label,
        tag=tag,
        include_alg=include_alg,
        covered_component_ids=tuple(components),
        body=body,
        use_existing_digest=True,
    )


def verify_message(
    message: Message,
    public_key: Ed25519PublicKey,
    *,
    key_id: str,
    components: Sequence[str],
    tag: str | None = None,
    label: str | None = None,
) -> None:
    """Verify the signature of `message` made by `key_id` (freshness is the caller's).

    Raises:
        AuthenticationError: it is missing, malformed, does not cover `components` or does not
            verify with `public_key`.
    """
    verifier = _Verifier(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={key_id: public_key}, private_keys={}),
        component_resolver_class=_Resolver,
    )
    try:
        verifier.verify(
            message,
            max_age=None,
            expect_tag=tag,
            expect_label=label,
            require_components=tuple(components),
        )
    except (HTTPMessageSignaturesException, ValueError, TypeError) as exc:
        raise _refuse(
            N_("invalid request signature: it does not verify with the participant's key")
        ) from exc


def _when(created: int) -> datetime:
    return datetime.fromtimestamp(created, tz=UTC)


# -- shugu's signature ------------------------------------------------------------------------


def content_digest(body: bytes) -> str:
    """The RFC 9530 `Content-Digest` header value of `body` (SHA-256)."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def new_nonce() -> str:
    """A fresh random nonce (128 bits, base64url)."""
    return secrets.token_urlsafe(16)


def sign(
    private_key: Ed25519PrivateKey,
    *,
    key_id: str,
    method: str,
    authority: str,
    path: str,
    query: str,
    body: bytes,
    created: int,
    nonce: str | None = None,
) -> dict[str, str]:
    """The three headers that authenticate a request to `authority` as `key_id`."""
    message = Message(method.upper(), authority, path, query)
    sign_message(
        private_key,
        message,
        COMPONENTS,
        key_id=key_id,
        created=created,
        nonce=nonce or new_nonce(),
        tag=TAG,
        body=body,
    )
    return dict(message.headers)


def _refuse(message: str) -> AuthenticationError:
    return AuthenticationError(message)


def _malformed() -> AuthenticationError:
    return _refuse(N_("invalid request signature: malformed Signature-Input or Signature header"))


def _reject_duplicate(key: str, context: str) -> None:
    raise ValueError(f"duplicate {context} key {key}")


def _dictionary(value: str) -> dict[str, Any]:
    """An RFC 8941 Dictionary; duplicate keys are refused (a label must be unambiguous)."""
    try:
        parsed = http_sf.parse(
            value.encode("ascii"), tltype="dictionary", on_duplicate_key=_reject_duplicate
        )
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise _malformed() from exc
    if not isinstance(parsed, dict):
        raise _malformed()
    return parsed


def _components(member: Any) -> tuple[str, ...]:
    """The covered component names of an Inner List member (plain strings, no parameters)."""
    items = member[0]
    if not isinstance(items, list):
        raise _malformed()
    if any(not isinstance(item[0], str) or item[1] for item in items):
        raise _malformed()
    return tuple(str(item[0]) for item in items)


def _ours(inputs: dict[str, Any]) -> str:
    """The one label whose signature is tagged ``shugu`` (others are not shugu's to check)."""
    ours = [label for label, member in inputs.items() if member[1].get("tag") == TAG]
    if not ours:
        raise _refuse(N_("invalid request signature: missing or unsupported signature parameters"))
    if len(ours) > 1:
        raise AuthenticationError(
            N_("invalid request signature: more than one signature is tagged {tag}"), tag=TAG
        )
    return ours[0]


def _check_params(params: Mapping[str, Any]) -> None:
    created, key_id, nonce = params.get("created"), params.get("keyid"), params.get("nonce")
    if (
        set(params) - PARAMETERS
        or type(created) is not int
        or not isinstance(key_id, str)
        or not key_id
        or not isinstance(nonce, str)
        or not nonce
        or params.get("alg") != ALG
    ):
        raise _refuse(N_("invalid request signature: missing or unsupported signature parameters"))


def parse(
    signature_input: str | None, signature: str | None, *, legacy: bool = False
) -> SignatureInput:
    """Parse the signature headers and check their shape against shugu's policy.

    Args:
        legacy: also accept `LEGACY_COMPONENTS` (stored evidence only, never a live request).

    Raises:
        AuthenticationError: a header is missing or malformed, no or two signatures are tagged
            ``shugu``, it covers other components, or lacks a parameter.
    """
    if not signature_input or not signature:
        raise AuthenticationError(
            N_("this request must be signed (Signature-Input and Signature headers)")
        )
    inputs, signatures = _dictionary(signature_input), _dictionary(signature)
    if inputs.keys() != signatures.keys():
        raise _malformed()
    label = _ours(inputs)
    components = _components(inputs[label])
    allowed = (COMPONENTS, LEGACY_COMPONENTS) if legacy else (COMPONENTS,)
    if components not in allowed:
        raise AuthenticationError(
            N_("invalid request signature: it must cover exactly {components}"),
            components=" ".join(f'"{c}"' for c in COMPONENTS),
        )
    params = inputs[label][1]
    _check_params(params)
    raw = signatures[label][0]
    if not isinstance(raw, bytes) or len(raw) != SIGNATURE_BYTES:
        raise _refuse(N_("invalid request signature: undecodable signature"))
    return SignatureInput(
        label=label,
        key_id=params["keyid"],
        nonce=params["nonce"],
        created=params["created"],
        components=components,
        signature=raw,
        signature_input=signature_input,
        signature_header=signature,
    )


def check_digest(digest_header: str | None, body: bytes) -> None:
    """Check the body against its `Content-Digest` (sha-256 required; sha-512 also checked).

    Raises:
        AuthenticationError: the header is missing or malformed, or a digest does not match.
    """
    members = _digests(digest_header)
    for algorithm, digest in members.items():
        if not hmac.compare_digest(digest, DIGESTS[algorithm](body).digest()):
            raise _refuse(
                N_("invalid request signature: the body does not match its Content-Digest")
            )


def _digests(digest_header: str | None) -> dict[str, bytes]:
    malformed = _refuse(N_("invalid request signature: missing or malformed Content-Digest header"))
    if not digest_header:
        raise malformed
    try:
        parsed = _dictionary(digest_header)
    except AuthenticationError as exc:
        raise malformed from exc
    members: dict[str, bytes] = {}
    for algorithm, (value, _params) in parsed.items():
        known = DIGESTS.get(algorithm)
        if known is None or not isinstance(value, bytes) or len(value) != known().digest_size:
            raise malformed
        members[algorithm] = value
    if "sha-256" not in members:
        raise malformed
    return members


def verify(parsed: SignatureInput, public_key: Ed25519PublicKey, request: SignedRequest) -> None:
    """Check a live request: its body against its digest, its signature against `public_key`.

    Raises:
        AuthenticationError: the digest or the signature does not match.
    """
    check_digest(request.content_digest, request.body)
    verify_signature(
        parsed,
        public_key,
        method=request.method,
        authority=request.authority,
        path=request.path,
        query=request.query,
        digest=request.content_digest or "",
    )


def verify_signature(
    parsed: SignatureInput,
    public_key: Ed25519PublicKey,
    *,
    method: str,
    authority: str,
    path: str,
    query: str,
    digest: str,
) -> None:
    """Check the signature over the components, given the body's digest (not the body).

    The ledger keeps the digest of a request, not its body, so auditors re-check with this.

    Raises:
        AuthenticationError: the signature does not verify.
    """
    headers = {
        "Signature-Input": parsed.signature_input,
        "Signature": parsed.signature_header,
        "Content-Digest": digest.strip(),
    }
    message = Message(method, authority, path, query, headers)
    verify_message(
        message,
        public_key,
        key_id=parsed.key_id,
        components=parsed.components,
        tag=TAG,
        label=parsed.label,
    )


def verify_evidence(evidence: Mapping[str, Any], public_key: Ed25519PublicKey) -> None:
    """Re-verify the signed request stored as ledger evidence (`RequestEvidence.as_json`).

    Evidence from before `@authority` was covered has no ``authority`` and covers
    `LEGACY_COMPONENTS`; both forms verify here.

    Raises:
        AuthenticationError: it is malformed or does not verify.
        KeyError: a field of the evidence is missing.
    """
    parsed = parse(str(evidence["signature_input"]), str(evidence["signature"]), legacy=True)
    authority = str(evidence.get("authority") or "")
    if "@authority" in parsed.components and not authority:
        raise _refuse(
            N_("invalid request signature: it does not verify with the participant's key")
        )
    verify_signature(
        parsed,
        public_key,
        method=str(evidence["method"]),
        authority=authority,
        path=str(evidence["path"]),
        query=str(evidence["query"]),
        digest=str(evidence["content_digest"]),
    )


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
