"""Stored signed requests: the component list shugu signed with first, the one with
``@authority`` it signs with today, and evidence that is not one shugu could have accepted."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shugu.ledger.evidence import MalformedEvidenceError, read_evidence
from shugu.signing import httpsig

KEY = Ed25519PrivateKey.generate()
PUBLIC = KEY.public_key().public_bytes_raw()
BODY = b'{"reason": "x"}'
DIGEST = httpsig.content_digest(BODY)
PATH = "/v1/participants/01M8DS4JNJEH01MR4ZXCTCDG9Z/reject"
ACTOR = "01M8DRWSDG6REX0FDPFWVEJZMB"


def _legacy() -> dict[str, Any]:
    """Evidence of a request signed before ``@authority`` was covered, built by hand after
    RFC 9421 §2.5: one line per component in the order listed, then the signature parameters."""
    params = (
        '("@method" "@path" "@query" "content-digest");created=1795758906;'
        f'keyid="{ACTOR}";nonce="n-1";alg="ed25519";tag="shugu"'
    )
    base = (
        f'"@method": POST\n"@path": {PATH}\n"@query": ?\n"content-digest": {DIGEST}\n'
        f'"@signature-params": {params}'
    )
    signature = base64.b64encode(KEY.sign(base.encode())).decode()
    return {
        "kind": "http-signature",
        "method": "POST",
        "path": PATH,
        "query": "",
        "content_digest": DIGEST,
        "signature_input": f"sig1={params}",
        "signature": f"sig1=:{signature}:",
    }


def _today(
    authority: str = "hub.example.cn", path: str = PATH, key_id: str = ACTOR
) -> dict[str, Any]:
    """Evidence as the hub stores it for a request signed by `shugu.signing` today."""
    headers = httpsig.sign(
        KEY,
        key_id=key_id,
        method="POST",
        authority=authority,
        path=path,
        query="",
        body=BODY,
        created=1_795_758_906,
    )
    return {
        "kind": "http-signature",
        "method": "POST",
        "authority": authority,
        "path": path,
        "query": "",
        "content_digest": headers["Content-Digest"],
        "signature_input": headers["Signature-Input"],
        "signature": headers["Signature"],
    }


def test_evidence_from_before_the_authority_verifies() -> None:
    request = read_evidence(_legacy())
    assert request.verifies_with(PUBLIC)
    assert request.components == httpsig.LEGACY_COMPONENTS and request.authority is None
    assert request.key_id == ACTOR


def test_evidence_covering_the_authority_verifies() -> None:
    request = read_evidence(_today())
    assert request.verifies_with(PUBLIC)
    assert request.components == httpsig.COMPONENTS and request.authority == "hub.example.cn"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("path", PATH.replace("reject", "approve"), id="path"),
        pytest.param("method", "PUT", id="method"),
        pytest.param("query", "x=1", id="query"),
        pytest.param("content_digest", httpsig.content_digest(b"other"), id="digest"),
        pytest.param("content_digest", "sha-512=:AA==:", id="other-digest"),
        pytest.param("authority", "evil.example", id="authority"),
    ],
)
def test_a_changed_component_does_not_verify(field: str, value: str) -> None:
    assert not read_evidence(_today() | {field: value}).verifies_with(PUBLIC)
    if field != "authority":
        assert not read_evidence(_legacy() | {field: value}).verifies_with(PUBLIC)


def test_another_key_does_not_verify() -> None:
    other = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    assert not read_evidence(_today()).verifies_with(other)
    assert not read_evidence(_legacy()).verifies_with(other)


def _input_with(components: str) -> dict[str, Any]:
    text = _legacy()["signature_input"]
    return _legacy() | {"signature_input": text.replace(text[5 : text.index(")") + 1], components)}


@pytest.mark.parametrize(
    ("evidence", "reason"),
    [
        pytest.param({"kind": "event-signature"}, "not http-signature", id="kind"),
        pytest.param(_legacy() | {"signature": None}, "missing", id="no-signature"),
        pytest.param(_input_with('("@method" "@path" "@query")'), "must cover", id="no-digest"),
        pytest.param(
            _input_with('("@method" "@path" "@query" "content-digest" "content-type")'),
            "must cover",
            id="unknown-component",
        ),
        pytest.param(
            _input_with('("@method" "@path" "@path" "@query" "content-digest")'),
            "must cover|malformed",
            id="repeated",
        ),
        pytest.param(
            {k: v for k, v in _today().items() if k != "authority"},
            "@authority is covered",
            id="authority-not-kept",
        ),
        pytest.param(
            _legacy() | {"signature": _legacy()["signature"].replace("sig1", "sig2")},
            "malformed",
            id="label",
        ),
        pytest.param(
            _legacy()
            | {
                "signature_input": _legacy()["signature_input"].replace(
                    'alg="ed25519"', 'alg="rsa"'
                )
            },
            "unsupported",
            id="alg",
        ),
        pytest.param(_legacy() | {"signature_input": 'sig1=("@method"'}, "malformed", id="syntax"),
    ],
)
def test_malformed_evidence_is_refused(evidence: dict[str, Any], reason: str) -> None:
    with pytest.raises(MalformedEvidenceError, match=reason):
        read_evidence(evidence)


def test_an_applicants_key_is_read_from_its_key_id() -> None:
    path = "/v1/applications"
    request = read_evidence(_today(path=path, key_id=httpsig.self_key_id(PUBLIC)))
    assert request.self_key() == PUBLIC and request.verifies_with(PUBLIC)
    assert read_evidence(_today()).self_key() is None
    assert read_evidence(_today(path=path, key_id="key:not-a-key")).self_key() is None
