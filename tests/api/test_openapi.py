"""The OpenAPI document says what the hub answers: problems, security, methods, cursors."""

from __future__ import annotations

from typing import Any

import pytest

from shugu.api.auth import PUBLIC_ROUTES
from shugu.api.openapi import PROBLEM_JSON, PROBLEM_REF
from shugu.identity import Role
from shugu.ledger import Event
from tests.conftest import Space

pytestmark = pytest.mark.anyio

METHODS = {"get", "post", "put", "patch", "delete"}


def _operations(space: Space) -> list[tuple[str, str, dict[str, Any]]]:
    document = space.app.openapi()  # type: ignore[attr-defined]
    return [
        (method.upper(), path, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method in METHODS
    ]


async def test_every_error_status_is_a_documented_problem(space: Space) -> None:
    for method, path, operation in _operations(space):
        errors = {s: r for s, r in operation["responses"].items() if int(s) >= 400}
        assert {"413", "500", "503"} <= set(errors), (method, path)
        for status, response in errors.items():
            assert response["content"] == {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}, (
                method,
                path,
                status,
            )


async def test_signed_operations_name_the_signature_scheme(space: Space) -> None:
    for method, path, operation in _operations(space):
        signed = "security" in operation
        public = (method, path) in PUBLIC_ROUTES
        applicant = path.startswith("/v1/applications")
        assert signed == (not public or applicant), (method, path)
        if signed:
            assert {"401", "403", "429"} <= set(operation["responses"]), (method, path)


async def test_the_problem_schema_is_what_the_hub_sends(space: Space) -> None:
    document = space.app.openapi()  # type: ignore[attr-defined]
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["Problem"]["required"]) == {
        "type",
        "title",
        "status",
        "detail",
        "code",
        "message",
        "params",
        "instance",
    }
    assert document["components"]["securitySchemes"]["httpSignature"]["in"] == "header"


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/health", "GET"),
        ("/ledger/entries", "GET, POST"),
        ("/v1/participants/x/approve", "POST"),
    ],
)
async def test_an_undeclared_method_is_405_with_every_allowed_method(
    space: Space, path: str, allow: str
) -> None:
    async with space.raw() as client:
        response = await client.request("TRACE", path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.headers["content-type"] == PROBLEM_JSON
    assert "TRACE" in response.json()["detail"]


async def test_cursors_follow_their_documented_pattern(space: Space) -> None:
    async with space.raw(space.operator) as client:
        page = (await client.get("/v1/participants", params={"limit": 1})).json()
        following = await client.get("/v1/participants", params={"cursor": page["next_cursor"]})
        lower = await client.get("/v1/participants", params={"cursor": page["next_cursor"].lower()})
    assert following.status_code == 200 and following.json()["items"]
    assert lower.status_code == 400  # the pattern is upper-case Crockford base32, as documented
    assert "invalid pagination cursor" in lower.json()["detail"]


async def test_an_export_longer_than_the_limit_links_to_the_rest(
    space: Space, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shugu.api.routers import ledger

    monkeypatch.setattr(ledger, "MAX_EXPORT", 2)
    space.hub.ledger.append([Event("test.filler", space.operator.participant_id)] * 3)
    size = space.hub.ledger.size()
    async with space.raw(space.members[Role.AUDITOR]) as client:
        first = await client.get("/ledger/export", params={"start": 0, "end": size})
        empty = await client.get("/ledger/export", params={"start": 3, "end": 1})
        rest = await client.get(first.headers["link"].split(">")[0].lstrip("<"))
    assert first.status_code == 200 and len(first.text.splitlines()) == 2
    assert first.headers["link"] == f'</ledger/export?start=2&end={size}>; rel="next"'
    assert rest.status_code == 200 and rest.text.splitlines()[0].startswith("2\t")
    assert empty.status_code == 200 and empty.text == "" and "link" not in empty.headers
