"""A transcryptor in its own process (here: its own home, key, database and HTTP server) in the
hub's chain: the cross-holder property through it, shares sealed to the job, its own ledger, and
what it refuses (other signers, replays, unsealed shares, a second set-up, a batch it already
transcrypted); a server that is down or misnamed fails clearly and records nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, delete, func, select

from shugu.client import SigningAuth, applicant_auth
from shugu.errors import ConflictError, InvalidInputError, UnavailableError
from shugu.identity import Principal
from shugu.keys import load_kek
from shugu.keys.models import HubKeyRow
from shugu.pep import G, GroupElement, Scalar
from shugu.pep.batch import EncryptedBatch
from shugu.pep.distributed import SessionKeyShare
from shugu.pep.holder import (
    decrypt_pseudonyms,
    encrypt_identifiers,
    pack_ciphertexts,
    unpack_ciphertexts,
)
from shugu.pep.remote import PREFIX, RemoteTranscryptor
from shugu.pep.service import PepConfig, PepService
from shugu.pep.sharing import RecipientKey, SealedShare
from shugu.runtime import Hub
from shugu.signing.httpsig import self_key_id
from shugu.signing.models import NonceRow
from tests.pep.conftest import Served, serve, transcryptor_settings
from tests.pep.test_service import HOLDER_A, HOLDER_B, AllowAll, _service
from tests.pep.test_service import JOB_RUNNER as RUNNER


def _sealed_session_secret(
    service: PepService, job: str, session: str
) -> tuple[Scalar, GroupElement]:
    """The session key as a job gets it: shares sealed to its one-time key, opened by it; and
    the session public key the service reports."""
    recipient = RecipientKey.generate()
    material = service.session_key(
        RUNNER, job=job, session=session, recipient=recipient.public_bytes
    )
    secret = material.blinded_secret_key
    for share in material.shares:
        assert isinstance(share, SealedShare)  # the hub relays what it cannot read
        secret = secret * recipient.open(share).share
    assert secret * G == material.public_key
    return secret, material.public_key


@pytest.fixture
def chained(hub: Hub, auditor: Served) -> Iterator[PepService]:
    service = _service(hub, "custodian", f"auditor={auditor.url}")
    yield service
    service.close()


def _pseudonyms(service: PepService, holder: Principal, ids: list[str], job: str) -> list[str]:
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
    assert out.batch.route == ("custodian", "auditor")
    secret, public_key = _sealed_session_secret(service, job, "s1")
    assert public_key == out.batch.public_key
    texts = pack_ciphertexts(out.batch.ciphertexts, [True] * len(ids))
    return [p for p in decrypt_pseudonyms(texts, secret) if p is not None]


def test_cross_holder_pseudonyms_through_a_transcryptor_server(
    chained: PepService, auditor: Served
) -> None:
    a = _pseudonyms(chained, HOLDER_A, ["110101-X", "p-2", "q-3"], "study-1")
    b = _pseudonyms(chained, HOLDER_B, [" 110101-x ", "P-2", "q-3"], "study-1")
    other = _pseudonyms(chained, HOLDER_B, ["110101-X", "p-2", "q-3"], "study-2")
    assert a == b
    assert not set(a) & set(other)
    # the transcryptor kept its own record: joined once, two transcriptions and two shares per
    # job pseudonym run, no ciphertext or share in it
    entries = [
        json.loads(line.split("\t", 2)[2])
        for line in auditor.host.ledger.export(0, auditor.host.ledger.size())
    ]
    types = [entry["type"] for entry in entries]
    assert types.count("pep.transcryptor.joined") == 1
    assert types.count("pep.transcryptor.transcription") == 3
    assert types.count("pep.transcryptor.share_issued") == 3
    transcription = next(e for e in entries if e["type"] == "pep.transcryptor.transcription")
    assert transcription["payload"]["count"] == 3
    assert transcription["payload"]["on_behalf_of"] == "01HOLDERA"
    assert transcription["subjects"] == ["study-1"]


def test_the_shuffled_chain_still_decrypts_to_the_same_set(chained: PepService) -> None:
    ids = [f"person-{i}" for i in range(40)]
    public = chained.public_info().public_key
    data, _ = unpack_ciphertexts(encrypt_identifiers(ids, public))
    ordered = chained.transcrypt(
        HOLDER_A,
        job="j",
        domain_from=None,
        domain_to="j",
        session="s",
        ciphertexts=data,
        shuffle=False,
    )
    shuffled = chained.transcrypt(
        HOLDER_A, job="j", domain_from=None, domain_to="j", session="s", ciphertexts=data
    )
    assert shuffled.batch.ciphertexts != ordered.batch.ciphertexts
    secret, _ = _sealed_session_secret(chained, "j", "s")
    texts = [pack_ciphertexts(b.batch.ciphertexts, [True] * 40) for b in (ordered, shuffled)]
    assert sorted(decrypt_pseudonyms(texts[0], secret)) == sorted(
        decrypt_pseudonyms(texts[1], secret)
    )


def test_a_session_key_without_a_recipient_key_is_refused_and_not_recorded(
    chained: PepService, hub: Hub
) -> None:
    before = hub.ledger.size()
    with pytest.raises(InvalidInputError, match="recipient key"):
        chained.session_key(RUNNER, job="j", session="s")
    assert hub.ledger.size() == before


def test_a_share_opens_only_for_its_recipient_transcryptor_and_session(
    chained: PepService,
) -> None:
    recipient, stranger = RecipientKey.generate(), RecipientKey.generate()
    material = chained.session_key(RUNNER, job="j", session="s", recipient=recipient.public_bytes)
    sealed = material.shares[1]
    assert isinstance(sealed, SealedShare) and sealed.transcryptor == "auditor"
    with pytest.raises(InvalidInputError, match="does not open"):
        stranger.open(sealed)
    with pytest.raises(InvalidInputError, match="does not open"):
        recipient.open(SealedShare("custodian", sealed.session, sealed.sealed))
    with pytest.raises(InvalidInputError, match="does not open"):
        recipient.open(SealedShare("auditor", "j#other", sealed.sealed))
    with pytest.raises(InvalidInputError, match="32 bytes"):
        chained.session_key(RUNNER, job="j", session="s", recipient=b"short")


def test_the_server_answers_only_its_hub_once_per_request(hub: Hub, auditor: Served) -> None:
    stranger = Ed25519PrivateKey.generate()
    with httpx.Client(base_url=auditor.url, auth=applicant_auth(stranger)) as client:
        response = client.get(PREFIX)
    assert response.status_code == 401
    assert "answers only its hub" in response.json()["detail"]
    with httpx.Client(base_url=auditor.url) as client:
        assert client.get(PREFIX).status_code == 401  # unsigned
        assert client.get("/health").json() == {"status": "ok"}
    # a replayed request (same nonce and signature) is refused
    key = _hub_key(hub)
    auth = SigningAuth(key, self_key_id(key.public_key().public_bytes_raw()))
    with httpx.Client(base_url=auditor.url, auth=auth) as client:
        first = client.get(PREFIX)
        assert first.status_code == 200 and first.json()["name"] == "auditor"
        headers = {
            k: first.request.headers[k] for k in ("signature-input", "signature", "content-digest")
        }
    with httpx.Client(base_url=auditor.url) as client:
        replay = client.get(PREFIX, headers=headers)
    assert replay.status_code == 401 and "replay" in replay.json()["detail"]


def test_a_request_signed_for_one_server_is_refused_by_another(
    hub: Hub, auditor: Served, tmp_path: Path, transcryptor_db: str
) -> None:
    # two transcryptor servers trusting the same hub key: a request the hub signed for one is
    # refused by the other within the freshness window, whichever Host it is sent with
    other_db = f"sqlite:///{tmp_path / 'second.db'}"
    settings = transcryptor_settings(tmp_path / "second", other_db)
    server, thread, second = serve(settings, "second", hub.pep.client_public_key())
    key = _hub_key(hub)
    auth = SigningAuth(key, self_key_id(key.public_key().public_bytes_raw()))
    try:
        with httpx.Client(base_url=auditor.url, auth=auth) as signer:
            captured = next(auth.auth_flow(signer.build_request("GET", PREFIX)))
        headers = {
            k: captured.headers[k] for k in ("signature-input", "signature", "content-digest")
        }
        before = second.host.ledger.size()
        with httpx.Client(base_url=second.url) as client:
            under_its_host = client.get(PREFIX, headers=headers)
            under_the_signed_host = client.get(
                PREFIX, headers=headers | {"Host": captured.headers["host"]}
            )
        assert under_its_host.status_code == 401
        assert "does not verify" in under_its_host.json()["detail"]
        assert under_the_signed_host.status_code == 401
        assert (
            f"addressed to {captured.headers['host']}" in (under_the_signed_host.json()["detail"])
        )
        assert second.host.ledger.size() == before
        engine = create_engine(other_db)
        with engine.connect() as connection:  # nothing was admitted there
            assert connection.execute(select(func.count()).select_from(NonceRow)).scalar() == 0
        engine.dispose()
        with httpx.Client(base_url=auditor.url) as client:  # where it was signed for: good
            assert client.get(PREFIX, headers=headers).json()["name"] == "auditor"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _hub_key(hub: Hub) -> Ed25519PrivateKey:
    with hub.db.session() as session:
        row = session.get(HubKeyRow, "pep-client")
        assert row is not None
        raw = load_kek(hub.settings).open(row.sealed_private_key, purpose="pep-client")
    return Ed25519PrivateKey.from_private_bytes(raw)


def test_the_server_blinds_only_the_set_up_point(
    chained: PepService, hub: Hub, auditor: Served
) -> None:
    remote = RemoteTranscryptor("auditor", auditor.url, _hub_key(hub))
    try:
        with pytest.raises(ConflictError, match="already belongs to a PEP system"):
            remote.blind(GroupElement.random())
        assert remote.info()["joined"] is True
    finally:
        remote.close()


def test_a_batch_the_server_already_transcrypted_is_refused(
    chained: PepService, hub: Hub, auditor: Served
) -> None:
    public = chained.public_info().public_key
    data, _ = unpack_ciphertexts(encrypt_identifiers(["a", "b"], public))
    out = chained.transcrypt(
        HOLDER_A, job="j", domain_from=None, domain_to="j", session="s", ciphertexts=data
    )
    remote = RemoteTranscryptor("auditor", auditor.url, _hub_key(hub))
    try:
        with pytest.raises(InvalidInputError, match=r"auditor: .*already transcrypted"):
            remote.transcrypt(
                out.batch,
                domain_from=None,
                domain_to="j",
                session_to="j#s",
                shuffle=True,
                job="j",
                on_behalf_of="x",
            )
    finally:
        remote.close()


def test_a_server_that_is_down_fails_clearly_and_records_nothing(
    hub: Hub, tmp_path: Path, transcryptor_db: str
) -> None:
    settings = transcryptor_settings(tmp_path / "t2", transcryptor_db)
    server, thread, served = serve(settings, "auditor", hub.pep.client_public_key())
    service = _service(hub, "custodian", f"auditor={served.url}")
    public = service.public_info().public_key
    server.should_exit = True
    thread.join(timeout=10)
    data, _ = unpack_ciphertexts(encrypt_identifiers(["a"], public))
    before = hub.ledger.size()
    with pytest.raises(UnavailableError, match="cannot be reached"):
        service.transcrypt(
            HOLDER_A, job="j", domain_from=None, domain_to="j", session="s", ciphertexts=data
        )
    with pytest.raises(UnavailableError, match="cannot be reached"):
        service.session_key(
            RUNNER, job="j", session="s", recipient=RecipientKey.generate().public_bytes
        )
    assert hub.ledger.size() == before
    service.close()


def test_set_up_waits_for_a_server_that_is_down_and_names_a_wrong_one(
    hub: Hub, auditor: Served
) -> None:
    with hub.db.session() as session:
        session.execute(delete(HubKeyRow).where(HubKeyRow.name.like("pep:%")))
    config = PepConfig(transcryptors=("custodian", "auditor=http://127.0.0.1:9"))
    service = PepService(hub.db, load_kek(hub.settings), hub.clock, hub.ledger, AllowAll(), config)
    with pytest.raises(UnavailableError, match="cannot be reached"):
        service.open()
    with pytest.raises(UnavailableError, match="cannot be reached"):
        service.public_info()  # tries again on use
    with hub.db.session() as session:
        assert session.get(HubKeyRow, "pep:system") is None  # no half-made system
    misnamed = PepConfig(transcryptors=("custodian", f"other={auditor.url}"))
    service = PepService(
        hub.db, load_kek(hub.settings), hub.clock, hub.ledger, AllowAll(), misnamed
    )
    with pytest.raises(UnavailableError, match="is auditor, not other"):
        service.open()


def test_bad_chain_configurations_are_refused() -> None:
    for chain, message in (
        (("custodian", "auditor=ftp://x"), "not an http"),
        (("custodian", "custodian"), "unique"),
        (("Bad Name",), "lower-case"),
        ((), "unique"),
    ):
        with pytest.raises(InvalidInputError, match=message):
            PepConfig(transcryptors=chain).chain()


def test_worker_threads_give_the_same_batch_as_one_thread(hub: Hub) -> None:
    one = _service(hub, "custodian")
    public = one.public_info().public_key
    data, _ = unpack_ciphertexts(encrypt_identifiers([f"id-{i}" for i in range(100)], public))
    single = one.transcrypt(
        HOLDER_A,
        job="j",
        domain_from=None,
        domain_to="j",
        session="s",
        ciphertexts=data,
        shuffle=False,
    )
    # same secrets (same database rows), two worker threads, batches from 8 split
    config = PepConfig(transcryptors=("custodian",), workers=2, parallel_min=8)
    two = PepService(hub.db, load_kek(hub.settings), hub.clock, hub.ledger, AllowAll(), config)
    two.open()
    threaded = two.transcrypt(
        HOLDER_A,
        job="j",
        domain_from=None,
        domain_to="j",
        session="s",
        ciphertexts=data,
        shuffle=False,
    )
    assert threaded.batch.ciphertexts == single.batch.ciphertexts
    shuffled = two.transcrypt(
        HOLDER_A, job="j", domain_from=None, domain_to="j", session="s", ciphertexts=data
    )
    assert sorted(shuffled.batch.to_base64()) == sorted(single.batch.to_base64())
    two.close()
    one.close()


def test_local_shares_in_clear_combine_to_the_chain_public_key(hub: Hub) -> None:
    service = _service(hub, "a", "b")
    material = service.session_key(RUNNER, job="j", session="s")
    secret = material.blinded_secret_key
    for share in material.shares:
        assert isinstance(share, SessionKeyShare)
        secret = secret * share.share
    assert secret * G == material.public_key
    service.close()


def _misbehaving(handler: object) -> RemoteTranscryptor:
    return RemoteTranscryptor(
        "auditor",
        "http://transcryptor.invalid",
        Ed25519PrivateKey.generate(),
        transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    "headers_and_body",
    [
        pytest.param(({}, b"\x00" * 64), id="no-public-key"),
        pytest.param(({"Shugu-Public-Key": "zz"}, b"\x00" * 64), id="bad-public-key"),
        pytest.param(({"Shugu-Transcryptor": "other"}, b"\x00" * 64), id="another-transcryptor"),
        pytest.param(({"Shugu-Transcryptor": "auditor"}, b"\x00" * 32), id="short-answer"),
    ],
)
def test_a_wrong_answer_from_a_server_is_reported_as_the_servers(
    headers_and_body: tuple[dict[str, str], bytes],
) -> None:
    headers, body = headers_and_body
    key = GroupElement.random()
    headers = {"Shugu-Public-Key": key.hex()} | headers
    remote = _misbehaving(lambda request: httpx.Response(200, headers=headers, content=body))
    batch = encrypt_batch_of(1, key)
    with pytest.raises(UnavailableError, match="unexpected answer"):
        remote.transcrypt(
            batch,
            domain_from=None,
            domain_to="j",
            session_to="j#s",
            shuffle=True,
            job="j",
            on_behalf_of="x",
        )
    remote.close()


def test_a_refusal_by_the_server_is_not_the_callers_authentication_failure() -> None:
    problem = {"code": "unauthenticated", "detail": "invalid request signature"}
    remote = _misbehaving(lambda request: httpx.Response(401, json=problem))
    with pytest.raises(UnavailableError, match="failed: invalid request signature"):
        remote.info()
    remote.close()


def encrypt_batch_of(n: int, key: GroupElement) -> EncryptedBatch:
    from shugu.pep.batch import encrypt_batch

    return encrypt_batch([GroupElement.random() for _ in range(n)], key)


def test_the_servers_secrets_and_the_hub_client_key_are_stored_sealed(
    chained: PepService, hub: Hub, auditor: Served
) -> None:
    from sqlalchemy import select

    from shugu.ledger.models import EntryRow

    _pseudonyms(chained, HOLDER_A, ["a", "b"], "study-1")
    kek = load_kek(auditor.settings)
    db = auditor.host._db
    with db.session() as session:
        row = session.get(HubKeyRow, "pep:auditor")
        assert row is not None
        raw = kek.open(row.sealed_private_key, purpose="pep-transcryptor:auditor")
        dump = b"".join(
            r.sealed_private_key + r.public_key for r in session.scalars(select(HubKeyRow)).all()
        ) + b"".join(e.body.encode() for e in session.scalars(select(EntryRow)).all())
    assert len(raw) == 160
    for secret in (raw[:64], raw[64:128], raw[128:]):
        assert secret not in dump and secret.hex().encode() not in dump
    client = _hub_key(hub).private_bytes_raw()
    with hub.db.session() as session:
        hub_dump = b"".join(
            r.sealed_private_key + r.public_key for r in session.scalars(select(HubKeyRow)).all()
        ) + b"".join(e.body.encode() for e in session.scalars(select(EntryRow)).all())
    assert client not in hub_dump and client.hex().encode() not in hub_dump
    assert "hidden" in repr(RecipientKey.generate()) and "auditor" in repr(auditor.host)


def test_an_all_remote_chain_leaves_the_hub_no_pep_secret(
    hub: Hub, auditor: Served, tmp_path: Path
) -> None:
    # the key custodian's transcryptor runs as a server too: the hub holds only x' and its key
    own_db = f"sqlite:///{tmp_path / 'custodian.db'}"  # the auditor's is on the hub's backend
    settings = transcryptor_settings(tmp_path / "custodian", own_db)
    server, thread, custodian = serve(settings, "custodian", hub.pep.client_public_key())
    service = _service(hub, f"custodian={custodian.url}", f"auditor={auditor.url}")
    try:
        a = _pseudonyms(service, HOLDER_A, ["x-1", "x-2"], "j")
        b = _pseudonyms(service, HOLDER_B, ["X-2", "x-1"], "j")
        assert a == [b[1], b[0]]
        with hub.db.session() as session:
            names = {row.name for row in session.scalars(select(HubKeyRow)).all()}
        assert not {n for n in names if n.startswith("pep:") and n != "pep:system"}
    finally:
        service.close()
        server.should_exit = True
        thread.join(timeout=10)


def test_an_invalid_ciphertext_found_by_a_server_is_the_callers_error(
    hub: Hub, auditor: Served
) -> None:
    service = _service(hub, f"auditor={auditor.url}")
    try:
        public = service.public_info().public_key
        data, _ = unpack_ciphertexts(encrypt_identifiers(["a", "b", "c"], public))
        bad = data[:64] + bytes(range(64)) + data[128:]  # the second is no point
        before = hub.ledger.size()
        with pytest.raises(InvalidInputError, match=r"transcryptor auditor: .*ciphertext 1"):
            service.transcrypt(
                HOLDER_A, job="j", domain_from=None, domain_to="j", session="s", ciphertexts=bad
            )
        assert hub.ledger.size() == before
    finally:
        service.close()


def test_a_transcryptor_server_over_tls_with_a_private_ca(
    hub: Hub, tmp_path: Path, transcryptor_db: str
) -> None:
    from tests.cli.test_serve import _tls_files

    cert_file, key_file = _tls_files(tmp_path)
    settings = transcryptor_settings(tmp_path / "tls", transcryptor_db)
    server, thread, served = serve(
        settings, "auditor", hub.pep.client_public_key(), (cert_file, key_file)
    )
    assert served.url.startswith("https://")
    with hub.db.session() as session:
        session.execute(delete(HubKeyRow).where(HubKeyRow.name.like("pep:%")))
    try:
        chain = ("custodian", f"auditor={served.url}")
        untrusted = PepService(
            hub.db, load_kek(hub.settings), hub.clock, hub.ledger, AllowAll(), PepConfig(chain)
        )
        with pytest.raises(UnavailableError, match=r"cannot be reached: .*CERTIFICATE_VERIFY"):
            untrusted.open()  # the system's CAs do not know the server's certificate
        trusted = PepService(
            hub.db,
            load_kek(hub.settings),
            hub.clock,
            hub.ledger,
            AllowAll(),
            PepConfig(chain, tls_verify=str(cert_file)),
        )
        trusted.open()
        assert _pseudonyms(trusted, HOLDER_A, ["a", "b"], "study-1")
        trusted.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
