"""PEP over HTTP: the public key, transcription and session keys under the link policy, the
cross-holder property end to end, the ledger record, bad input and auth."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from shugu.identity import Role
from shugu.pep import G, GroupElement, Scalar
from shugu.pep.holder import (
    decrypt_pseudonyms,
    encrypt_identifiers,
    pack_ciphertexts,
    unpack_ciphertexts,
)
from shugu.pep.service import LinkDecision, LinkRequest, load_grants
from shugu.pep.sharing import RecipientKey, SealedShare
from tests.conftest import Member, Space

pytestmark = pytest.mark.anyio


class AllowAll:
    def decide(self, request: LinkRequest) -> LinkDecision:
        return LinkDecision.ALLOWED


class RefuseAll:
    def decide(self, request: LinkRequest) -> LinkDecision:
        return LinkDecision.NOT_GRANTED


async def _public_key(space: Space) -> GroupElement:
    async with space.raw() as client:
        body = (await client.get("/v1/pep/public-key")).json()
    assert body["transcryptors"] == ["custodian"]
    return GroupElement.from_hex(body["public_key"])


def _request(ids: list[str], public: GroupElement, job: str, **extra: object) -> dict[str, object]:
    data, _ = unpack_ciphertexts(encrypt_identifiers(ids, public))
    return {
        "job": job,
        "domain_from": None,
        "domain_to": job,
        "session": "run-1",
        "ciphertexts": base64.b64encode(data).decode(),
        "shuffle": False,
    } | extra


def _key_request(job: str, session: str = "run-1") -> tuple[RecipientKey, dict[str, str]]:
    recipient = RecipientKey.generate()
    body = {"job": job, "session": session, "recipient_key": recipient.public_bytes.hex()}
    return recipient, body


async def _session_secret(space: Space, runner: Member, job: str) -> Scalar:
    recipient, request = _key_request(job)
    async with space.raw(runner) as client:
        response = await client.post("/v1/pep/session-key", json=request)
    assert response.status_code == 200, response.text
    body = response.json()
    secret = Scalar.from_hex(body["blinded_secret_key"])
    for share in body["shares"]:
        sealed = base64.b64decode(share["sealed"])
        opened = recipient.open(SealedShare(share["transcryptor"], body["context"], sealed))
        secret = secret * opened.share
    assert (secret * G).hex() == body["public_key"]
    assert body["context"] == f"{job}#run-1"
    return secret


async def _pseudonyms(space: Space, holder: Member, ids: list[str], job: str) -> list[str | None]:
    public = await _public_key(space)
    async with space.raw(holder) as client:
        response = await client.post("/v1/pep/transcrypt", json=_request(ids, public, job))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == len(ids) and body["route"] == ["custodian"]
    texts = pack_ciphertexts(base64.b64decode(body["ciphertexts"]), [True] * len(ids))
    secret = await _session_secret(space, space.members[Role.COMPUTE_PROVIDER], job)
    assert (secret * G).hex() == body["public_key"]
    return decrypt_pseudonyms(texts, secret)


async def test_cross_holder_pseudonyms_through_the_api(space: Space) -> None:
    space.hub.pep.use_policy(AllowAll())
    holder, user = space.members[Role.HOLDER], space.members[Role.USER]
    a = await _pseudonyms(space, holder, ["110101199001011234", "p-7"], "study-1")
    b = await _pseudonyms(space, user, ["110101199001011234 ", "P-7"], "study-1")
    c = await _pseudonyms(space, holder, ["110101199001011234", "p-7"], "study-2")
    assert a == b and a[0] != a[1]
    assert not set(a) & set(c)


async def test_holders_ciphertexts_of_one_identifier_share_no_bytes(space: Space) -> None:
    public = await _public_key(space)
    [one], [two] = encrypt_identifiers(["x"], public), encrypt_identifiers(["x"], public)
    assert one and two
    left, right = base64.urlsafe_b64decode(one), base64.urlsafe_b64decode(two)
    assert left[:32] != right[:32] and left[32:] != right[32:]


async def test_a_transcription_is_recorded_without_values(space: Space) -> None:
    space.hub.pep.use_policy(AllowAll())
    holder = space.members[Role.HOLDER]
    request = _request(["a", "b", "c"], await _public_key(space), "study-9", domain_from="h-a")
    async with space.raw(holder) as client:
        body = (await client.post("/v1/pep/transcrypt", json=request)).json()
        entry = (await client.get(f"/ledger/entries/{body['ledger_index']}")).json()["entry"]
    assert entry["type"] == "pep.transcription" and entry["subjects"] == ["study-9"]
    assert entry["actor"] == holder.participant_id
    assert entry["payload"]["count"] == 3 and entry["payload"]["domain_from"] == "h-a"
    assert entry["payload"]["session"] == "run-1" and entry["evidence"]["path"]
    text = str(entry)
    assert str(request["ciphertexts"])[:24] not in text and body["ciphertexts"][:24] not in text


async def test_a_refused_policy_gives_403_and_records_nothing(space: Space) -> None:
    space.hub.pep.use_policy(RefuseAll())
    size = space.hub.ledger.size()
    request = _request(["a"], await _public_key(space), "study-1")
    async with space.raw(space.members[Role.HOLDER]) as client:
        refused = await client.post("/v1/pep/transcrypt", json=request)
    async with space.raw(space.members[Role.USER]) as client:
        no_key = await client.post("/v1/pep/session-key", json=_key_request("study-1", "s")[1])
    assert refused.status_code == no_key.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "may not submit into domains study-1 for job study-1" in refused.json()["detail"]
    assert space.hub.ledger.size() == size


@pytest.mark.parametrize(
    ("ciphertexts", "status", "needle"),
    [
        pytest.param("not base64!", 400, "standard base64", id="bad-base64"),
        pytest.param("", 400, "empty", id="empty"),
        pytest.param(base64.b64encode(bytes(65)).decode(), 400, "multiple of 64", id="length"),
        pytest.param(base64.b64encode(b"\xff" * 64).decode(), 400, "not valid", id="bad-point"),
        pytest.param(base64.b64encode(bytes(64)).decode(), 400, "not valid", id="identity"),
        pytest.param(
            base64.b64encode(bytes(64 * 10_001)).decode(), 413, "at most 10000", id="count"
        ),
    ],
)
async def test_bad_batches_give_problems_and_record_nothing(
    space: Space, ciphertexts: str, status: int, needle: str
) -> None:
    space.hub.pep.use_policy(AllowAll())
    size = space.hub.ledger.size()
    request = _request(["a"], await _public_key(space), "j", ciphertexts=ciphertexts)
    async with space.raw(space.members[Role.HOLDER]) as client:
        response = await client.post("/v1/pep/transcrypt", json=request)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert needle in response.json()["detail"]
    assert space.hub.ledger.size() == size


async def test_a_body_over_the_limit_is_413(space: Space) -> None:
    request = _request(["a"], await _public_key(space), "j", ciphertexts="A" * 2_000_000)
    async with space.raw(space.members[Role.HOLDER]) as client:
        response = await client.post("/v1/pep/transcrypt", json=request)
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/pep/transcrypt", {"job": "j", "domain_to": "j", "session": "s", "ciphertexts": ""}),
        ("/v1/pep/session-key", {"job": "j", "session": "s", "recipient_key": "ab" * 32}),
    ],
)
async def test_anonymous_gets_401_and_a_wrong_role_403(
    space: Space, path: str, body: dict[str, str]
) -> None:
    space.hub.pep.use_policy(AllowAll())
    async with space.raw() as client:
        anonymous = await client.post(path, json=body)
    async with space.raw(space.members[Role.AUDITOR]) as client:
        auditor = await client.post(path, json=body)
    assert anonymous.status_code == 401
    assert auditor.status_code == 403 and "needs one of the roles" in auditor.json()["detail"]


async def test_a_holder_may_not_fetch_session_keys(space: Space) -> None:
    space.hub.pep.use_policy(AllowAll())
    async with space.raw(space.members[Role.HOLDER]) as client:
        response = await client.post("/v1/pep/session-key", json=_key_request("j", "s")[1])
    assert response.status_code == 403


async def test_session_key_shares_sealed_to_the_callers_recipient_key(space: Space) -> None:
    space.hub.pep.use_policy(AllowAll())
    recipient = RecipientKey.generate()
    runner = space.members[Role.COMPUTE_PROVIDER]
    request = {"job": "j", "session": "run-1", "recipient_key": recipient.public_bytes.hex()}
    async with space.raw(runner) as client:
        response = await client.post("/v1/pep/session-key", json=request)
    assert response.status_code == 200, response.text
    body = response.json()
    [share] = body["shares"]
    assert set(share) == {"transcryptor", "sealed"}
    opened = recipient.open(
        SealedShare(share["transcryptor"], body["context"], base64.b64decode(share["sealed"]))
    )
    secret = Scalar.from_hex(body["blinded_secret_key"]) * opened.share
    assert (secret * G).hex() == body["public_key"]
    entry = space.hub.ledger.entries(space.hub.ledger.size() - 1, 1)[0]
    assert recipient.public_bytes.hex().encode() in entry.body  # auditors see which key got it
    assert share["sealed"].encode() not in entry.body


@pytest.mark.parametrize(
    ("key", "status", "needle"),
    [
        ("zz" * 32, 400, "must be hexadecimal"),
        ("ab" * 31, 422, "at least 64"),
        ("ab" * 33, 422, "at most 64"),
    ],
)
async def test_a_bad_recipient_key_is_refused_and_records_nothing(
    space: Space, key: str, status: int, needle: str
) -> None:
    space.hub.pep.use_policy(AllowAll())
    size = space.hub.ledger.size()
    runner = space.members[Role.COMPUTE_PROVIDER]
    async with space.raw(runner) as client:
        response = await client.post(
            "/v1/pep/session-key", json={"job": "j", "session": "s", "recipient_key": key}
        )
    assert response.status_code == status and needle in response.text
    assert space.hub.ledger.size() == size


async def test_the_hub_client_key_is_public(space: Space) -> None:
    async with space.raw() as client:
        key = (await client.get("/v1/pep/client-key")).json()["client_key"]
        info = (await client.get("/v1/pep/public-key")).json()
    assert key == info["client_key"] == space.hub.pep.client_public_key().hex()


async def test_a_session_key_request_without_a_recipient_key_is_refused(space: Space) -> None:
    space.hub.pep.use_policy(AllowAll())
    size = space.hub.ledger.size()
    async with space.raw(space.members[Role.COMPUTE_PROVIDER]) as client:
        response = await client.post("/v1/pep/session-key", json={"job": "j", "session": "s"})
    assert response.status_code == 422 and "recipient_key" in response.text
    assert space.hub.ledger.size() == size


async def test_transcriptions_and_session_keys_are_counted_in_the_metrics(space: Space) -> None:
    space.hub.pep.use_policy(AllowAll())
    await _pseudonyms(space, space.members[Role.HOLDER], ["a", "b", "c"], "j")
    async with space.raw() as client:
        text = (await client.get("/metrics")).text
    assert "shugu_pep_ciphertexts_transcrypted_total 3.0" in text
    assert "shugu_pep_session_keys_issued_total 1.0" in text


async def _use_study_grants(space: Space, tmp_path: Path) -> None:
    """Holder and custodian submit into study-1; the user (the study's runner) receives keys."""
    grant = {
        "job": "study-1",
        "domains": ["study-1"],
        "submitters": ["holder", "custodian"],
        "key_receivers": ["user"],
    }
    path = tmp_path / "pep-links.json"
    path.write_text(json.dumps({"grants": [grant]}))
    space.hub.pep.use_policy(load_grants(path))


async def test_a_key_receivers_guesses_are_refused_and_recorded(
    space: Space, tmp_path: Path
) -> None:
    await _use_study_grants(space, tmp_path)
    user, holder = space.members[Role.USER], space.members[Role.HOLDER]
    public = await _public_key(space)
    size = space.hub.ledger.size()
    guesses = _request(["110101199001011234", "110101199001011235"], public, "study-1")
    async with space.raw(user) as client:
        refused = await client.post("/v1/pep/transcrypt", json=guesses)
    assert refused.status_code == 403, refused.text
    assert "user is a key receiver here (job study-1, domains study-1)" in refused.json()["detail"]
    assert space.hub.ledger.size() == size + 1
    async with space.raw(space.members[Role.AUDITOR]) as client:
        entry = (await client.get(f"/ledger/entries/{size}")).json()["entry"]
    assert entry["type"] == "pep.transcription.refused" and entry["actor"] == user.participant_id
    assert entry["subjects"] == ["study-1"] and entry["evidence"]["path"] == "/v1/pep/transcrypt"
    assert entry["payload"] == {
        "count": 2,
        "domain_from": None,
        "domain_to": "study-1",
        "session": "run-1",
        "reason": "key_receiver",
    }
    assert str(guesses["ciphertexts"])[:24] not in str(entry)
    # the holders' data still links under the user's key, and only theirs reaches the study
    async with space.raw(holder) as client:
        moved = await client.post(
            "/v1/pep/transcrypt", json=_request(["p-7", "p-8"], public, "study-1")
        )
    assert moved.status_code == 200, moved.text
    texts = pack_ciphertexts(base64.b64decode(moved.json()["ciphertexts"]), [True, True])
    async with space.raw(space.members[Role.CUSTODIAN]) as client:
        other = await client.post("/v1/pep/transcrypt", json=_request([" P-7"], public, "study-1"))
    assert other.status_code == 200, other.text
    secret = await _session_secret(space, user, "study-1")
    [linked] = decrypt_pseudonyms(
        pack_ciphertexts(base64.b64decode(other.json()["ciphertexts"]), [True]), secret
    )
    assert decrypt_pseudonyms(texts, secret)[0] == linked


async def test_submitters_cannot_fetch_keys_and_others_cannot_submit(
    space: Space, tmp_path: Path
) -> None:
    await _use_study_grants(space, tmp_path)
    size = space.hub.ledger.size()
    for role, name in ((Role.CUSTODIAN, "custodian"), (Role.COMPUTE_PROVIDER, "compute-provider")):
        async with space.raw(space.members[role]) as client:
            response = await client.post("/v1/pep/session-key", json=_key_request("study-1")[1])
        assert response.status_code == 403, response.text
        assert f"{name} is not a key receiver of job study-1" in response.json()["detail"]
    async with space.raw(space.members[Role.HOLDER]) as client:  # holders: refused by role
        response = await client.post("/v1/pep/session-key", json=_key_request("study-1")[1])
    assert response.status_code == 403 and "needs one of the roles" in response.json()["detail"]
    async with space.raw(space.members[Role.COMPUTE_PROVIDER]) as client:
        stranger = await client.post(
            "/v1/pep/transcrypt", json=_request(["a"], await _public_key(space), "study-1")
        )
    assert stranger.status_code == 403 and "may not submit" in stranger.json()["detail"]
    assert space.hub.ledger.size() == size
