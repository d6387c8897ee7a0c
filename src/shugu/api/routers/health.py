"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from shugu import __version__
from shugu.api.auth import hub_state
from shugu.api.errors import problem
from shugu.api.openapi import problems
from shugu.db import head_revision, redact_url
from shugu.errors import UnavailableError
from shugu.i18n import N_

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """The hub process is alive."""

    status: str
    version: str


class Readiness(BaseModel):
    """The hub can serve: its database answers and is migrated to this version's schema."""

    status: str
    database: str
    migration: str | None


@router.get("/health", response_model=Health)
def health() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok", version=__version__)


@router.get("/ready", response_model=Readiness, responses=problems(503))
async def ready(request: Request) -> Response:
    """Readiness: the database answers and its schema is at this version's head."""
    db = hub_state(request).hub.db
    try:
        revision = await run_in_threadpool(db.current_revision)
    except SQLAlchemyError as exc:
        error = UnavailableError(
            N_("the database at {url} does not answer"), url=redact_url(str(db.engine.url))
        )
        return problem(request, 503, error, cause=type(exc).__name__)
    if revision != head_revision():
        error = UnavailableError(
            N_("the database schema is at {current}, this hub needs {head}"),
            current=revision or "none",
            head=head_revision() or "none",
        )
        return problem(request, 503, error)
    body = Readiness(status="ready", database="ok", migration=revision)
    return JSONResponse(body.model_dump())


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus metrics in the text exposition format."""
    registry = hub_state(request).metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
