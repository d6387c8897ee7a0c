"""Stored signed requests: the component list shugu signed with first, the one with
``@authority``, and evidence that is not one shugu could have accepted."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shugu.ledger.evidence import MalformedEvidenceError, read_evidence
from shugu.signing import httpsig

KEY = Ed25519PrivateKey.generate()
PUBLIC = KEY.public_key().public_bytes_raw()
DIGEST = httpsig.content_digest(b'{"reason": "x"}')
PATH = "/v1/participants/01M8DS4JNJEH01MR4ZXCTCDG9Z/reject"


def _today() -> dict[str, Any]:
    """Evidence as the hub stores it for a request signed by `shugu.signing` today."""
    headers = httpsig.sign(
        KEY,
        key_id="01M8DRWSDG6REX0FDPFWVEJZMB",
        method="POST",
        path=PATH,
        query="",
        body=b'{"reason": "x"}',
        created=1_795_758_906,
    )
    return {
        "kind": "http-signature",
        "method": "POST",
        "path": PATH,
        "query": "",
        "content_digest": headers["Content-Digest"],
        "signature_input": headers["Signature-Input"],
        "signature": headers["Signature"],
    }


def _with_authority(authority: str = "hub.example.cn") -> dict[str, Any]:
    """Evidence of a request covering ``@authority`` as well, built by hand after RFC 9421 §2.5:
    one line per component in the order listed, then the signature parameters."""
    params = (
        '("@method" "@authority" "@path" "@query" "content-digest");created=1795758906;'
        'keyid="01M8DRWSDG6REX0FDPFWVEJZMB";nonce="n-1";alg="ed25519";tag="shugu"'
    )
    base = (
        f'"@method": POST\n"@authority": {authority}\n"@path": {PATH}\n"@query": ?\n'
        f'"content-digest": {DIGEST}\n"@signature-params": {params}'
    )
    signature = base64.b64encode(KEY.sign(base.encode())).decode()
    return {
        "kind": "http-signature",
        "method": "POST",
        "authority": authority,
        "path": PATH,
        "query": "",
        "content_digest": DIGEST,
        "signature_input": f"sig1={params}",
        "signature": f"sig1=:{signature}:",
    }


def test_evidence_signed_today_verifies() -> None:
    request = read_evidence(_today())
    assert request.verifies_with(PUBLIC)
    assert request.components == httpsig.COMPONENTS and request.authority is None
    assert request.key_id == "01M8DRWSDG6REX0FDPFWVEJZMB" and request.created == 1_795_758_906


def test_evidence_covering_the_authority_verifies() -> None:
    request = read_evidence(_with_authority())
    assert request.verifies_with(PUBLIC)
    assert request.components[1] == "@authority" and request.authority == "hub.example.cn"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("path", PATH.replace("reject", "approve"), id="path"),
        pytest.param("method", "PUT", id="method"),
        pytest.param("query", "x=1", id="query"),
        pytest.param("content_digest", httpsig.content_digest(b"other"), id="digest"),
        pytest.param("authority", "evil.example", id="authority"),
    ],
)
def test_a_changed_component_does_not_verify(field: str, value: str) -> None:
    evidence = _with_authority() | {field: value}
    assert not read_evidence(evidence).verifies_with(PUBLIC)


def test_another_key_does_not_verify() -> None:
    other = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    assert not read_evidence(_today()).verifies_with(other)


def _input_with(components: str) -> dict[str, Any]:
    text = _today()["signature_input"]
    return _today() | {"signature_input": text.replace(text[5 : text.index(")") + 1], components)}


@pytest.mark.parametrize(
    ("evidence", "reason"),
    [
        pytest.param({"kind": "event-signature"}, "not http-signature", id="kind"),
        pytest.param(_today() | {"signature": None}, "missing", id="no-signature"),
        pytest.param(_input_with('("@method" "@path" "@query")'), "components", id="no-digest"),
        pytest.param(
            _input_with('("@method" "@path" "@query" "content-digest" "content-type")'),
            "components",
            id="unknown-component",
        ),
        pytest.param(
            _input_with('("@method" "@path" "@path" "@query" "content-digest")'),
            "components",
            id="repeated",
        ),
        pytest.param(
            {k: v for k, v in _with_authority().items() if k != "authority"},
            "@authority is covered",
            id="authority-not-kept",
        ),
        pytest.param(_today() | {"content_digest": "sha-512=:AA==:"}, "digest", id="digest"),
        pytest.param(
            _today() | {"signature": _today()["signature"].replace("sig1", "sig2")},
            "malformed Signature",
            id="label",
        ),
        pytest.param(
            _today()
            | {
                "signature_input": _today()["signature_input"].replace('alg="ed25519"', 'alg="rsa"')
            },
            "unsupported",
            id="alg",
        ),
    ],
)
def test_malformed_evidence_is_refused(evidence: dict[str, Any], reason: str) -> None:
    with pytest.raises(MalformedEvidenceError, match=reason):
        read_evidence(evidence)


def test_an_applicants_key_is_read_from_its_key_id() -> None:
    headers = httpsig.sign(
        KEY,
        key_id=httpsig.self_key_id(PUBLIC),
        method="POST",
        path="/v1/participants/applications",
        query="",
        body=b"{}",
        created=1,
    )
    evidence = _today() | {
        "path": "/v1/participants/applications",
        "content_digest": headers["Content-Digest"],
        "signature_input": headers["Signature-Input"],
        "signature": headers["Signature"],
    }
    request = read_evidence(evidence)
    assert request.self_key() == PUBLIC and request.verifies_with(PUBLIC)
    assert read_evidence(_today()).self_key() is None
