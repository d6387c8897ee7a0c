"""The request ↔ event table: it names every event type the code base records with evidence, and
every request it names is a route of the hub or the transcryptor server."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

import shugu
from shugu.api import create_app
from shugu.api.transcryptor import create_transcryptor_app
from shugu.identity import ca
from shugu.keys.sealing import KeyEncryptionKey
from shugu.ledger import bindings, trust
from shugu.ledger.bindings import APPLICATION, BINDINGS, LEGACY_TYPES, UNSIGNED_BY_DESIGN, match
from shugu.ledger.models import EVENT_TYPE
from shugu.pep.server import write_config
from shugu.runtime import Hub
from shugu.runtime.transcryptor import open_transcryptor
from shugu.settings import Settings

SOURCE = Path(shugu.__file__).parent

NO_EVIDENCE = {"identity.ca.created"}
"""Recorded by the hub itself, with no actor and no request."""


def _name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def _strings(call: ast.Call) -> list[str]:
    return [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]


def recorded_types() -> set[str]:
    """Every event type the code base builds an `Event` of, resolving the two indirections it
    uses: a type passed in to a module's `_record` helper, and identity's f-string
    ``identity.participant.{what}``."""
    found: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        if path.is_relative_to(SOURCE / "ledger"):
            continue  # the ledger defines Event; external claims are checked by claim.py
        calls = [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call)]
        for call in (c for c in calls if _name(c) == "Event" and c.args):
            first = call.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.add(first.value)
            elif isinstance(first, ast.JoinedStr):
                prefix = first.values[0]
                assert isinstance(prefix, ast.Constant), ast.unparse(first)
                helpers = [c for c in calls if _name(c) == "_record"]
                found |= {prefix.value + s for c in helpers for s in _strings(c)[:1]}
            else:
                helpers = [c for c in calls if _name(c) == "_record"]
                found |= {s for c in helpers for s in _strings(c) if EVENT_TYPE.match(s)}
    return found


def test_the_walk_finds_the_events_it_should() -> None:
    types = recorded_types()
    assert {"identity.participant.approved", "pep.transcription", "identity.ca.created"} <= types
    assert all(EVENT_TYPE.match(t) for t in types), types


def test_every_event_recorded_with_evidence_is_bound_and_no_binding_is_stale() -> None:
    types = recorded_types()
    assert types - NO_EVIDENCE - UNSIGNED_BY_DESIGN == set(BINDINGS) - LEGACY_TYPES
    assert not types & LEGACY_TYPES  # a legacy type is one the code no longer records


def _template(path: str) -> str:
    return re.sub(r"\{[a-z_]+\}", "{}", path)


def _routes(app: FastAPI) -> set[tuple[str, str]]:
    paths = app.openapi()["paths"]
    return {(m.upper(), _template(p)) for p, methods in paths.items() for m in methods}


@pytest.fixture
def served_routes(hub: Hub, settings: Settings, tmp_path: Path) -> set[tuple[str, str]]:
    routes = _routes(create_app(settings, hub=hub))
    home = tmp_path / "transcryptor"
    home.mkdir()
    write_config(home, "custodian", Ed25519PrivateKey.generate().public_key().public_bytes_raw())
    own = Settings(
        home=home,
        database_url=f"sqlite:///{tmp_path / 't.db'}",
        secret_key=KeyEncryptionKey.generate().to_text(),
    )
    runtime = open_transcryptor(own)
    try:
        return routes | _routes(create_transcryptor_app(own, runtime))
    finally:
        runtime.close()


def test_every_bound_request_is_a_route(served_routes: set[tuple[str, str]]) -> None:
    current = [b for t, b in BINDINGS.items() if t not in LEGACY_TYPES] + [APPLICATION]
    missing = [
        (b.method, b.path) for b in current if (b.method, _template(b.path)) not in served_routes
    ]
    assert missing == []


@pytest.mark.parametrize(
    ("type_", "method", "path", "query", "subjects"),
    [
        pytest.param(
            "identity.participant.revoked",
            "post",
            "/v1/participants/P1/revoke",
            "",
            ("P1",),
            id="path",
        ),
        pytest.param(
            "identity.participant.applied",
            "POST",
            "/v1/participants/applications",
            "",
            ("A1",),
            id="actor",
        ),
        pytest.param(
            "pep.transcryptor.transcription",
            "POST",
            "/v1/transcryptor/transcrypt",
            "domain_to=s&job=j-1&shuffle=true",
            ("j-1",),
            id="query",
        ),
        pytest.param("pep.transcription", "POST", "/v1/pep/transcrypt", "", None, id="body"),
    ],
)
def test_a_request_binds_its_subjects(
    type_: str, method: str, path: str, query: str, subjects: tuple[str, ...] | None
) -> None:
    found = match(type_, method, path, query, actor="A1")
    assert found is not None and found.subjects == subjects


@pytest.mark.parametrize(
    ("type_", "method", "path", "query"),
    [
        pytest.param(
            "identity.participant.revoked", "GET", "/v1/participants/P1/revoke", "", id="method"
        ),
        pytest.param(
            "identity.participant.revoked", "POST", "/v1/participants/P1/approve", "", id="other"
        ),
        pytest.param(
            "identity.participant.revoked", "POST", "/v1/participants/a/b/revoke", "", id="deep"
        ),
        pytest.param(
            "identity.participant.revoked", "POST", "/x/v1/participants/P/revoke", "", id="prefix"
        ),
        pytest.param(
            "pep.transcryptor.transcription", "POST", "/v1/transcryptor/transcrypt", "", id="no-job"
        ),
        pytest.param(
            "pep.transcryptor.transcription",
            "POST",
            "/v1/transcryptor/transcrypt",
            "job=a&job=b",
            id="two-jobs",
        ),
        pytest.param(
            "identity.participant.renamed", "POST", "/v1/participants/P", "", id="unknown"
        ),
    ],
)
def test_other_requests_do_not_bind(type_: str, method: str, path: str, query: str) -> None:
    assert match(type_, method, path, query, actor="A1") is None


def test_the_ledger_and_the_ca_agree_on_the_participant_urn() -> None:
    assert trust.PARTICIPANT_URN == ca.PARTICIPANT_URN
    assert bindings.APPLICATION.signer is bindings.Signer.APPLICANT
