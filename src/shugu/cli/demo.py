"""`shugu demo`: a short, real walk through what shugu does today, in a fresh embedded home.

Every step goes through the hub API in-process, signed like any remote call: the operator is
created, three organisations apply with keys generated on their side, the operator approves them,
the hub CA issues their certificates, and each participant makes a signed request. Then two
holders link their patients for a study without revealing them (PEP): each encrypts its
identifiers on its side, the hub's transcryptor moves them into the study's domain under the
operator's grant, the researcher decrypts with a session key whose shares only it can open, and
the same patients match across holders. The grant lets the holders submit and the researcher
receive keys, never both: the researcher's attempt to confirm a guessed patient number is refused
and recorded. Finally an auditor verifies the whole ledger.
"""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

import httpx
import typer
from cryptography import x509
from rich.text import Text

from shugu.cli.context import EMBEDDED_URL, CliContext
from shugu.cli.ledger import verify_ledger
from shugu.cli.output import fields, guard, out, run, table
from shugu.cli.participant import COLUMNS
from shugu.client import HubClient, SigningAuth
from shugu.errors import ConflictError, ForbiddenError, VerificationError
from shugu.home.keyring import Keyring, LocalIdentity
from shugu.i18n import N_, _
from shugu.identity.ca import summarize, verify_issued_by
from shugu.ledger.trust import TrustAnchor, load_certificate

OPERATOR = ("exchange-operator", "数谷演示数据交易所 / shugu demo data exchange")
APPLICANTS = (
    ("hangzhou-pharma", "杭州示例制药有限公司 / Hangzhou Example Pharma", ["holder"]),
    ("shanghai-hospital", "上海示例医院 / Shanghai Example Hospital", ["holder"]),
    ("beijing-research", "北京示例医学研究院 / Beijing Example Medical Research", ["user"]),
)
STUDY = "diabetes-study-2026"
RESEARCHER = "beijing-research"
HOLDERS = ("hangzhou-pharma", "shanghai-hospital")
GRANT = {
    "job": STUDY,
    "domains": [STUDY],
    "submitters": list(HOLDERS),
    "key_receivers": [RESEARCHER],
}
"""The operator's grant: the holders submit into the study's domain, the researcher only
receives its session keys."""
RECORDS = {
    "hangzhou-pharma": [
        ("P-1001", "metformin"),
        ("P-1002", "salbutamol"),
        ("P-1003", "amlodipine"),
    ],
    "shanghai-hospital": [(" p-1003", "I10"), ("P-1001", "E11"), ("P-2001", "J45")],
}
"""Synthetic records: prescriptions at the pharma, diagnoses (ICD-10) at the hospital."""


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
    (cli.settings.home / "pep-links.json").write_text(
        json.dumps({"grants": [GRANT]}, indent=2) + "\n", encoding="utf-8"
    )
    app = create_app(cli.settings)
    transport = httpx.ASGITransport(app=app)
    try:
        operator = keyring.load(OPERATOR[0])
        step(lang, 2, N_("three organisations generate keys and apply"), quiet)
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
        step(
            lang,
            6,
            N_("two holders encrypt patient identifiers and have them moved into a study's domain"),
            quiet,
        )
        _show_grant(lang, quiet)
        by_name = {identity.name: identity for identity in applicants}
        moved = {
            holder: await _transcrypt(transport, lang, by_name[holder], records, quiet)
            for holder, records in RECORDS.items()
        }
        step(
            lang, 7, N_("the researcher opens the study's session key and links the records"), quiet
        )
        await _link(transport, lang, by_name[RESEARCHER], moved, quiet)
        step(
            lang,
            8,
            N_("the researcher tries to confirm a guessed patient number, and is refused"),
            quiet,
        )
        await _guess(transport, lang, by_name[RESEARCHER], quiet)
        step(lang, 9, N_("an auditor verifies the whole ledger"), quiet)
        async with _client(transport, lang, operator) as client:
            # the auditor pins the CA that `init` made here, not the one the hub presents
            anchor = TrustAnchor.of(load_certificate(ca_pem, "the CA certificate"))
            report = await verify_ledger(client, None, anchor)
        if not quiet:
            out.print(
                _(
                    "the ledger verifies: {size} entries, {checkpoints} checkpoints, root {root}",
                    lang,
                    **report,
                )
            )
    finally:
        app.state.hub.hub.close()


def _show_grant(lang: str, quiet: bool) -> None:
    if not quiet:
        out.print(
            _(
                "the operator's grant for {job}: {holders} submit; {researcher} receives the "
                "session keys and may never submit",
                lang,
                job=STUDY,
                holders=", ".join(HOLDERS),
                researcher=RESEARCHER,
            )
        )


def _transcription(ciphertexts: bytes) -> dict[str, Any]:
    return {
        "job": STUDY,
        "domain_from": None,
        "domain_to": STUDY,
        "session": "run-1",
        "ciphertexts": base64.b64encode(ciphertexts).decode(),
        "shuffle": False,
    }


async def _guess(
    transport: httpx.AsyncBaseTransport, lang: str, researcher: LocalIdentity, quiet: bool
) -> None:
    """The dictionary attack: encrypt a guessed identifier under the public key and submit it,
    to decrypt it in the study's domain and match it. The hub refuses and records the attempt."""
    from shugu.pep.group import GroupElement
    from shugu.pep.holder import encrypt_identifiers, unpack_ciphertexts

    async with _client(transport, lang, researcher) as client:
        public = GroupElement.from_hex(
            (await client.request("GET", "/v1/pep/public-key"))["public_key"]
        )
        data, _present = unpack_ciphertexts(encrypt_identifiers(["P-1001"], public))
        try:
            await client.request("POST", "/v1/pep/transcrypt", json=_transcription(data))
        except ForbiddenError as refused:
            if not quiet:
                out.print(_("refused: {reason}", lang, reason=refused.render(lang)))
            return
    raise VerificationError(N_("the hub accepted a key receiver's submission; the demo stops"))


async def _transcrypt(
    transport: httpx.AsyncBaseTransport,
    lang: str,
    holder: LocalIdentity,
    records: list[tuple[str, str]],
    quiet: bool,
) -> list[tuple[str, str]]:
    """Encrypt the holder's identifiers (on its side) and have the hub move them into the study's
    domain; returns (encrypted pseudonym in the study, the record's other value)."""
    from shugu.pep.group import GroupElement
    from shugu.pep.holder import encrypt_identifiers, pack_ciphertexts, unpack_ciphertexts

    async with _client(transport, lang, holder) as client:
        public = GroupElement.from_hex(
            (await client.request("GET", "/v1/pep/public-key"))["public_key"]
        )
        identifiers = [identifier for identifier, _value in records]
        data, _present = unpack_ciphertexts(encrypt_identifiers(identifiers, public))
        body = await client.request("POST", "/v1/pep/transcrypt", json=_transcription(data))
    texts = pack_ciphertexts(base64.b64decode(body["ciphertexts"]), [True] * len(records))
    if not quiet:
        out.print(
            _(
                "{holder}: {count} encrypted identifiers moved into {job} (ledger entry {index})",
                lang,
                holder=holder.name,
                count=body["count"],
                job=STUDY,
                index=body["ledger_index"],
            )
        )
    return [(str(text), value) for text, (_id, value) in zip(texts, records, strict=True)]


async def _link(
    transport: httpx.AsyncBaseTransport,
    lang: str,
    researcher: LocalIdentity,
    moved: dict[str, list[tuple[str, str]]],
    quiet: bool,
) -> None:
    """Fetch the session key (shares sealed to a one-time key), decrypt, and show the links."""
    from shugu.pep.holder import decrypt_pseudonyms
    from shugu.pep.sharing import RecipientKey, open_session_key

    recipient = RecipientKey.generate()
    request = {"job": STUDY, "session": "run-1", "recipient_key": recipient.public_bytes.hex()}
    async with _client(transport, lang, researcher) as client:
        body = await client.request("POST", "/v1/pep/session-key", json=request)
    secret = open_session_key(body, recipient)
    rows = []
    seen: dict[str, set[str]] = {}
    for holder, items in moved.items():
        pseudonyms = decrypt_pseudonyms([text for text, _value in items], secret)
        for pseudonym, (_text, value) in zip(pseudonyms, items, strict=True):
            rows.append((str(pseudonym)[:16] + "…", holder, value))
            seen.setdefault(str(pseudonym), set()).add(holder)
    linked = sum(1 for holders in seen.values() if len(holders) > 1)
    if quiet:
        return
    table(
        _("records in the study, by pseudonym", lang),
        [_("pseudonym", lang), _("holder", lang), _("record", lang)],
        sorted(rows),
    )
    out.print(
        _(
            "{linked} patients appear at both holders; no identifier left either holder",
            lang,
            linked=linked,
        )
    )


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
    from shugu.home.init import initialise  # loads the database layer only when needed

    return initialise(cli.settings, operator_name=OPERATOR[0], display_name=OPERATOR[1])
