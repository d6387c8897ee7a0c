"""Every endpoint × every role: allowed roles get through, others get 403, anonymous gets 401.

The expected table is written out here, independently of the code; a route added without a row
makes `test_every_route_is_in_the_matrix` fail.
"""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from shugu.api.auth import PUBLIC_ROUTES, authenticate
from shugu.identity import Role
from tests.conftest import Space

pytestmark = pytest.mark.anyio

ANY = frozenset(Role)
OPERATOR = frozenset({Role.OPERATOR})

# (method, path template, allowed roles, concrete path builder key)
MATRIX: list[tuple[str, str, frozenset[Role]]] = [
    ("GET", "/v1/participants", ANY),
    ("GET", "/v1/me", ANY),
    ("GET", "/v1/participants/{ref}", ANY),
    ("GET", "/v1/participants/{ref}/certificate", ANY),
    ("GET", "/v1/participants/{ref}/certificates", ANY),
    ("POST", "/v1/participants/{participant_id}/approve", OPERATOR),
    ("POST", "/v1/participants/{participant_id}/reject", OPERATOR),
    ("POST", "/v1/participants/{participant_id}/revoke", OPERATOR),
    ("GET", "/ledger/entries", ANY),
    ("GET", "/ledger/entries/{index}", ANY),
    ("GET", "/ledger/export", ANY),
    ("POST", "/ledger/entries", ANY),
    ("POST", "/ledger/cosignatures", ANY),
    (
        "POST",
        "/v1/pep/transcrypt",
        frozenset({Role.HOLDER, Role.USER, Role.COMPUTE_PROVIDER, Role.CUSTODIAN}),
    ),
    ("POST", "/v1/pep/session-key", frozenset({Role.USER, Role.COMPUTE_PROVIDER, Role.CUSTODIAN})),
]


def _operations(space: Space) -> dict[tuple[str, str], BaseRoute]:
    """Every (method, path) the app answers, read from its routes (not from its OpenAPI
    document, which leaves some out). HEAD is answered by the GET endpoint."""
    routes: list[BaseRoute] = space.app.routes  # type: ignore[attr-defined]
    return {
        (method, str(route.path)): route.original_route
        for route in iter_route_contexts(routes)
        for method in route.methods or ()
        if method != "HEAD"
    }


def _authenticates(route: BaseRoute) -> bool:
    """Whether the route's dependencies authenticate the caller."""
    if not isinstance(route, APIRoute):
        return False
    pending = list(route.dependant.dependencies)
    while pending:
        dependant = pending.pop()
        if dependant.call is authenticate:
            return True
        pending.extend(dependant.dependencies)
    return False


def _unlisted(space: Space) -> set[tuple[str, str]]:
    return set(_operations(space)) - PUBLIC_ROUTES - {(m, p) for m, p, _ in MATRIX}


async def test_every_operation_is_public_or_in_the_matrix(space: Space) -> None:
    operations = _operations(space)
    assert not _unlisted(space), f"neither public nor in the matrix: {sorted(_unlisted(space))}"
    assert {(m, p) for m, p, _ in MATRIX} <= set(operations)
    assert set(operations) >= PUBLIC_ROUTES, sorted(PUBLIC_ROUTES - set(operations))


async def test_matrix_operations_authenticate_and_public_ones_do_not(space: Space) -> None:
    operations = _operations(space)
    for method, path, _ in MATRIX:
        assert _authenticates(operations[method, path]), (method, path)
    for key in PUBLIC_ROUTES:
        assert not _authenticates(operations[key]), key


async def test_a_new_method_on_a_public_path_is_caught(space: Space) -> None:
    assert ("GET", "/ledger/checkpoint") in PUBLIC_ROUTES

    @space.app.delete("/ledger/checkpoint")  # type: ignore[attr-defined, untyped-decorator]
    def drop() -> None:  # an unprotected method added on a public path
        """Nothing."""

    assert _unlisted(space) == {("DELETE", "/ledger/checkpoint")}


def _concrete(path: str, space: Space) -> str:
    target = space.members[Role.USER].participant_id
    concrete = path.replace("{ref}", target).replace("{participant_id}", target)
    return concrete.replace("{index}", "0").replace("/export", "/export?start=0&end=1")


@pytest.mark.parametrize(
    ("method", "path", "allowed"), MATRIX, ids=[f"{m} {p}" for m, p, _ in MATRIX]
)
@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
async def test_role_checks(
    space: Space, method: str, path: str, allowed: frozenset[Role], role: Role
) -> None:
    member = space.members[role]
    body = {"reason": "matrix test"} if path.endswith(("reject", "revoke")) else None
    async with space.raw(member) as client:
        response = await client.request(method, _concrete(path, space), json=body)
    if role in allowed:
        assert response.status_code not in (401, 403), response.text
    else:
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "forbidden"
        assert "needs one of the roles" in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"), MATRIX, ids=[f"{m} {p}" for m, p, _ in MATRIX]
)
async def test_anonymous_calls_are_refused(
    space: Space, method: str, path: str, allowed: frozenset[Role]
) -> None:
    async with space.raw() as client:
        response = await client.request(method, _concrete(path, space), json={"reason": "x"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Signature")


async def test_public_routes_need_no_signature(space: Space) -> None:
    async with space.raw() as client:
        for path in (
            "/health",
            "/ready",
            "/metrics",
            "/openapi.json",
            "/v1/ca",
            "/v1/ca/crl",
            "/ledger/checkpoint",
            "/ledger/key",
            "/ledger/checkpoints",
            "/ledger/proof/inclusion?index=0",
            "/ledger/proof/consistency?from=0",
        ):
            response = await client.get(path)
            assert response.status_code == 200, path


PUBLIC_GETS = [
    "/health",
    "/ready",
    "/metrics",
    "/openapi.json",
    "/v1/ca",
    "/v1/ca/crl",
    "/ledger/checkpoint",
    "/ledger/key",
    "/ledger/checkpoints",
    "/ledger/proof/inclusion?index=0",
    "/ledger/proof/consistency?from=0",
    "/v1/pep/client-key",
]


@pytest.mark.parametrize("path", PUBLIC_GETS)
@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
async def test_public_routes_answer_every_role_alike(space: Space, path: str, role: Role) -> None:
    async with space.raw(space.members[role]) as client:
        response = await client.get(path)
    assert response.status_code == 200, (path, response.text)


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
async def test_applicant_routes_refuse_a_participant_signature(space: Space, role: Role) -> None:
    member = space.members[role]
    body = {"name": "newcomer", "roles": ["user"], "public_key": "A" * 43 + "="}
    async with space.raw(member) as client:
        applied = await client.post("/v1/applications", json=body)
        own = await client.get(f"/v1/applications/{member.participant_id}")
    assert applied.status_code == 401, applied.text
    assert own.status_code == 401, own.text
