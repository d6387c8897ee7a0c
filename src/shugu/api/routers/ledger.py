"""The ledger: checkpoints, proofs and the log key (public); entries, export, appends and
cosignatures (participants)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.datastructures import URL

from shugu.api.auth import hub_state, require, roles_doc
from shugu.api.openapi import pattern, problems
from shugu.api.pagination import IndexCursor, Page, decode_index_cursor, encode_index_cursor
from shugu.identity import Principal
from shugu.ledger import Entry
from shugu.ledger.claim import check_claim
from shugu.ledger.models import EVENT_TYPE
from shugu.ledger.service import MAX_INDEX, b64

router = APIRouter(prefix="/ledger", tags=["ledger"])

Anyone = Annotated[Principal, Depends(require())]
Index = Annotated[int, Query(ge=0, le=MAX_INDEX)]
PathIndex = Annotated[int, Path(ge=0, le=MAX_INDEX)]
MAX_EXPORT = 100_000
EXTERNAL_TYPE = "^external" + EVENT_TYPE.pattern.removeprefix("^[a-z][a-z0-9_]*")
BASE64_SIGNATURE = r"^[A-Za-z0-9+/]{86}==$"
"""The ledger checks types, claim signatures and cosignature lines itself, in the caller's
language (400, or 401 for a signature that is not the caller's); the schema documents them."""
MAX_JSON_INT = 2**53 - 1
"""The largest integer a JSON body carries exactly (RFC 7493 I-JSON)."""
COSIGNATURE_LINE = "^\u2014 [!-*,-~]+ [A-Za-z0-9+/]{102}==\n?$"
MAX_APPEND = 5_000
"""Events per append: as many small events as fit in the default 1 MiB body limit."""
Subject = Annotated[str, Field(min_length=1, max_length=200)]
NOTE = "text/plain; charset=utf-8"


class LogKey(BaseModel):
    """The log's identity: origin and verifier key (``name+id+key``)."""

    origin: str
    verifier_key: str


class EntryOut(BaseModel):
    """One entry: index, leaf hash (base64) and the entry itself."""

    index: int
    leaf_hash: str
    entry: dict[str, Any]

    @classmethod
    def of(cls, entry: Entry) -> EntryOut:
        """Map the domain view."""
        return cls(index=entry.index, leaf_hash=b64(entry.leaf_hash), entry=json.loads(entry.body))


class InclusionOut(BaseModel):
    """An inclusion proof (hashes in standard base64)."""

    index: int
    size: int
    leaf_hash: str
    root: str
    proof: list[str]


class ConsistencyOut(BaseModel):
    """A consistency proof (hashes in standard base64)."""

    from_size: int = Field(alias="from")
    to_size: int = Field(alias="to")
    from_root: str
    to_root: str
    proof: list[str]

    model_config = {"populate_by_name": True}


class CheckpointOut(BaseModel):
    """A stored signed checkpoint."""

    size: int
    note: str


class ExternalEvent(BaseModel):
    """An external event, signed by the caller (see docs/ledger.md)."""

    type: str = Field(
        max_length=100,
        json_schema_extra=pattern(EXTERNAL_TYPE),
        examples=["external.inspection.completed"],
    )
    subjects: list[Subject] = Field(default_factory=list, max_length=50)
    payload: dict[str, Any] = Field(default_factory=dict)
    created: int = Field(
        ge=0, le=MAX_JSON_INT, description="Unix seconds; within five minutes of the hub's time."
    )
    signature: str = Field(
        max_length=200,
        json_schema_extra=pattern(BASE64_SIGNATURE),
        description="Ed25519 signature of the claim, standard base64.",
    )


class AppendIn(BaseModel):
    """One or more external events, appended all together or not at all."""

    events: list[ExternalEvent] = Field(min_length=1, max_length=MAX_APPEND)


class AppendOut(BaseModel):
    """Where the events landed."""

    indices: list[int]


class CosignatureIn(BaseModel):
    """A witness's cosignature line on the checkpoint of `size`."""

    size: int = Field(ge=0, le=MAX_JSON_INT)
    cosignature: str = Field(
        max_length=500,
        json_schema_extra=pattern(COSIGNATURE_LINE),
        description="A C2SP cosignature/v1 line: `— <witness name> <base64 of 76 bytes>`.",
    )


class CosignatureOut(BaseModel):
    """The witness key the cosignature verified with."""

    witness_key: str


@router.get("/checkpoint", response_class=PlainTextResponse, responses=problems(404))
async def checkpoint(request: Request, cosigned: bool = False) -> PlainTextResponse:
    """The newest signed checkpoint (C2SP tlog-checkpoint) with witness cosignatures."""
    ledger = hub_state(request).hub.ledger
    note = await run_in_threadpool(lambda: ledger.checkpoint(cosigned=cosigned))
    return PlainTextResponse(note, media_type=NOTE)


@router.get("/key", response_model=LogKey)
def log_key(request: Request) -> LogKey:
    """The log's origin and verifier key, to check checkpoints with."""
    ledger = hub_state(request).hub.ledger
    return LogKey(origin=ledger.origin, verifier_key=ledger.verifier().encode())


@router.get("/proof/inclusion", response_model=InclusionOut, responses=problems(404))
async def inclusion(request: Request, index: Index, size: Index | None = None) -> InclusionOut:
    """Prove entry `index` is in the tree of `size` (default: the current tree)."""
    ledger = hub_state(request).hub.ledger
    proof = await run_in_threadpool(ledger.inclusion_proof, index, size)
    return InclusionOut(
        index=proof.index,
        size=proof.size,
        leaf_hash=b64(proof.leaf_hash),
        root=b64(proof.root),
        proof=[b64(p) for p in proof.proof],
    )


@router.get("/proof/consistency", response_model=ConsistencyOut, responses=problems(404))
async def consistency(
    request: Request,
    from_size: Annotated[int, Query(alias="from", ge=0, le=MAX_INDEX)],
    to_size: Annotated[int | None, Query(alias="to", ge=0, le=MAX_INDEX)] = None,
) -> ConsistencyOut:
    """Prove the tree of size `from` is a prefix of the tree of size `to` (default: current)."""
    ledger = hub_state(request).hub.ledger
    proof = await run_in_threadpool(ledger.consistency_proof, from_size, to_size)
    return ConsistencyOut(
        from_size=proof.old,
        to_size=proof.new,
        from_root=b64(proof.old_root),
        to_root=b64(proof.new_root),
        proof=[b64(p) for p in proof.proof],
    )


@router.get("/checkpoints", response_model=Page[CheckpointOut])
async def checkpoints(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: IndexCursor = None,
) -> Page[CheckpointOut]:
    """Every stored checkpoint, smallest size first."""
    ledger = hub_state(request).hub.ledger
    after = decode_index_cursor(cursor) - 1 if cursor is not None else -1
    rows = await run_in_threadpool(ledger.checkpoints, after, limit + 1)
    items = [CheckpointOut(size=s, note=n) for s, n in rows[:limit]]
    more = len(rows) > limit
    return Page[CheckpointOut](
        items=items, next_cursor=encode_index_cursor(items[-1].size + 1) if more else None
    )


@router.get("/entries", response_model=Page[EntryOut], openapi_extra=roles_doc())
async def entries(
    request: Request,
    viewer: Anyone,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: IndexCursor = None,
) -> Page[EntryOut]:
    """Entries in index order."""
    ledger = hub_state(request).hub.ledger
    start = decode_index_cursor(cursor)
    rows = await run_in_threadpool(ledger.entries, start, limit + 1)
    items = [EntryOut.of(e) for e in rows[:limit]]
    more = len(rows) > limit
    return Page[EntryOut](
        items=items, next_cursor=encode_index_cursor(items[-1].index + 1) if more else None
    )


@router.get(
    "/entries/{index}", response_model=EntryOut, responses=problems(404), openapi_extra=roles_doc()
)
async def entry(request: Request, viewer: Anyone, index: PathIndex) -> EntryOut:
    """One entry."""
    ledger = hub_state(request).hub.ledger
    return EntryOut.of(await run_in_threadpool(ledger.entry, index))


EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {NOTE: {"schema": {"type": "string"}}},
        "headers": {
            "Link": {
                "description": 'RFC 8288 `<...>; rel="next"`: the rest of a range longer than '
                f"{MAX_EXPORT} entries.",
                "schema": {"type": "string"},
            }
        },
    }
}


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses=EXPORT_RESPONSES,
    openapi_extra=roles_doc(),
)
async def export(request: Request, viewer: Anyone, start: Index, end: Index) -> StreamingResponse:
    """Entries ``start <= index < end`` as lines ``index TAB base64 leaf hash TAB entry``.

    An empty range (``end <= start``) is an empty export. At most 100,000 entries come at a
    time: the `Link` header of a longer range points at the rest."""
    stop = min(end, start + MAX_EXPORT)
    headers = {}
    if stop < end:
        rest = URL(str(request.url)).include_query_params(start=stop, end=end)
        headers["Link"] = f'<{rest.path}?{rest.query}>; rel="next"'
    lines = hub_state(request).hub.ledger.export(start, max(start, stop))
    return StreamingResponse(iterate_in_threadpool(lines), media_type=NOTE, headers=headers)


@router.post(
    "/entries",
    status_code=201,
    response_model=AppendOut,
    responses=problems(409),
    openapi_extra=roles_doc(),
)
async def append(request: Request, actor: Anyone, body: AppendIn) -> AppendOut:
    """Record external events (a paper contract, an inspection), each signed by the caller."""
    hub = hub_state(request).hub
    me = await run_in_threadpool(hub.identity.get, actor, actor.participant_id)
    now = int(hub.clock.now().timestamp())
    window = hub.settings.signature_max_age_seconds
    events = [
        check_claim(actor.participant_id, me.public_key, e.model_dump(), now=now, window=window)
        for e in body.events
    ]
    indices = await run_in_threadpool(hub.ledger.append, events)
    return AppendOut(indices=indices)


@router.post(
    "/cosignatures",
    status_code=201,
    response_model=CosignatureOut,
    responses=problems(404, 409),
    openapi_extra=roles_doc(),
)
async def cosign(request: Request, witness: Anyone, body: CosignatureIn) -> CosignatureOut:
    """Add the caller's witness cosignature to a checkpoint it verified."""
    hub = hub_state(request).hub
    me = await run_in_threadpool(hub.identity.get, witness, witness.participant_id)
    key = await run_in_threadpool(
        hub.ledger.add_cosignature, me.id, me.name, me.public_key, body.size, body.cosignature
    )
    return CosignatureOut(witness_key=key)
