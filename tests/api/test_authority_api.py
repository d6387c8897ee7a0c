"""A request is good only for the server it was signed for: the hub refuses one signed for
another name, and one captured and replayed under another Host, within the freshness window."""

from __future__ import annotations

import httpx
import pytest

from shugu.client import SigningAuth
from shugu.ledger.models import EntryRow
from shugu.signing.models import NonceRow
from tests.conftest import Space

pytestmark = pytest.mark.anyio


def _count(space: Space, model: type) -> int:
    with space.hub.db.session() as session:
        return session.query(model).count()


def _client(space: Space, base_url: str, sign: bool = True) -> httpx.AsyncClient:
    member = space.operator
    auth = SigningAuth(member.key, member.participant_id, space.clock) if sign else None
    return httpx.AsyncClient(transport=space.transport(), base_url=base_url, auth=auth)


async def test_the_hub_answers_its_in_process_names(space: Space) -> None:
    for base_url in ("http://hub", "http://embedded.shugu"):
        async with _client(space, base_url) as client:
            assert (await client.get("/v1/me")).status_code == 200


async def test_a_request_signed_for_another_server_is_refused(space: Space) -> None:
    nonces, entries = _count(space, NonceRow), _count(space, EntryRow)
    async with _client(space, "http://transcryptor.example:8001") as client:
        response = await client.post(f"/v1/participants/{space.operator.participant_id}/revoke")
    assert response.status_code == 401
    detail = response.json()["detail"]
    assert "addressed to transcryptor.example:8001" in detail and "hub" in detail
    assert (_count(space, NonceRow), _count(space, EntryRow)) == (nonces, entries)


async def test_a_request_captured_for_another_server_and_replayed_here_is_refused(
    space: Space,
) -> None:
    async with _client(space, "http://other-hub.example") as signer:
        captured = next(signer.auth.auth_flow(signer.build_request("GET", "/v1/me")))  # type: ignore[union-attr]
    headers = {k: captured.headers[k] for k in ("signature-input", "signature", "content-digest")}
    async with _client(space, "http://hub", sign=False) as client:
        # sent to this hub under its own name: the signature covers the other one
        as_ours = await client.get("/v1/me", headers=headers)
        # or with the Host it was signed for: not a name of this hub
        as_signed = await client.get("/v1/me", headers=headers | {"Host": "other-hub.example"})
    assert as_ours.status_code == 401 and "does not verify" in as_ours.json()["detail"]
    assert (
        as_signed.status_code == 401
        and "addressed to other-hub.example" in (as_signed.json()["detail"])
    )
    assert _count(space, NonceRow) == 0


async def test_the_refusal_is_translated(space: Space) -> None:
    async with _client(space, "http://elsewhere") as client:
        response = await client.get("/v1/me", headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 401
    assert "本服务器" in response.json()["detail"]
