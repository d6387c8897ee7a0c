"""`shugu ledger append|entries|checkpoint|proof|consistency|verify|ca-fingerprint|verify-note|
witness`."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shugu.cli.context import CliContext, context_of
from shugu.cli.output import (
    ERROR_LABEL,
    EXIT_USAGE,
    JsonFlag,
    err,
    guard,
    out,
    print_json,
    run,
    table,
)
from shugu.client import HubClient
from shugu.clock import SystemClock
from shugu.errors import ForbiddenError, InvalidInputError, NotFoundError, VerificationError
from shugu.i18n import N_, _
from shugu.ledger.note import COSIGNATURE_V1, Signer, Verifier, verify_note

if TYPE_CHECKING:
    from shugu.ledger.audit import AuditReport
    from shugu.ledger.trust import ActorKeys, TrustAnchor

app = typer.Typer(
    help="The audit ledger: append, prove, verify, witness. / 存证账本：记录、证明、验证、见证。",
    no_args_is_help=True,
)

EXPORT_PAGE = 20_000


def _read_events(
    type_: str | None, payload: str | None, subjects: list[str], source: Path | None
) -> list[dict[str, Any]]:
    if (source is None) == (type_ is None):
        raise InvalidInputError(N_("give either --type (with --payload) or --from-file"))
    if source is not None:
        return _events_from_file(source)
    return [
        {"type": type_, "subjects": subjects, "payload": _json_object(payload or "{}", "--payload")}
    ]


def _json_object(text: str, where: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            N_("{where} is not valid JSON: {reason}"), where=where, reason=exc.msg
        ) from exc
    if not isinstance(value, dict):
        raise InvalidInputError(N_("{where} must be a JSON object"), where=where)
    return value


def _events_from_file(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(
            N_("cannot read {path}: {reason}"), path=str(path), reason=str(exc)
        ) from exc
    events = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        event = _json_object(line, f"{path}:{number}")
        if not isinstance(event.get("type"), str) or not isinstance(event.get("payload", {}), dict):
            raise InvalidInputError(
                N_("{where}: an event needs a type and an object payload"), where=f"{path}:{number}"
            )
        events.append(
            {
                "type": event["type"],
                "subjects": event.get("subjects", []),
                "payload": event.get("payload", {}),
            }
        )
    if not events:
        raise InvalidInputError(N_("{path} holds no events"), path=str(path))
    return events


@app.command()
def append(
    ctx: typer.Context,
    type_: Annotated[
        str | None,
        typer.Option("--type", help="Event type; recorded as external.<type>. / 事件类型"),
    ] = None,
    payload: Annotated[
        str | None, typer.Option(help="JSON object: identifiers and hashes only.")
    ] = None,
    subject: Annotated[list[str] | None, typer.Option(help="Subject id (repeatable).")] = None,
    from_file: Annotated[
        Path | None, typer.Option(help="JSON lines, one event each; all or none.")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Record external events, signed by you. / 记录外部事件（由你签名）。"""
    cli = context_of(ctx)

    from shugu.ledger.claim import sign_claim  # loads the ledger's models only when needed

    async def work() -> tuple[list[int], list[str]]:
        events = [_namespaced(e) for e in _read_events(type_, payload, subject or [], from_file)]
        identity = cli.identity()
        created = int(SystemClock().now().timestamp())
        signed = [
            sign_claim(
                identity.key,
                str(identity.participant_id),
                created,
                e["type"],
                e["subjects"],
                e["payload"],
            )
            for e in events
        ]
        async with cli.client(identity) as client:
            return await client.ledger_append(signed), [e["type"] for e in events]

    indices, types = run(cli.lang, work)
    if json_output:
        print_json({"indices": indices, "types": types})
        return
    for index, recorded in zip(indices, types, strict=True):
        out.print(_("appended entry {index}: {type}", cli.lang, index=index, type=recorded))


def _namespaced(event: dict[str, Any]) -> dict[str, Any]:
    """The event with its type under ``external.`` (the only namespace participants write to),
    checked before it is signed, so the signature covers the type that is recorded."""
    from shugu.ledger.models import EVENT_TYPE, EXTERNAL_PREFIX

    given = str(event["type"])
    recorded = given if given.startswith(EXTERNAL_PREFIX) else EXTERNAL_PREFIX + given
    if not EVENT_TYPE.match(recorded) or len(recorded) > 100:
        raise InvalidInputError(
            N_(
                "invalid event type {type}: up to 5 dot-separated lowercase segments after "
                "external., at most 100 characters"
            ),
            type=given,
        )
    return event | {"type": recorded}


@app.command()
def entries(
    ctx: typer.Context,
    start: Annotated[int, typer.Option(min=0, help="First index.")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many.")] = 50,
    json_output: JsonFlag = False,
) -> None:
    """List entries from an index. / 列出账本条目。"""
    cli = context_of(ctx)

    async def work() -> list[dict[str, Any]]:
        from shugu.api.pagination import encode_index_cursor

        async with cli.client(cli.identity()) as client:
            params: dict[str, Any] = {"limit": limit}
            if start:
                params["cursor"] = encode_index_cursor(start)
            page = await client.request("GET", "/ledger/entries", params=params)
            return list(page["items"])

    items = run(cli.lang, work)
    if json_output:
        print_json({"items": items})
        return
    rows = [
        (
            i["index"],
            i["entry"]["type"],
            i["entry"]["time"],
            i["entry"]["actor"],
            ", ".join(i["entry"]["subjects"]),
        )
        for i in items
    ]
    table(
        _("ledger entries ({count})", cli.lang, count=len(items)),
        [_(c, cli.lang) for c in COLUMNS],
        rows,
    )


COLUMNS = (N_("index"), N_("type"), N_("time"), N_("actor"), N_("subjects"))


@app.command()
def checkpoint(
    ctx: typer.Context,
    cosigned: Annotated[bool, typer.Option(help="The newest one witnesses cosigned.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Print the latest signed checkpoint. / 打印最新签名检查点。"""
    cli = context_of(ctx)

    async def work() -> str:
        async with cli.client() as client:
            return await client.ledger_checkpoint(cosigned=cosigned)

    note = run(cli.lang, work)
    if json_output:
        lines = note.split("\n")
        print_json({"origin": lines[0], "size": int(lines[1]), "root": lines[2], "note": note})
        return
    out.print(note, end="")


@app.command()
def proof(
    ctx: typer.Context,
    index: Annotated[int, typer.Option(min=0, help="Entry index.")],
    size: Annotated[int | None, typer.Option(min=0, help="Tree size (default: current).")] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Accepted; the output is JSON.")
    ] = True,
) -> None:
    """Inclusion proof of an entry (JSON). / 条目包含性证明。"""
    cli = context_of(ctx)

    async def work() -> dict[str, Any]:
        async with cli.client() as client:
            return await client.ledger_inclusion(index, size)

    print_json(run(cli.lang, work))


@app.command()
def consistency(
    ctx: typer.Context,
    from_size: Annotated[int, typer.Option("--from", min=0, help="Older tree size.")],
    to_size: Annotated[int | None, typer.Option("--to", min=0, help="Newer tree size.")] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Accepted; the output is JSON.")
    ] = True,
) -> None:
    """Consistency proof between two tree sizes (JSON). / 一致性证明。"""
    cli = context_of(ctx)

    async def work() -> dict[str, Any]:
        async with cli.client() as client:
            return await client.ledger_consistency(from_size, to_size)

    print_json(run(cli.lang, work))


CaFingerprint = Annotated[
    str | None,
    typer.Option(
        "--ca-fingerprint",
        help="SHA-256 of the CA certificate to trust (from `shugu ledger ca-fingerprint`).",
    ),
]
CaFile = Annotated[
    Path | None, typer.Option("--ca-file", help="The CA certificate to trust (PEM).")
]


@app.command()
def verify(
    ctx: typer.Context,
    signatures: Annotated[
        bool, typer.Option("--signatures", help="Also check every actor signature.")
    ] = False,
    ca_fingerprint: CaFingerprint = None,
    ca_file: CaFile = None,
    key: Annotated[
        str | None, typer.Option(help="The log's verifier key (default: ask the hub).")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Recompute the tree from all entries; check every checkpoint. / 全量校验账本。"""
    cli = context_of(ctx)
    _check_pin_options(cli.lang, signatures, ca_fingerprint, ca_file)

    async def work() -> dict[str, Any]:
        async with cli.client(cli.identity()) as client:
            anchor = await _anchor(client, ca_fingerprint, ca_file) if signatures else None
            return await verify_ledger(client, key, anchor)

    report = run(cli.lang, work)
    if json_output:
        print_json(report)
        return
    out.print(
        _(
            "the ledger verifies: {size} entries, {checkpoints} checkpoints, root {root}",
            cli.lang,
            **report,
        )
    )
    if signatures:
        out.print(
            _(
                "signatures verified: {checked}, each by its actor's key certified by the CA "
                "SHA256 {ca}; entries without an actor signature (the hub's own): {unsigned}",
                cli.lang,
                checked=report["signatures_checked"],
                ca=report["ca_fingerprint"],
                unsigned=report["unsigned_entries"],
            )
        )


PIN_NEEDED = N_(
    "--signatures needs the CA to trust: --ca-fingerprint SHA256 or --ca-file PEM. Get the "
    "fingerprint from the space's operator (`shugu ledger ca-fingerprint`) by a channel other "
    "than this hub"
)
PIN_ONE = N_("give --ca-fingerprint or --ca-file, not both")
PIN_UNUSED = N_("--ca-fingerprint and --ca-file are used only with --signatures")


def _check_pin_options(
    lang: str, signatures: bool, fingerprint: str | None, ca_file: Path | None
) -> None:
    """Usage errors (exit 2): --signatures without a pin, two pins, or a pin without it."""
    message = None
    if signatures and fingerprint is None and ca_file is None:
        message = PIN_NEEDED
    elif fingerprint is not None and ca_file is not None:
        message = PIN_ONE
    elif not signatures and (fingerprint is not None or ca_file is not None):
        message = PIN_UNUSED
    if message is not None:
        err.print(f"{_(ERROR_LABEL, lang)}: {_(message, lang)}")
        raise typer.Exit(EXIT_USAGE)


async def _anchor(client: HubClient, fingerprint: str | None, ca_file: Path | None) -> TrustAnchor:
    """The pinned CA: the file given, or the hub's CA certificate if it has the pinned hash."""
    from shugu.ledger.trust import TrustAnchor, load_certificate, parse_fingerprint

    if ca_file is not None:
        return TrustAnchor.of(load_certificate(_read_file(ca_file), str(ca_file)))
    pinned = parse_fingerprint(str(fingerprint))
    return TrustAnchor.pinned((await client.ca())["certificate_pem"], pinned)


async def verify_ledger(
    client: HubClient, key_text: str | None, anchor: TrustAnchor | None
) -> dict[str, Any]:
    """Recompute the whole tree from the entries and check it against every checkpoint; with a
    pinned CA `anchor`, also every actor signature (`shugu.ledger.audit.check_signatures`)."""
    from shugu.ledger.audit import TreeAudit, checkpoint_roots

    verifier = Verifier.parse(key_text or (await client.ledger_key())["verifier_key"])
    latest = await client.ledger_checkpoint()
    notes = [c["note"] async for c in client.ledger_checkpoints()]
    roots = checkpoint_roots([*notes, latest], verifier)
    audit = TreeAudit(roots)
    total = max(roots) if roots else 0
    keys = await _actor_keys(client, anchor) if anchor is not None else None
    start = 0
    while start < total:
        chunk = (await client.ledger_export(start, min(start + EXPORT_PAGE, total))).splitlines()
        if not chunk:
            break
        audit.feed(chunk)
        if keys is not None:
            await _check_chunk(client, chunk, keys, audit.report)
        start += len(chunk)
    report = audit.finish()
    await _check_beyond(client, total)
    result: dict[str, Any] = {
        "ok": True,
        "size": report.size,
        "checkpoints": report.checkpoints,
        "root": report.latest_root,
    }
    if anchor is not None:
        result |= {
            "signatures_checked": report.signatures_checked,
            "unsigned_entries": report.unsigned,
            "ca_fingerprint": anchor.fingerprint,
        }
    return result


async def _actor_keys(client: HubClient, anchor: TrustAnchor) -> ActorKeys:
    from shugu.ledger.trust import ActorKeys

    return ActorKeys(anchor, anchor.revocations(await client.crl()))


async def _check_chunk(
    client: HubClient, chunk: list[str], keys: ActorKeys, report: AuditReport
) -> None:
    """Fetch the certificates of the chunk's new actors, then check its signatures."""
    from shugu.ledger.audit import actors_to_certify, check_signatures

    for actor in sorted(actors_to_certify(chunk)):
        if actor not in keys:
            keys.add(actor, await _certificates(client, actor))
    check_signatures(chunk, keys, report)


async def _certificates(client: HubClient, actor: str) -> list[str]:
    """The PEMs the hub gives for `actor` (none when it will not show the participant)."""
    try:
        return [str(c["pem"]) async for c in client.certificates(actor)]
    except (NotFoundError, ForbiddenError):
        return []


async def _check_beyond(client: HubClient, total: int) -> None:
    """Entries stored past the checked tree must at least be in the tree (appended since)."""
    beyond = (await client.ledger_export(total, total + EXPORT_PAGE)).splitlines()
    for line in beyond:
        index, leaf, _ = line.split("\t", 2)
        if leaf == "-":
            raise VerificationError(
                N_("entry {index} is not in the tree: no leaf hash is stored for it"),
                index=int(index),
            )


@app.command("ca-fingerprint")
def ca_fingerprint_command(
    ctx: typer.Context,
    ca_file: Annotated[
        Path | None, typer.Option("--ca-file", help="A CA certificate (PEM) instead of the hub's.")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """The SHA-256 of the space's CA certificate, for auditors to pin. / CA 证书指纹。"""
    cli = context_of(ctx)

    async def work() -> dict[str, Any]:
        from shugu.ledger.trust import TrustAnchor, load_certificate

        if ca_file is not None:
            pem = _read_file(ca_file)
        else:
            async with cli.client() as client:
                pem = (await client.ca())["certificate_pem"]
        anchor = TrustAnchor.of(load_certificate(pem, str(ca_file or "the hub's CA certificate")))
        return {
            "algorithm": "SHA256",
            "fingerprint": anchor.fingerprint,
            "subject": anchor.certificate.subject.rfc4514_string(),
        }

    result = run(cli.lang, work)
    if json_output:
        print_json(result)
        return
    out.print(f"SHA256 {result['fingerprint']}")


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise NotFoundError(
            N_("cannot read {path}: {reason}"), path=str(path), reason=exc.strerror or str(exc)
        ) from exc


@app.command("verify-note")
def verify_note_command(
    ctx: typer.Context,
    note_file: Annotated[Path, typer.Argument(help="The signed note (- for stdin).")],
    key: Annotated[list[str], typer.Option("--key", help="Verifier key name+id+key (repeatable).")],
    json_output: JsonFlag = False,
) -> None:
    """Verify a signed note against verifier keys. / 用验证密钥校验签名便笺。"""
    cli = context_of(ctx)

    def work() -> dict[str, Any]:
        verifiers = [Verifier.parse(k) for k in key]
        raw = (
            typer.get_binary_stream("stdin").read()
            if str(note_file) == "-"
            else _read_note(note_file)
        )
        check = verify_note(raw, verifiers)
        return {"ok": True, "verified": list(check.verified), "unknown": list(check.unknown)}

    result = guard(cli.lang, work)
    if json_output:
        print_json(result)
        return
    for name in result["verified"]:
        out.print(_("verified by {key}", cli.lang, key=name))
    for name in result["unknown"]:
        err.print(_("ignored a signature by an unknown key: {key}", cli.lang, key=name))


def _read_note(path: Path) -> bytes:
    return _read_file(path)


@app.command()
def witness(
    ctx: typer.Context,
    hub: Annotated[str | None, typer.Option("--hub", help="URL of the hub to witness.")] = None,
    once: Annotated[bool, typer.Option(help="Run one round and exit.")] = False,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between rounds.")] = 10.0,
    log_key: Annotated[
        str | None, typer.Option(help="The log's verifier key (default: trust on first use).")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Witness a hub's ledger: check consistency, cosign, detect forks. / 见证账本。"""
    cli = context_of(ctx)
    if hub is not None:
        cli = CliContext(cli.settings.model_copy(update={"hub_url": hub}), cli.lang, cli.as_name)

    async def work() -> None:
        from shugu.ledger.witness import Witness

        identity = cli.identity()
        async with cli.client(identity) as client:
            origin = (await client.ledger_key())["origin"]
            signer = Signer(f"{origin}/witness/{identity.name}", identity.key, COSIGNATURE_V1)
            state = cli.home.root / "witness" / _state_name(origin, client.base_url, identity.name)
            watcher = Witness(client, signer, state, Verifier.parse(log_key) if log_key else None)
            while True:
                result = await watcher.run_once(SystemClock().now())
                _report_round(cli, result, json_output)
                if once:
                    return
                await asyncio.sleep(interval)

    run(cli.lang, work)


def _state_name(origin: str, hub_url: str, witness: str) -> str:
    """One state file per (log origin, hub address, witnessing identity)."""
    where = hashlib.sha256(hub_url.encode()).hexdigest()[:8]
    return f"{origin.replace('/', '_')}-{where}-{witness}.json"


def _report_round(cli: CliContext, result: Any, json_output: bool) -> None:
    if json_output:
        print_json(
            {
                "size": result.size,
                "previous_size": result.previous_size,
                "cosigned": result.cosigned,
            }
        )
        return
    out.print(
        _(
            "cosigned the checkpoint of size {size} (previous {previous})",
            cli.lang,
            size=result.size,
            previous=result.previous_size if result.previous_size is not None else "-",
        )
    )
