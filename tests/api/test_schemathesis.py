"""The OpenAPI document tells the truth: schemathesis fuzzes the hub and every check passes.

The run is what `schemathesis run --checks all` does (every phase: examples, coverage, fuzzing,
stateful), driven through schemathesis's engine against the ASGI app, once anonymously and once as
a participant of each role. Signed runs go through `SignatureAuth`, which signs every generated
request as RFC 9421 prescribes (`shugu.signing.httpsig.sign`), the way `shugu.client.SigningAuth`
does for httpx. The space is real: a hub with an operator and one approved member per role.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from schemathesis.config._checks import NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES as NEGATIVE
from schemathesis.core.failures import Failure
from schemathesis.engine import events, from_schema
from schemathesis.python import asgi

from shugu.api import create_app
from shugu.clock import ManualClock
from shugu.identity import Role
from shugu.keys.sealing import KeyEncryptionKey
from shugu.runtime import Hub
from shugu.settings import RateLimit, Settings
from shugu.signing import httpsig
from tests.conftest import START, Member, make_member, make_operator

pytestmark = pytest.mark.slow

PHASES = ("examples", "coverage", "fuzzing", "stateful")
MAX_EXAMPLES = 40
"""Examples per operation and phase: tuned so the whole module stays within a few minutes."""


class SignatureAuth(requests.auth.AuthBase):
    """Sign each request schemathesis sends as `member` (RFC 9421 with RFC 9530 digest)."""

    def __init__(self, member: Member, clock: ManualClock) -> None:
        self.member = member
        self.clock = clock

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        path, _, query = (request.path_url or "/").partition("?")
        body = request.body or b""
        headers = httpsig.sign(
            self.member.key,
            key_id=self.member.participant_id,
            method=request.method or "GET",
            authority=urlsplit(request.url or "").netloc.lower(),
            path=path,
            query=query,
            body=body.encode() if isinstance(body, str) else body,
            created=int(self.clock.now().timestamp()),
        )
        request.headers.update(headers)
        return request


class FuzzSpace:
    """A hub app with an operator and one approved member per role."""

    def __init__(self, tmp_path: Path) -> None:
        self.clock = ManualClock(START)
        self.settings = Settings(
            home=tmp_path / "home",
            database_url=f"sqlite:///{tmp_path / 'hub.db'}",
            secret_key=KeyEncryptionKey.generate().to_text(),
            rate_limit=RateLimit(
                per_minute=1_000_000,
                burst=1_000_000,
                address_per_minute=1_000_000,
                address_burst=1_000_000,
                applications_per_hour=1_000_000,
            ),
            authority=["testserver"],  # schemathesis's in-process base URL
            log_json=True,
        )
        self.hub = Hub.open(self.settings, self.clock)
        operator = make_operator(self.hub)
        self.members = {Role.OPERATOR: operator}
        for role in Role:
            if role is not Role.OPERATOR:
                name = role.value.replace("_", "-")
                self.members[role] = make_member(self.hub, operator, name, role)
        self.app = create_app(self.settings, hub=self.hub)


@pytest.fixture
def fuzz_space(tmp_path: Path) -> Iterator[FuzzSpace]:
    """A fresh space per run, so that one role's run does not see another's writes."""
    space = FuzzSpace(tmp_path)
    yield space
    asgi.shutdown_lifespans()
    space.hub.close()


def _config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": 20261204,
            "checks": {
                "enabled": True,
                # A body over `max_body_bytes` is refused with 413 before it is parsed, whatever
                # it holds: a rejection like the default ones, added to them.
                "negative_data_rejection": {"expected-statuses": [*NEGATIVE, "413"]},
            },
            "generation": {"max-examples": MAX_EXAMPLES},
            "phases": {"stateful": {"max-steps": 10}},
        }
    )


@dataclass
class Outcome:
    """What a run found, and the status each operation answered at least once."""

    problems: list[str]
    answered: set[tuple[str, str, int]]


def _run(space: FuzzSpace, auth: requests.auth.AuthBase | None) -> Outcome:
    schema = schemathesis.openapi.from_asgi("/openapi.json", space.app, config=_config())
    if auth is not None:
        schema.auth.set_from_requests(auth)
    problems: dict[str, str] = {}
    answered: set[tuple[str, str, int]] = set()
    ran: set[str] = set()
    for event in from_schema(schema).execute():
        if isinstance(event, events.PhaseFinished) and event.phase.skip_reason is None:
            ran.add(event.phase.name.value)
        if isinstance(event, events.NonFatalError | events.FatalError):
            problems[repr(event)] = f"error: {event!r}"
        if isinstance(event, events.ScenarioFinished):
            problems.update(_failures(event))
            answered.update(_answered(event))
        if isinstance(event, events.EngineFinished):
            problems.update(_described(f, "") for f in event.failures)
    missing = set(PHASES) - ran
    assert not missing, f"phases that did not run: {sorted(missing)}"
    return Outcome(list(problems.values()), answered)


def _answered(event: events.ScenarioFinished) -> Iterator[tuple[str, str, int]]:
    for interaction in event.recorder.interactions.values():
        if interaction.response is not None:
            path = urlsplit(interaction.request.uri).path
            yield interaction.request.method, path, interaction.response.status_code


def _failures(event: events.ScenarioFinished) -> Iterator[tuple[str, str]]:
    for checks in event.recorder.checks.values():
        for check in checks:
            if check.failure_info is not None:
                yield _described(check.failure_info.failure, check.failure_info.code_sample)


def _described(failure: Failure, sample: str) -> tuple[str, str]:
    key = f"{failure.operation}: {failure.title}"
    return key, f"{key}: {failure.message}\n    {sample}"


def test_anonymous_requests_conform(fuzz_space: FuzzSpace) -> None:
    outcome = _run(fuzz_space, None)
    assert not outcome.problems, "\n".join(outcome.problems)
    assert ("GET", "/v1/me", 401) in outcome.answered


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_signed_requests_conform(fuzz_space: FuzzSpace, role: Role) -> None:
    auth = SignatureAuth(fuzz_space.members[role], fuzz_space.clock)
    outcome = _run(fuzz_space, auth)
    assert not outcome.problems, "\n".join(outcome.problems)
    assert ("GET", "/v1/me", 200) in outcome.answered  # the signatures were accepted
