"""RFC 9421 signing and verification: round trips, and every tampering detected."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from shugu.errors import AuthenticationError
from shugu.signing import httpsig

KEY = Ed25519PrivateKey.generate()
PUBLIC = KEY.public_key()


def _sign(
    method: str = "POST", path: str = "/v1/x", query: str = "a=1", body: bytes = b"{}"
) -> dict[str, str]:
    return httpsig.sign(
        KEY,
        key_id="01ABC",
        method=method,
        path=path,
        query=query,
        body=body,
        created=1_800_000_000,
        nonce="n-1",
    )


def _verify(
    headers: dict[str, str],
    *,
    method: str = "POST",
    path: str = "/v1/x",
    query: str = "a=1",
    body: bytes = b"{}",
) -> httpsig.SignatureInput:
    parsed = httpsig.parse(headers["Signature-Input"], headers["Signature"])
    httpsig.verify(
        parsed,
        PUBLIC,
        method=method,
        path=path,
        query=query,
        body=body,
        digest_header=headers["Content-Digest"],
    )
    return parsed


def test_signature_base_follows_rfc9421_layout() -> None:
    params = httpsig.signature_params(created=1618884473, key_id="k", nonce="abc")
    base = httpsig.signature_base("post", "/foo", "param=Value&Pet=dog", "sha-256=:X:", params)
    assert base.decode().splitlines() == [
        '"@method": POST',
        '"@path": /foo',
        '"@query": ?param=Value&Pet=dog',
        '"content-digest": sha-256=:X:',
        '"@signature-params": ("@method" "@path" "@query" "content-digest");created=1618884473;'
        'keyid="k";nonce="abc";alg="ed25519";tag="shugu"',
    ]


def test_a_signed_request_verifies_and_parses() -> None:
    parsed = _verify(_sign())
    assert (parsed.key_id, parsed.nonce, parsed.created) == ("01ABC", "n-1", 1_800_000_000)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"method": "PUT"}, id="method"),
        pytest.param({"path": "/v1/y"}, id="path"),
        pytest.param({"query": "a=2"}, id="query"),
    ],
)
def test_changing_a_covered_component_breaks_the_signature(change: dict[str, str]) -> None:
    with pytest.raises(AuthenticationError, match="does not verify"):
        _verify(_sign(), **change)  # type: ignore[arg-type]


def test_changing_the_body_breaks_the_digest() -> None:
    with pytest.raises(AuthenticationError, match="Content-Digest"):
        _verify(_sign(), body=b'{"x": 1}')


def test_replacing_body_and_digest_still_breaks_the_signature() -> None:
    headers = _sign() | {"Content-Digest": httpsig.content_digest(b"[]")}
    with pytest.raises(AuthenticationError, match="does not verify"):
        _verify(headers, body=b"[]")


def test_changing_a_parameter_breaks_the_signature() -> None:
    headers = _sign()
    headers["Signature-Input"] = headers["Signature-Input"].replace(
        "created=1800000000", "created=1800000999"
    )
    with pytest.raises(AuthenticationError, match="does not verify"):
        _verify(headers)


@pytest.mark.parametrize(
    ("signature_input", "signature"),
    [
        pytest.param(None, None, id="unsigned"),
        pytest.param("garbage", "sig1=:AAAA:", id="garbage-input"),
        pytest.param(
            'sig1=("@method");created=1;keyid="k";nonce="n"', "sig1=:AAAA:", id="too-few-components"
        ),
        pytest.param(
            'sig1=("@method" "@path" "@query" "content-digest");keyid="k";nonce="n"',
            "sig1=:AAAA:",
            id="no-created",
        ),
        pytest.param(
            'sig1=("@method" "@path" "@query" "content-digest");created=1;keyid="k";nonce="n";'
            'alg="rsa-pss-sha512"',
            "sig1=:AAAA:",
            id="wrong-alg",
        ),
        pytest.param(
            'sig1=("@method" "@path" "@query" "content-digest");created=1;keyid="k";nonce="n"',
            "sig2=:AAAA:",
            id="label-mismatch",
        ),
        pytest.param(
            'sig1=("@method" "@path" "@query" "content-digest");created=1;keyid="k";nonce="n"',
            "sig1=:!!!:",
            id="bad-base64",
        ),
    ],
)
def test_malformed_headers_are_refused(signature_input: str | None, signature: str | None) -> None:
    with pytest.raises(AuthenticationError):
        httpsig.parse(signature_input, signature)


def test_missing_digest_is_refused() -> None:
    headers = _sign()
    parsed = httpsig.parse(headers["Signature-Input"], headers["Signature"])
    with pytest.raises(AuthenticationError, match="Content-Digest"):
        httpsig.verify(
            parsed, PUBLIC, method="POST", path="/v1/x", query="a=1", body=b"{}", digest_header=None
        )


def test_content_digest_matches_rfc9530_example() -> None:
    # RFC 9530 §2: the sha-256 digest of {"hello": "world"}\n
    assert httpsig.content_digest(b'{"hello": "world"}\n') == (
        "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:"
    )


@settings(max_examples=60, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    path=st.from_regex(r"/[A-Za-z0-9/_%-]{0,40}", fullmatch=True),
    query=st.from_regex(r"[A-Za-z0-9=&%_-]{0,40}", fullmatch=True),
    body=st.binary(max_size=256),
    flip=st.integers(min_value=0, max_value=63),
)
def test_any_request_round_trips_and_any_flipped_signature_bit_fails(
    method: str, path: str, query: str, body: bytes, flip: int
) -> None:
    headers = _sign(method, path, query, body)
    _verify(headers, method=method, path=path, query=query, body=body)
    raw = bytearray(base64.b64decode(headers["Signature"][6:-1]))
    raw[flip] ^= 0x01
    headers["Signature"] = "sig1=:" + base64.b64encode(bytes(raw)).decode() + ":"
    with pytest.raises(AuthenticationError):
        _verify(headers, method=method, path=path, query=query, body=body)
