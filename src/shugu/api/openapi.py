"""The hub's OpenAPI document, made to tell the truth about failures and authentication.

Every error the hub answers is an RFC 9457 `application/problem+json` body (the `Problem`
schema). Routes declare the errors of their domain (`problems(404, 409)`); `document_errors`
adds, to every operation, the ones the edges produce whatever the route: 413 (body limit), 500,
503, 400 and 422 where there is input to refuse, and 401, 403 and 429 where the operation is
signed (it names the `httpSignature` security scheme).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field, JsonValue

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"
SECURITY_SCHEME = "httpSignature"

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
"""The title of each status the hub answers with a problem."""

EVERY_OPERATION = (413, 500, 503)
WITH_INPUT = (400, 422)
SIGNED = (401, 403, 429)


class FieldProblem(BaseModel):
    """One field of a request that failed validation."""

    loc: list[str | int]
    msg: str


class Problem(BaseModel):
    """An RFC 9457 problem: what went wrong, machine-readable and rendered."""

    type: str = Field(examples=["urn:shugu:problem:not_found"])
    title: str
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="The message, in the language of Accept-Language.")
    code: str = Field(description="The machine-readable error kind.")
    message: str = Field(description="The English message template.")
    params: dict[str, str | int | float | bool] = Field(
        description="The values the template names."
    )
    instance: str = Field(description="The path of the request.")
    errors: list[FieldProblem] | None = Field(
        default=None, description="On 422: every field that failed validation."
    )
    cause: str | None = Field(default=None, description="On 503: the kind of failure.")


def pattern(regex: str | re.Pattern[str]) -> dict[str, JsonValue]:
    """`json_schema_extra` documenting the pattern a domain checks itself.

    Pydantic would refuse a mismatch with its own English message; the domains refuse it with a
    message that says what is wrong in the caller's language, so the API only documents it.
    """
    return {"pattern": regex if isinstance(regex, str) else regex.pattern}


def problem_response(status: int) -> dict[str, Any]:
    """The OpenAPI response object of a problem with `status`."""
    return {
        "description": TITLES.get(status, "Error"),
        "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
    }


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route for the problems its domain may answer."""
    return {status: problem_response(status) for status in statuses}


def _has_input(operation: dict[str, Any]) -> bool:
    return bool(operation.get("parameters") or operation.get("requestBody"))


def _complete(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    statuses = list(EVERY_OPERATION)
    if _has_input(operation):
        statuses += WITH_INPUT
    if operation.get("security"):
        statuses += SIGNED
    for status in statuses:
        responses.setdefault(str(status), problem_response(status))
    if "422" in responses:  # FastAPI's default body is not what the hub sends
        responses["422"] = problem_response(422)


def _components(document: dict[str, Any]) -> None:
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    model = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(model.pop("$defs", {}))
    schemas["Problem"] = model


def document_errors(app: FastAPI) -> None:
    """Make `app.openapi()` document every problem each operation may answer."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    _complete(operation)
            _components(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
