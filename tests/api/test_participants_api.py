"""The participants API end to end, and every kind of bad input it must refuse cleanly."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from shugu.client import applicant_auth
from shugu.errors import AuthenticationError, ConflictError, ForbiddenError, NotFoundError
from shugu.identity import Role
from shugu.identity.models import ParticipantRow
from shugu.signing.models import NonceRow
from tests.conftest import Space

pytestmark = pytest.mark.anyio


def _count(space: Space, model: type) -> int:
    with space.hub.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _application(
    key: Ed25519PrivateKey, name: str = "shanghai-data", roles: list[str] | None = None
) -> dict[str, object]:
    return {
        "name": name,
        "display_name": "上海某数商 / Shanghai Data Merchant",
        "roles": roles or ["holder"],
        "public_key": base64.b64encode(key.public_key().public_bytes_raw()).decode(),
    }


async def test_apply_approve_and_act(space: Space) -> None:
    key = Ed25519PrivateKey.generate()
    async with space.client() as anonymous:
        applied = await anonymous.apply(key, "shanghai-data", "上海某数商", ["holder", "user"])
    assert applied["status"] == "applied"
    async with space.client(space.operator) as operator:
        approval = await operator.approve(applied["id"])
        assert approval["participant"]["status"] == "approved"
        assert "BEGIN CERTIFICATE" in approval["certificate"]["pem"]
        shown = await operator.participant("shanghai-data")
        assert shown["display_name"] == "上海某数商"
    from shugu.client import HubClient, SigningAuth

    newcomer = HubClient(
        "http://hub", transport=space.transport(), auth=SigningAuth(key, applied["id"], space.clock)
    )
    async with newcomer:
        me = await newcomer.me()
    assert me["roles"] == ["holder", "user"]


async def test_application_signed_by_another_key_is_refused_and_writes_nothing(
    space: Space,
) -> None:
    before = _count(space, ParticipantRow)
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    async with space.raw() as client:
        response = await client.post(
            "/v1/applications",
            json=_application(key),
            auth=applicant_auth(other, space.clock),
        )
    assert response.status_code == 401
    assert "signed with the key it registers" in response.json()["detail"]
    assert _count(space, ParticipantRow) == before


async def test_unsigned_application_is_refused(space: Space) -> None:
    async with space.raw() as client:
        response = await client.post(
            "/v1/applications", json=_application(Ed25519PrivateKey.generate())
        )
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        pytest.param(b'{"name": "x",', 400, "not valid JSON", id="malformed-json"),
        pytest.param(b'{"name": "ok-name"}', 422, "roles", id="missing-field"),
        pytest.param(
            b'{"name": "ok-name", "roles": ["king"], "public_key": "AAAA"}',
            422,
            "roles",
            id="unknown-role",
        ),
        pytest.param(b'\xff\xfe{"name"', 400, "could not be parsed", id="not-utf8"),
    ],
)
async def test_bad_application_bodies_get_problem_json(
    space: Space, body: bytes, status: int, needle: str
) -> None:
    before = _count(space, ParticipantRow)
    async with space.raw() as client:
        response = await client.post(
            "/v1/applications",
            content=body,
            headers={"content-type": "application/json"},
        )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert needle in problem["detail"]
    assert _count(space, ParticipantRow) == before


async def test_invalid_public_key_and_name_are_refused(space: Space) -> None:
    key = Ed25519PrivateKey.generate()
    bad_key = _application(key) | {"public_key": base64.b64encode(b"short").decode()}
    bad_name = _application(key, name="Not Valid")
    async with space.raw() as client:
        for body, needle in ((bad_key, "32-byte"), (bad_name, "invalid participant name")):
            response = await client.post(
                "/v1/applications", json=body, auth=applicant_auth(key, space.clock)
            )
            assert response.status_code == 400, response.text
            assert needle in response.json()["detail"]
    assert _count(space, ParticipantRow) == len(space.members)


async def test_oversized_body_is_refused_with_413(space: Space) -> None:
    big = {"reason": "x" * (space.hub.settings.max_body_bytes + 10)}
    target = space.members[Role.USER].participant_id
    async with space.raw(space.operator) as client:
        response = await client.post(f"/v1/participants/{target}/revoke", json=big)
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    async with space.client(space.operator) as operator:
        assert (await operator.participant(target))["status"] == "approved"


async def test_replayed_request_is_refused_over_http(space: Space) -> None:
    async with space.raw(space.operator) as client:
        first = await client.get("/v1/me")
        assert first.status_code == 200
        captured = first.request
        replay = await client.send(captured, auth=None)  # the same bytes and headers again
    assert replay.status_code == 401
    assert "replay" in replay.json()["detail"]


async def test_expired_signature_is_refused(space: Space) -> None:
    async with space.raw(space.operator) as client:
        request = client.build_request("GET", "/v1/me")
        signed = next(client.auth.auth_flow(request))  # type: ignore[union-attr]
        space.clock.advance(seconds=301)
        response = await client.send(signed, auth=None)
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
    assert _count(space, NonceRow) == 0


async def test_revoked_participant_is_refused_at_once(space: Space) -> None:
    holder = space.members[Role.HOLDER]
    async with space.client(holder) as client:
        await client.me()
    async with space.client(space.operator) as operator:
        await operator.revoke(holder.participant_id, "contract breach")
    async with space.client(holder) as client:
        with pytest.raises(ForbiddenError, match="revoked"):
            await client.me()
    async with space.raw() as client:
        crl = (await client.get("/v1/ca/crl")).text
    assert "BEGIN X509 CRL" in crl


async def test_unknown_participant_gets_401_and_unknown_target_404(space: Space) -> None:
    from tests.conftest import Member

    ghost = Member(
        "ghost", (Role.USER,), Ed25519PrivateKey.generate(), "01M8DPABCH53NJF7BQZQV6XJXG"
    )
    async with space.client(ghost) as client:
        with pytest.raises(AuthenticationError, match="unknown participant"):
            await client.me()
    async with space.client(space.operator) as operator:
        with pytest.raises(NotFoundError):
            await operator.approve("01M8DPABCH53NJF7BQZQV6XJXG")
        with pytest.raises(NotFoundError):
            await operator.participant("nobody-here")


async def test_conflicts_map_to_409(space: Space) -> None:
    user = space.members[Role.USER]
    async with space.client(space.operator) as operator:
        with pytest.raises(ConflictError):
            await operator.approve(user.participant_id)
    async with space.client() as anonymous:
        with pytest.raises(ConflictError, match="already taken"):
            await anonymous.apply(Ed25519PrivateKey.generate(), "user", "", ["user"])


async def test_listing_follows_cursors_across_pages(space: Space) -> None:
    async with space.client(space.operator) as operator:
        everyone = [p async for p in operator.participants(page_size=2)]
    assert len(everyone) == len(space.members)
    assert [p["id"] for p in everyone] == sorted(p["id"] for p in everyone)
    async with space.raw(space.operator) as client:
        page = (await client.get("/v1/participants", params={"limit": 3})).json()
        assert len(page["items"]) == 3 and page["next_cursor"]
        bad = await client.get("/v1/participants", params={"cursor": "!!not-a-cursor"})
        too_big = await client.get("/v1/participants", params={"limit": 1000})
    assert bad.status_code == 400
    assert too_big.status_code == 422


async def test_errors_are_rendered_in_the_requested_language(space: Space) -> None:
    async with space.raw(**{"Accept-Language": "zh-CN,zh;q=0.9"}) as client:
        response = await client.get("/v1/me")
    problem = response.json()
    assert problem["detail"].startswith("此请求必须签名")
    assert problem["message"].startswith("this request must be signed")


async def test_unknown_endpoint_and_method_are_problems(space: Space) -> None:
    async with space.raw() as client:
        missing = await client.get("/v1/nothing-here")
        wrong = await client.delete("/v1/ca")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert wrong.status_code == 405 and wrong.headers["content-type"] == "application/problem+json"


async def test_an_applicant_reads_only_its_own_application(space: Space) -> None:
    key = Ed25519PrivateKey.generate()
    async with space.client() as anonymous:
        applied = await anonymous.apply(key, "waiting-one", "", ["user"])
        mine = await anonymous.own_application(key, applied["id"])
        assert mine["status"] == "applied"
        with pytest.raises(AuthenticationError, match="signed with the key it registers"):
            await anonymous.own_application(Ed25519PrivateKey.generate(), applied["id"])
        with pytest.raises(NotFoundError):
            await anonymous.own_application(key, "01M8DPABCH53NJF7BQZQV6XJXG")


async def test_a_decision_over_http_carries_the_signed_application(space: Space) -> None:
    from tests.identity.test_applications import application_signature_ok

    key = Ed25519PrivateKey.generate()
    size = space.hub.ledger.size()
    async with space.client() as anonymous:
        applied = await anonymous.apply(key, "audited-one", "", ["user"])
    assert space.hub.ledger.size() == size
    async with space.client(space.operator) as operator:
        await operator.reject(applied["id"], "not now")
    entry = json.loads(space.hub.ledger.entry(size).body)
    assert entry["type"] == "identity.participant.rejected"
    assert entry["actor"] == space.operator.participant_id
    application = entry["payload"]["application"]
    assert base64.b64decode(application["public_key"]) == key.public_key().public_bytes_raw()
    assert application_signature_ok(application)
    async with space.client() as anonymous:  # the rejected name is free again
        again = await anonymous.apply(Ed25519PrivateKey.generate(), "audited-one", "", ["user"])
    assert again["status"] == "applied"


async def test_every_certificate_of_a_participant_is_listed_oldest_first(space: Space) -> None:
    from shugu.identity.models import CertificateRow

    holder = space.members[Role.HOLDER]
    with space.hub.db.session() as session:
        first = session.scalars(
            select(CertificateRow).where(CertificateRow.participant_id == holder.participant_id)
        ).one()
        later = {c: getattr(first, c) for c in ("participant_id", "pem", "not_after")}
        session.add(
            CertificateRow(serial="ff", not_before=first.not_after, revoked_at=None, **later)
        )
    async with space.raw(space.members[Role.USER]) as client:
        url = f"/v1/participants/{holder.name}/certificates"
        page = (await client.get(url, params={"limit": 1})).json()
        rest = (await client.get(url, params={"cursor": page["next_cursor"]})).json()
        bad = await client.get(url, params={"cursor": "nope"})
        missing = await client.get("/v1/participants/nobody-here/certificates")
    assert [c["serial"] for c in page["items"] + rest["items"]] == [first.serial, "ff"]
    assert rest["next_cursor"] is None and page["items"][0]["pem"] == first.pem
    assert bad.status_code == 400 and missing.status_code == 404
