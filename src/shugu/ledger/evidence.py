"""Reading and re-verifying the signed HTTP request an entry keeps as its `evidence`.

The audit checks entries written over the life of a ledger, so it accepts every component list
shugu has signed with: ``"@method" "@path" "@query" "content-digest"`` (the first one) and the
same with ``"@authority"`` (the evidence then keeps `authority`). The signature base is rebuilt
as RFC 9421 §2.5 prescribes, one line per covered component in the order the signer listed them,
so it does not depend on which list `shugu.signing` signs with today.

This module is pure: parsing and Ed25519 checks only.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

REQUIRED = frozenset({"@method", "@path", "@query", "content-digest"})
OPTIONAL = frozenset({"@authority"})
ALG = "ed25519"
TAG = "shugu"
SELF_KEY_PREFIX = "key:"

_INPUT = re.compile(
    r'^\s*([a-z][a-z0-9_.*-]*)=\(((?:\s*"[^"]*")*)\s*\)((?:;[a-z][a-z0-9_.*-]*=[^;]+)*)\s*$'
)
_ITEM = re.compile(r'"([^"]*)"')
_PARAM = re.compile(r';([a-z][a-z0-9_.*-]*)=("[\x20-\x21\x23-\x5b\x5d-\x7e]*"|-?[0-9]{1,15})')
_SIGNATURE = re.compile(r"^\s*([a-z][a-z0-9_.*-]*)=:([A-Za-z0-9+/]*={0,2}):\s*$")
_DIGEST = re.compile(r"^sha-256=:[A-Za-z0-9+/]{43}=:$")


class MalformedEvidenceError(ValueError):
    """The stored evidence is not a signed request shugu could have accepted."""


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A stored signed request, parsed."""

    method: str
    path: str
    query: str
    authority: str | None
    content_digest: str
    components: tuple[str, ...]
    params: str
    """The serialised ``@signature-params`` (the Signature-Input after its label)."""
    key_id: str
    created: int
    nonce: str
    signature: bytes

    def self_key(self) -> bytes | None:
        """The key an applicant signed with, from its ``key:`` key id (else `None`)."""
        if not self.key_id.startswith(SELF_KEY_PREFIX):
            return None
        text = self.key_id[len(SELF_KEY_PREFIX) :]
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            return None
        return raw if len(raw) == 32 else None

    def base(self) -> bytes:
        """The RFC 9421 signature base the signer signed."""
        lines = [f'"{name}": {self._value(name)}' for name in self.components]
        lines.append(f'"@signature-params": {self.params}')
        return "\n".join(lines).encode("utf-8")

    def _value(self, name: str) -> str:
        values = {
            "@method": self.method.upper(),
            "@authority": self.authority or "",
            "@path": self.path or "/",
            "@query": "?" + self.query,
            "content-digest": self.content_digest,
        }
        return values[name]

    def verifies_with(self, public_key: bytes) -> bool:
        """Whether the signature verifies with the raw Ed25519 `public_key`."""
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(self.signature, self.base())
        except (InvalidSignature, ValueError):
            return False
        return True


def read_evidence(evidence: Any) -> SignedRequest:
    """Parse stored `evidence` (``"kind": "http-signature"``).

    Raises:
        MalformedEvidenceError: a field is missing or malformed, or the components are not a
            list shugu signs with.
    """
    if not isinstance(evidence, Mapping) or evidence.get("kind") != "http-signature":
        raise MalformedEvidenceError("not http-signature evidence")
    fields = {
        k: evidence.get(k)
        for k in ("method", "path", "query", "content_digest", "signature_input", "signature")
    }
    if not all(isinstance(v, str) for v in fields.values()):
        raise MalformedEvidenceError("a field of the evidence is missing")
    authority = evidence.get("authority")
    if authority is not None and not isinstance(authority, str):
        raise MalformedEvidenceError("the authority is not a string")
    label, components, params = _read_input(str(fields["signature_input"]))
    if "@authority" in components and authority is None:
        raise MalformedEvidenceError("@authority is covered but not kept")
    if not _DIGEST.match(str(fields["content_digest"]).strip()):
        raise MalformedEvidenceError("the content digest is malformed")
    return SignedRequest(
        method=str(fields["method"]),
        path=str(fields["path"]),
        query=str(fields["query"]),
        authority=authority,
        content_digest=str(fields["content_digest"]).strip(),
        components=components,
        params=params["serialised"],
        key_id=params["keyid"],
        created=int(params["created"]),
        nonce=params["nonce"],
        signature=_read_signature(str(fields["signature"]), label),
    )


def _read_input(text: str) -> tuple[str, tuple[str, ...], dict[str, str]]:
    found = _INPUT.match(text)
    if found is None:
        raise MalformedEvidenceError("malformed Signature-Input")
    components = tuple(_ITEM.findall(found.group(2)))
    names = set(components)
    if len(names) != len(components) or not REQUIRED <= names <= REQUIRED | OPTIONAL:
        raise MalformedEvidenceError("the covered components are not a list shugu signs with")
    params = {k: v.strip('"') for k, v in _PARAM.findall(found.group(3))}
    if any(name not in params for name in ("created", "keyid", "nonce")):
        raise MalformedEvidenceError("a signature parameter is missing")
    if params.get("alg", ALG) != ALG or params.get("tag", TAG) != TAG:
        raise MalformedEvidenceError("unsupported signature parameters")
    if not re.fullmatch(r"-?[0-9]{1,15}", params["created"]):
        raise MalformedEvidenceError("created is not a number")
    params["serialised"] = text.strip()[len(found.group(1)) + 1 :]
    return found.group(1), components, params


def _read_signature(text: str, label: str) -> bytes:
    found = _SIGNATURE.match(text)
    if found is None or found.group(1) != label:
        raise MalformedEvidenceError("malformed Signature")
    try:
        return base64.b64decode(found.group(2), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedEvidenceError("undecodable signature") from exc
