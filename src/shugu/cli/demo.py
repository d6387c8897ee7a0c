"""`shugu demo`: a short, real walk through what shugu does today, in a fresh embedded home.

Every step goes through the hub API in-process, signed like any remote call: the operator is
created, two organisations apply with keys generated on their side, the operator approves them,
the hub CA issues their certificates, and each participant makes a signed request.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer
from cryptography import x509
from rich.text import Text

from shugu.cli.context import EMBEDDED_URL, CliContext
from shugu.cli.output import fields, guard, out, run, table
from shugu.cli.participant import COLUMNS
from shugu.client import HubClient, SigningAuth
from shugu.errors import ConflictError
from shugu.i18n import N_, _
from shugu.identity.ca import summarize, verify_issued_by
from shugu.keyring import Keyring, LocalIdentity

OPERATOR = ("exchange-operator", "数谷演示数据交易所 / shugu demo data exchange")
APPLICANTS = (
    ("hangzhou-pharma", "杭州示例制药有限公司 / Hangzhou Example Pharma", ["holder"]),
    ("beijing-research", "北京示例医学研究院 / Beijing Example Medical Research", ["user"]),
)


def demo(
    ctx: typer.Context,
    quiet: Annotated[bool, typer.Option(help="Print only the final line.")] = False,
) -> None:
    """Walk through onboarding in a fresh home (runs `init` first). / 演示：参与方入驻。"""
    cli: CliContext = ctx.obj
    lang = cli.lang
    if cli.home.is_initialised():
        raise guard(lang, lambda: _refuse_initialised(cli))
    step(lang, 1, N_("create the home, the hub database and CA, and the operator"), quiet)
    made = guard(
        lang,
        lambda: _initialise(cli),
    )
    run(lang, lambda: _walk(cli, made.ca_certificate_pem, quiet))
    out.print(_("serve this home with: shugu --home {home} up", lang, home=cli.settings.home))


def _refuse_initialised(cli: CliContext) -> typer.Exit:
    raise ConflictError(
        N_("the demo needs a fresh home, and {home} is already initialised"),
        home=str(cli.settings.home),
    )


def step(lang: str, number: int, message: str, quiet: bool) -> None:
    """Announce a step of the walk."""
    if not quiet:
        out.print(Text.assemble("\n", (f"{number}. ", "bold cyan"), _(message, lang)))


async def _walk(cli: CliContext, ca_pem: str, quiet: bool) -> None:
    from shugu.api import create_app

    lang = cli.lang
    keyring = cli.keyring()
    app = create_app(cli.settings)
    transport = httpx.ASGITransport(app=app)
    try:
        operator = keyring.load(OPERATOR[0])
        step(lang, 2, N_("two organisations generate keys and apply"), quiet)
        applicants = [
            await _apply(keyring, transport, lang, name, display, roles)
            for name, display, roles in APPLICANTS
        ]
        async with _client(transport, lang, operator) as client:
            step(lang, 3, N_("the operator reviews the applications"), quiet)
            pending = [p async for p in client.participants(status=["applied"])]
            _show_participants(lang, pending, quiet)
            step(lang, 4, N_("the operator approves them; the hub CA issues certificates"), quiet)
            for identity in applicants:
                approval = await client.approve(str(identity.participant_id))
                pem = approval["certificate"]["pem"]
                keyring.save(
                    LocalIdentity(identity.name, identity.participant_id, identity.key, pem)
                )
                _show_certificate(lang, pem, ca_pem, quiet)
        step(lang, 5, N_("each participant makes a signed request"), quiet)
        for identity in applicants:
            async with _client(transport, lang, identity) as client:
                me = await client.me()
            if not quiet:
                out.print(
                    _(
                        "signed request accepted: {name} acts with roles {roles}",
                        lang,
                        name=me["name"],
                        roles=", ".join(me["roles"]),
                    )
                )
    finally:
        app.state.hub.hub.close()


def _client(
    transport: httpx.AsyncBaseTransport, lang: str, identity: LocalIdentity | None = None
) -> HubClient:
    auth = None
    if identity is not None and identity.participant_id is not None:
        auth = SigningAuth(identity.key, identity.participant_id)
    return HubClient(EMBEDDED_URL, transport=transport, auth=auth, lang=lang)


async def _apply(
    keyring: Keyring,
    transport: httpx.AsyncBaseTransport,
    lang: str,
    name: str,
    display: str,
    roles: list[str],
) -> LocalIdentity:
    identity = keyring.create(name)
    async with _client(transport, lang) as client:
        result = await client.apply(identity.key, name, display, roles)
    applied = LocalIdentity(name, result["id"], identity.key, None)
    keyring.save(applied)
    return applied


def _show_participants(lang: str, items: list[dict[str, Any]], quiet: bool) -> None:
    if quiet:
        return
    table(
        _("applications ({count})", lang, count=len(items)),
        [_(c, lang) for c in COLUMNS],
        [
            (p["id"], p["name"], p["display_name"], ", ".join(p["roles"]), _(p["status"], lang))
            for p in items
        ],
    )


def _show_certificate(lang: str, pem: str, ca_pem: str, quiet: bool) -> None:
    cert = x509.load_pem_x509_certificate(pem.encode())
    trusted = verify_issued_by(cert, x509.load_pem_x509_certificate(ca_pem.encode()))
    if quiet:
        return
    summary = summarize(pem)
    fields(
        _("certificate", lang),
        [
            (_("subject", lang), summary.subject),
            (_("participant id", lang), summary.participant_id),
            (_("roles", lang), ", ".join(summary.roles)),
            (_("valid until", lang), summary.not_after.isoformat()),
            (_("SHA-256 fingerprint", lang), summary.sha256_fingerprint),
            (_("signed by the hub CA", lang), _("yes", lang) if trusted else _("NO", lang)),
        ],
    )


def _initialise(cli: CliContext) -> Any:
    from shugu.bootstrap import initialise  # loads the database layer only when needed

    return initialise(cli.settings, operator_name=OPERATOR[0], display_name=OPERATOR[1])
