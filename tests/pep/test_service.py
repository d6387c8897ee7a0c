"""The transcryptor service over a real hub database (SQLite always, PostgreSQL under the marker):
sealed secrets, the link policy, the ledger record, n-PEP through the service, the holder API."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import delete, select

from shugu.errors import ConflictError, ForbiddenError, InvalidInputError, PayloadTooLargeError
from shugu.identity import Principal, Role
from shugu.keys import load_kek
from shugu.keys.models import HubKeyRow
from shugu.keys.sealing import KeyEncryptionKey
from shugu.ledger.models import EntryRow
from shugu.pep import G, Scalar
from shugu.pep.holder import (
    decrypt_column,
    decrypt_pseudonyms,
    encrypt_column,
    encrypt_identifiers,
    identifier_point,
    normalize_identifier,
    pack_ciphertexts,
    unpack_ciphertexts,
)
from shugu.pep.service import (
    GrantListPolicy,
    LinkAction,
    LinkDecision,
    LinkGrant,
    LinkPolicy,
    LinkRequest,
    PepConfig,
    PepService,
    load_grants,
    session_context,
)
from shugu.runtime import Hub

HOLDER_A = Principal("01HOLDERA", "holder-a", frozenset({Role.HOLDER}))
HOLDER_B = Principal("01HOLDERB", "holder-b", frozenset({Role.HOLDER}))
JOB_RUNNER = Principal("01RUNNER", "runner", frozenset({Role.COMPUTE_PROVIDER}))


class AllowAll:
    def decide(self, request: LinkRequest) -> LinkDecision:
        return LinkDecision.ALLOWED


class RefuseAll:
    def decide(self, request: LinkRequest) -> LinkDecision:
        return LinkDecision.NOT_GRANTED


def _service(hub: Hub, *names: str, policy: LinkPolicy | None = None, **config: Any) -> PepService:
    """A PEP system of its own (not the hub's) over the hub's database; `config` goes to
    `PepConfig` (e.g. ``max_batch``, ``workers``)."""
    with hub.db.session() as session:
        session.execute(delete(HubKeyRow).where(HubKeyRow.name.like("pep:%")))
    service = PepService(
        hub.db,
        load_kek(hub.settings),
        hub.clock,
        hub.ledger,
        policy or AllowAll(),
        PepConfig(transcryptors=names or ("custodian",), **config),
    )
    service.open()
    return service


def _job_pseudonyms(service: PepService, holder: Principal, ids: list[str], job: str) -> list[str]:
    public = service.public_info().public_key
    data, _ = unpack_ciphertexts(encrypt_identifiers(ids, public))
    out = service.transcrypt(
        holder,
        job=job,
        domain_from=None,
        domain_to=job,
        session="s1",
        ciphertexts=data,
        shuffle=False,
    )
    material = service.session_key(JOB_RUNNER, job=job, session="s1")
    secret = material.blinded_secret_key
    for share in material.shares:
        secret = secret * share.share
    assert secret * G == material.public_key == out.batch.public_key
    found = decrypt_pseudonyms(pack_ciphertexts(out.batch.ciphertexts, [True] * len(ids)), secret)
    return [p for p in found if p is not None]


def test_cross_holder_pseudonyms_agree_in_a_job_and_differ_across_jobs(hub: Hub) -> None:
    service = hub.pep
    service.use_policy(AllowAll())
    a = _job_pseudonyms(service, HOLDER_A, ["110101-X", "p-2"], "study-1")
    b = _job_pseudonyms(service, HOLDER_B, [" 110101-x ", "P-2"], "study-1")
    other = _job_pseudonyms(service, HOLDER_B, ["110101-X", "p-2"], "study-2")
    assert a == b
    assert not set(a) & set(other)
    assert a[0] != identifier_point("110101-X").hex()  # not the global-domain point


def test_two_transcryptors_chain_and_every_share_is_needed(hub: Hub) -> None:
    service = _service(hub, "custodian", "auditor")
    info = service.public_info()
    assert info.transcryptors == ("custodian", "auditor")
    ids = ["a", "b", "a"]
    data, present = unpack_ciphertexts(encrypt_identifiers(ids, info.public_key))
    out = service.transcrypt(
        HOLDER_A,
        job="j",
        domain_from=None,
        domain_to="j",
        session="s",
        ciphertexts=data,
        shuffle=False,
    )
    assert out.batch.route == ("custodian", "auditor")
    material = service.session_key(JOB_RUNNER, job="j", session="s")
    secret = material.blinded_secret_key * material.shares[0].share * material.shares[1].share
    texts = pack_ciphertexts(out.batch.ciphertexts, present)
    found = decrypt_pseudonyms(texts, secret)
    assert found[0] == found[2] != found[1]
    partial = material.blinded_secret_key * material.shares[0].share
    assert decrypt_pseudonyms(texts, partial) != found  # one share missing: wrong pseudonyms


def test_secrets_are_stored_sealed_and_survive_a_restart(hub: Hub, kek: KeyEncryptionKey) -> None:
    before = hub.pep.public_info()
    with hub.db.session() as session:
        rows = session.scalars(select(HubKeyRow).where(HubKeyRow.name.like("pep:%"))).all()
        row = {r.name: r for r in rows}["pep:custodian"]
        raw = kek.open(row.sealed_private_key, purpose="pep-transcryptor:custodian")
        dump = b"".join(
            r.sealed_private_key + r.public_key + r.certificate_pem.encode()
            for r in session.scalars(select(HubKeyRow)).all()
        ) + b"".join(e.body.encode() for e in session.scalars(select(EntryRow)).all())
    assert len(raw) == 160
    for secret in (raw[:64], raw[64:128], raw[128:]):
        assert secret not in dump and secret.hex().encode() not in dump
    again = PepService(hub.db, kek, hub.clock, hub.ledger, AllowAll())
    again.open()
    assert again.public_info() == before
    assert "custodian" not in repr(again.public_info().public_key)


def test_changing_the_transcryptors_of_a_set_up_system_is_refused(hub: Hub) -> None:
    service = PepService(
        hub.db, load_kek(hub.settings), hub.clock, hub.ledger, AllowAll(), PepConfig(("a", "b"))
    )
    with pytest.raises(ConflictError, match="set up with transcryptors custodian, not a, b"):
        service.open()
    with hub.db.session() as session:
        assert session.get(HubKeyRow, "pep:a") is None


def test_a_refused_link_raises_and_records_nothing(hub: Hub) -> None:
    service = _service(hub, policy=RefuseAll())
    data, _ = unpack_ciphertexts(encrypt_identifiers(["a"], service.public_info().public_key))
    size = hub.ledger.size()
    with pytest.raises(ForbiddenError, match="may not submit into domains holder-a, j for job j"):
        service.transcrypt(
            HOLDER_A, job="j", domain_from="holder-a", domain_to="j", session="s", ciphertexts=data
        )
    with pytest.raises(ForbiddenError, match="runner is not a key receiver of job j"):
        service.session_key(JOB_RUNNER, job="j", session="s")
    assert hub.ledger.size() == size


def test_each_transcription_is_on_the_ledger_without_values(hub: Hub) -> None:
    service = _service(hub)
    texts = encrypt_identifiers(["a", "b"], service.public_info().public_key)
    data, _ = unpack_ciphertexts(texts)
    result = service.transcrypt(
        HOLDER_A,
        job="study-1",
        domain_from="holder-a",
        domain_to="study-1",
        session="s1",
        ciphertexts=data,
    )
    hub.ledger.tick()
    entry = json.loads(hub.ledger.entry(result.ledger_index).body)
    assert entry["type"] == "pep.transcription" and entry["subjects"] == ["study-1"]
    assert entry["actor"] == HOLDER_A.participant_id
    assert entry["payload"] == {
        "count": 2,
        "domain_from": "holder-a",
        "domain_to": "study-1",
        "session": "s1",
        "submitter": "holder-a",
        "shuffled": True,
        "transcryptors": ["custodian"],
    }
    body = hub.ledger.entry(result.ledger_index).body.decode()
    for text in texts:
        assert text and text[:20] not in body
    assert result.batch.ciphertexts.hex()[:40] not in body


@pytest.mark.parametrize(
    ("data", "error", "needle"),
    [
        pytest.param(b"", InvalidInputError, "empty", id="empty"),
        pytest.param(bytes(63), InvalidInputError, "multiple of 64", id="short"),
        pytest.param(bytes(64), InvalidInputError, "ciphertext 0 is not valid", id="identity"),
        pytest.param(b"\xff" * 64, InvalidInputError, "ciphertext 0 is not valid", id="bad-point"),
        pytest.param(bytes(64 * 4), PayloadTooLargeError, "at most 3", id="too-many"),
    ],
)
def test_bad_batches_raise_and_record_nothing(
    hub: Hub, data: bytes, error: type[Exception], needle: str
) -> None:
    service = _service(hub, max_batch=3)
    size = hub.ledger.size()
    with pytest.raises(error, match=needle):
        service.transcrypt(
            HOLDER_A, job="j", domain_from=None, domain_to="j", session="s", ciphertexts=data
        )
    assert hub.ledger.size() == size


@pytest.mark.parametrize("name", ["", "a#b", "x\n", "y" * 201])
def test_bad_names_are_refused(hub: Hub, name: str) -> None:
    with pytest.raises(InvalidInputError, match="name must be"):
        hub.pep.session_key(JOB_RUNNER, job=name or "", session="s")
    with pytest.raises(InvalidInputError, match="name must be"):
        session_context("j", name)


RESEARCHER = Principal("01RESEARCHER", "researcher", frozenset({Role.USER}))
GUESSES = ["110101-X", "P-2", "P-3"]


def _study_grants(tmp_path: Path) -> GrantListPolicy:
    """The operator's file: two holders submit into study-1, the researcher receives its keys."""
    path = tmp_path / "pep-links.json"
    grant = {
        "job": "study-1",
        "domains": ["study-1"],
        "submitters": ["holder-a", "holder-b"],
        "key_receivers": ["researcher"],
    }
    path.write_text(json.dumps({"grants": [grant]}))
    return load_grants(path)


def _encrypt(service: PepService, ids: list[str]) -> bytes:
    data, _ = unpack_ciphertexts(encrypt_identifiers(ids, service.public_info().public_key))
    return data


def test_the_dictionary_attack_is_refused_and_recorded(hub: Hub, tmp_path: Path) -> None:
    service = _service(hub, policy=_study_grants(tmp_path))
    guesses = _encrypt(service, GUESSES)  # X is public: anyone can encrypt identifiers
    size = hub.ledger.size()
    for domain_from in (None, "study-1"):
        with pytest.raises(ForbiddenError, match="researcher is a key receiver here"):
            service.transcrypt(
                RESEARCHER,
                job="study-1",
                domain_from=domain_from,
                domain_to="study-1",
                session="s1",
                ciphertexts=guesses,
            )
    assert hub.ledger.size() == size + 2  # the two refusals, nothing else
    hub.ledger.tick()
    [first, second] = (json.loads(e.body) for e in hub.ledger.entries(size, 2))
    assert first["type"] == second["type"] == "pep.transcription.refused"
    assert first["actor"] == RESEARCHER.participant_id and first["subjects"] == ["study-1"]
    assert first["payload"] == {
        "count": 3,
        "domain_from": None,
        "domain_to": "study-1",
        "session": "s1",
        "reason": "key_receiver",
    }
    assert second["payload"]["domain_from"] == "study-1"
    body = b"".join(e.body for e in hub.ledger.entries(size, 2))
    assert guesses.hex()[:40].encode() not in body
    assert base64.b64encode(guesses)[:40] not in body


def test_holders_submit_and_the_key_receiver_links_only_their_data(
    hub: Hub, tmp_path: Path
) -> None:
    service = _service(hub, policy=_study_grants(tmp_path))
    moved = {}
    for holder, ids in ((HOLDER_A, ["110101-X", "P-2"]), (HOLDER_B, [" 110101-x", "p-9"])):
        result = service.transcrypt(
            holder,
            job="study-1",
            domain_from=None,
            domain_to="study-1",
            session="s1",
            ciphertexts=_encrypt(service, ids),
            shuffle=False,
        )
        hub.ledger.tick()
        entry = json.loads(hub.ledger.entry(result.ledger_index).body)
        assert entry["actor"] == holder.participant_id
        assert entry["payload"]["submitter"] == holder.name
        moved[holder.name] = pack_ciphertexts(result.batch.ciphertexts, [True] * len(ids))
    for holder in (HOLDER_A, HOLDER_B):
        with pytest.raises(ForbiddenError, match=f"{holder.name} is not a key receiver"):
            service.session_key(holder, job="study-1", session="s1")
    material = service.session_key(RESEARCHER, job="study-1", session="s1")
    secret = material.blinded_secret_key
    for share in material.shares:
        secret = secret * share.share
    a = decrypt_pseudonyms(moved["holder-a"], secret)
    b = decrypt_pseudonyms(moved["holder-b"], secret)
    assert a[0] == b[0] and len({a[1], b[1], a[0]}) == 3  # the shared patient links, only it
    with pytest.raises(ForbiddenError):  # and no guess of its own ever reaches the job domain
        service.transcrypt(
            RESEARCHER,
            job="study-1",
            domain_from=None,
            domain_to="study-1",
            session="s1",
            ciphertexts=_encrypt(service, ["P-9"]),
        )
    stranger = Principal("01STRANGER", "stranger", frozenset({Role.HOLDER}))
    size = hub.ledger.size()
    with pytest.raises(ForbiddenError, match="stranger may not submit"):
        service.transcrypt(
            stranger,
            job="study-1",
            domain_from=None,
            domain_to="study-1",
            session="s1",
            ciphertexts=_encrypt(service, ["P-9"]),
        )
    assert hub.ledger.size() == size  # a plain refusal records nothing


def test_the_decisions_asked_of_the_policy(hub: Hub) -> None:
    asked: list[LinkRequest] = []

    class Recording:
        def decide(self, request: LinkRequest) -> LinkDecision:
            asked.append(request)
            return LinkDecision.ALLOWED

    service = _service(hub, policy=Recording())
    service.transcrypt(
        HOLDER_A,
        job="j",
        domain_from="holder-a",
        domain_to="j",
        session="s",
        ciphertexts=_encrypt(service, ["a"]),
    )
    service.session_key(JOB_RUNNER, job="j", session="s")
    assert asked == [
        LinkRequest("01HOLDERA", "holder-a", "j", LinkAction.SUBMIT, frozenset({"holder-a", "j"})),
        LinkRequest("01RUNNER", "runner", "j", LinkAction.RECEIVE_KEY, frozenset()),
    ]
    assert GrantListPolicy((LinkGrant("j", frozenset({"j"}), frozenset(), frozenset()),))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("\u3000ｘ１２ ", "X12"),
        ("ab-1", "AB-1"),
        ("ß", "ß"),
        (42, "42"),
        ("  ", None),
        (None, None),
    ],
)
def test_identifiers_normalise_as_the_privacy_engine(value: object, expected: str | None) -> None:
    assert normalize_identifier(value) == expected  # type: ignore[arg-type]
    if isinstance(value, str):
        from shugu.privacy.transforms import normalize_text

        frame = pl.DataFrame({"v": [value]})
        assert frame.select(normalize_text(pl.col("v"), pl.String()))["v"][0] == expected


def test_holder_columns_round_trip() -> None:
    secret = Scalar.random()
    column = pl.Series("id", ["a", None, "A "])
    encrypted = encrypt_column(column, secret * G)
    assert encrypted[1] is None and encrypted[0] != encrypted[2]
    decrypted = decrypt_column(encrypted, secret)
    assert decrypted[0] == decrypted[2] == identifier_point("a").hex() and decrypted[1] is None
    with pytest.raises(InvalidInputError, match="identifiers must be text or integers"):
        encrypt_column(pl.Series("f", [1.5]), secret * G)
    with pytest.raises(InvalidInputError, match="row 0: not an encrypted pseudonym"):
        decrypt_pseudonyms(["AAAA"], secret)
    with pytest.raises(InvalidInputError, match="blank identifier"):
        identifier_point(" ")
