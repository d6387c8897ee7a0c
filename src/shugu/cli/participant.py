"""`shugu participant apply|approve|reject|list|show|revoke`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from shugu.cli.context import CliContext, context_of
from shugu.cli.output import JsonFlag, fields, out, print_json, run, table
from shugu.client import HubClient
from shugu.errors import NotFoundError, ShuguError
from shugu.i18n import N_, _
from shugu.identity.ca import summarize
from shugu.ids import is_id

app = typer.Typer(
    help="Participants: apply, approve, list, show, revoke. / 参与方：申请、审批、查看、吊销。",
    no_args_is_help=True,
)

COLUMNS = (N_("id"), N_("name"), N_("display name"), N_("roles"), N_("status"))
STATUS_WORDS = (N_("applied"), N_("approved"), N_("rejected"), N_("revoked"))


@app.command()
def apply(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Unique participant name, e.g. hangzhou-pharma.")],
    role: Annotated[
        list[str],
        typer.Option("--role", "-r", help="Role asked for (repeatable): holder, user, ... / 角色"),
    ],
    display_name: Annotated[str, typer.Option(help="Name shown to people. / 显示名称")] = "",
    json_output: JsonFlag = False,
) -> None:
    """Generate a key pair here and apply to join the space. / 生成密钥并申请加入。"""
    cli = context_of(ctx)

    async def work() -> dict[str, Any]:
        keyring = cli.keyring()
        identity = keyring.create(name)
        try:
            async with cli.client() as client:
                result = await client.apply(identity.key, name, display_name, role)
        except BaseException:
            keyring.remove(name)
            raise
        keyring.save(type(identity)(name, result["id"], identity.key, None))
        return result

    result = run(cli.lang, work)
    if json_output:
        print_json(result)
        return
    out.print(_("applied: {name} ({id}), waiting for an operator's approval", cli.lang, **result))


@app.command()
def approve(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Participant id or name.")],
    json_output: JsonFlag = False,
) -> None:
    """Approve an application; the hub CA issues a certificate. / 审批通过并签发证书。"""
    cli = context_of(ctx)

    async def work() -> dict[str, Any]:
        async with cli.client(cli.identity()) as client:
            result: dict[str, Any] = await client.approve(await _resolve(client, ref))
        _remember_certificate(cli, result["participant"]["name"], result["certificate"]["pem"])
        return result

    result = run(cli.lang, work)
    if json_output:
        print_json(result)
        return
    participant = result["participant"]
    out.print(_("approved: {name} ({id})", cli.lang, **participant))
    _print_certificate(cli, result["certificate"])


async def _resolve(client: HubClient, ref: str) -> str:
    """The participant id of `ref` (an id is used as it is; a name is looked up)."""
    if is_id(ref):
        return ref
    found: dict[str, Any] = await client.participant(ref)
    return str(found["id"])


def _remember_certificate(cli: CliContext, name: str, pem: str) -> None:
    keyring = cli.keyring()
    if name in keyring.names():
        identity = keyring.load(name)
        keyring.save(type(identity)(name, identity.participant_id, identity.key, pem))


@app.command()
def reject(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Participant id or name.")],
    reason: Annotated[str, typer.Option(help="Why, for the applicant. / 理由")],
    json_output: JsonFlag = False,
) -> None:
    """Reject an application. / 驳回申请。"""
    cli = context_of(ctx)

    async def work() -> dict[str, Any]:
        async with cli.client(cli.identity()) as client:
            result: dict[str, Any] = await client.reject(await _resolve(client, ref), reason)
            return result

    result = run(cli.lang, work)
    if json_output:
        print_json(result)
        return
    out.print(_("rejected: {name} ({id})", cli.lang, **result))


@app.command()
def revoke(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Participant id or name.")],
    reason: Annotated[str, typer.Option(help="Why. / 理由")],
    json_output: JsonFlag = False,
) -> None:
    """Revoke a participant; its certificate stops working at once. / 吊销参与方。"""
    cli = context_of(ctx)

    async def work() -> dict[str, Any]:
        async with cli.client(cli.identity()) as client:
            result: dict[str, Any] = await client.revoke(await _resolve(client, ref), reason)
            return result

    result = run(cli.lang, work)
    if json_output:
        print_json(result)
        return
    out.print(_("revoked: {name} ({id})", cli.lang, **result))


@app.command()
def status(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(help="Identity in this home; default: --as.")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Your own application's status and reason, even before approval. / 查看本方申请状态。"""
    cli = context_of(ctx)

    async def work() -> dict[str, Any]:
        keyring = cli.keyring()
        identity = keyring.load(name) if name else cli.identity()
        if identity.participant_id is None:
            raise NotFoundError(
                N_("identity {name} has no participant id; its application did not complete"),
                name=identity.name,
            )
        async with cli.client() as client:
            return await client.own_application(identity.key, identity.participant_id)

    result = run(cli.lang, work)
    if json_output:
        print_json(result)
        return
    lang = cli.lang
    fields(
        _("participant", lang),
        [
            (_("name", lang), result["name"]),
            (_("status", lang), _(result["status"], lang)),
            (_("reason", lang), result["reason"]),
        ],
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[
        list[str] | None,
        typer.Option(help="applied, approved, rejected or revoked (repeatable). / 状态"),
    ] = None,
    role: Annotated[
        str | None, typer.Option(help="Only participants with this role. / 角色")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """List participants (all pages). / 列出参与方。"""
    cli = context_of(ctx)

    async def work() -> list[dict[str, Any]]:
        async with cli.client(cli.identity()) as client:
            return [p async for p in client.participants(status=status, role=role)]

    items = run(cli.lang, work)
    if json_output:
        print_json({"items": items})
        return
    columns = [_(c, cli.lang) for c in COLUMNS]
    rows = [
        (p["id"], p["name"], p["display_name"], ", ".join(p["roles"]), _(p["status"], cli.lang))
        for p in items
    ]
    table(_("participants ({count})", cli.lang, count=len(items)), columns, rows)


@app.command()
def show(
    ctx: typer.Context,
    ref: Annotated[
        str | None, typer.Argument(help="Participant id or name; default: yourself.")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Show a participant and its certificate. / 查看参与方及其证书。"""
    cli = context_of(ctx)

    async def work() -> dict[str, Any]:
        async with cli.client(cli.identity()) as client:
            participant = await client.me() if ref is None else await client.participant(ref)
            try:
                cert: dict[str, Any] | None = await client.certificate(participant["id"])
            except ShuguError:
                cert = None
            return {"participant": participant, "certificate": cert}

    result = run(cli.lang, work)
    if json_output:
        print_json(result)
        return
    p = result["participant"]
    lang = cli.lang
    fields(
        _("participant", lang),
        [
            (_("id", lang), p["id"]),
            (_("name", lang), p["name"]),
            (_("display name", lang), p["display_name"]),
            (_("roles", lang), ", ".join(p["roles"])),
            (_("status", lang), _(p["status"], lang)),
            (_("reason", lang), p["reason"]),
        ],
    )
    if result["certificate"] is not None:
        _print_certificate(cli, result["certificate"])


def _print_certificate(cli: CliContext, cert: dict[str, Any]) -> None:
    summary = summarize(cert["pem"])
    lang = cli.lang
    fields(
        _("certificate", lang),
        [
            (_("subject", lang), summary.subject),
            (_("issuer", lang), summary.issuer),
            (_("participant id", lang), summary.participant_id),
            (_("roles", lang), ", ".join(summary.roles)),
            (_("serial", lang), summary.serial),
            (_("valid from", lang), summary.not_before.isoformat()),
            (_("valid until", lang), summary.not_after.isoformat()),
            (_("revoked at", lang), cert.get("revoked_at")),
            (_("SHA-256 fingerprint", lang), summary.sha256_fingerprint),
        ],
    )
