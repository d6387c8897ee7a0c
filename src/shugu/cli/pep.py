"""`shugu pep keygen|hub-key|encrypt|transcrypt|session-key|decrypt|bench|transcryptor`:
polymorphic pseudonyms on files, and a transcryptor run by another party.

Files are JSON lines (``.jsonl``, ``.ndjson``, ``.json``) or Parquet (``.parquet``); the output
keeps every column and row, with the chosen column replaced (encrypted pseudonyms as libpep's
URL-safe base64 text, decrypted ones as 64 hex digits).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shugu.cli.context import CliContext, context_of
from shugu.cli.output import (
    JsonFlag,
    count_progress,
    fields,
    guard,
    out,
    print_json,
    run,
)
from shugu.errors import InvalidInputError
from shugu.i18n import N_, _

if TYPE_CHECKING:
    import polars as pl

    from shugu.pep.group import GroupElement, Scalar

app = typer.Typer(
    help="Polymorphic pseudonyms: encrypt, transcrypt, decrypt; transcryptors. "
    "/ 多态假名：加密、转密、解密；转密器。",
    no_args_is_help=True,
)

CHUNK = 8_000
"""Ciphertexts per transcription request (within the hub's default 1 MiB body limit)."""

Column = Annotated[
    str | None, typer.Option("--column", help="Column (default: the file's only column).")
]
Out = Annotated[Path, typer.Option("--out", help="Output file (.jsonl or .parquet). / 输出文件")]


def _read(path: Path) -> pl.DataFrame:
    import polars as pl

    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pl.read_parquet(path)
        if suffix in (".jsonl", ".ndjson", ".json"):
            return pl.read_ndjson(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InvalidInputError(
            N_("cannot read {path}: {reason}"), path=str(path), reason=str(exc)
        ) from exc
    raise InvalidInputError(
        N_("{path}: use a .jsonl, .ndjson, .json or .parquet file"), path=str(path)
    )


def _write(frame: pl.DataFrame, path: Path) -> None:
    if path.suffix.lower() == ".parquet":
        frame.write_parquet(path)
    elif path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        frame.write_ndjson(path)
    else:
        raise InvalidInputError(
            N_("{path}: use a .jsonl, .ndjson, .json or .parquet file"), path=str(path)
        )


def _column(frame: pl.DataFrame, column: str | None, path: Path) -> str:
    if column is None and frame.width == 1:
        return frame.columns[0]
    if column is None or column not in frame.columns:
        raise InvalidInputError(
            N_("{path}: choose a column with --column (columns: {known})"),
            path=str(path),
            known=", ".join(frame.columns) or "-",
        )
    return column


async def _public_key(cli: CliContext) -> GroupElement:
    from shugu.pep.group import GroupElement

    async with cli.client() as client:
        body = await client.request("GET", "/v1/pep/public-key")
    return GroupElement.from_hex(body["public_key"])


@app.command()
def keygen(
    ctx: typer.Context,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Also write the public info as JSON.")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Create the transcryptors' keys if new; show the public info. / 生成并显示转密公钥。"""
    cli = context_of(ctx)

    async def work() -> dict[str, Any]:
        async with cli.client() as client:
            info: dict[str, Any] = await client.request("GET", "/v1/pep/public-key")
        if out_file is not None:
            out_file.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        return info

    info = run(cli.lang, work)
    if json_output:
        print_json(info)
        return
    fields(
        _("PEP transcryptors", cli.lang),
        [
            (_("global public key", cli.lang), info["public_key"]),
            (_("transcryptors", cli.lang), ", ".join(info["transcryptors"])),
            (_("hub client key (for transcryptor servers)", cli.lang), info["client_key"]),
        ],
    )


@app.command("hub-key")
def hub_key(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """The hub's client key, for `shugu pep transcryptor init --hub-key`. / 枢纽客户端公钥。"""
    cli = context_of(ctx)

    async def work() -> str:
        async with cli.client() as client:
            body = await client.request("GET", "/v1/pep/client-key")
        return str(body["client_key"])

    key = run(cli.lang, work)
    if json_output:
        print_json({"client_key": key})
        return
    out.print(key)


@app.command()
def encrypt(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Input file. / 输入文件")],
    out_file: Out,
    column: Column = None,
    public_key: Annotated[
        str | None, typer.Option(help="Global public key (hex); default: ask the hub.")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Encrypt an identifier column to polymorphic pseudonyms. / 将标识列加密为多态假名。"""
    cli = context_of(ctx)

    async def work() -> int:
        from shugu.pep.group import GroupElement
        from shugu.pep.holder import encrypt_column
        from shugu.pep.parallel import usable_cpus

        frame = _read(file)
        name = _column(frame, column, file)
        key = GroupElement.from_hex(public_key) if public_key else await _public_key(cli)
        with count_progress(_("encrypting", cli.lang), quiet=json_output) as step:
            encrypted = encrypt_column(frame[name], key, workers=usable_cpus(), progress=step)
        _write(frame.with_columns(encrypted), out_file)
        return frame.height

    _report(cli, json_output, run(cli.lang, work), out_file)


def _report(cli: CliContext, json_output: bool, rows: int, path: Path) -> None:
    if json_output:
        print_json({"rows": rows, "out": str(path)})
        return
    out.print(_("{rows} rows written to {path}", cli.lang, rows=rows, path=str(path)))


@app.command()
def transcrypt(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Encrypted pseudonyms. / 加密假名文件")],
    out_file: Out,
    to_domain: Annotated[str, typer.Option("--to-domain", help="The job's domain.")],
    session: Annotated[str, typer.Option(help="The job's session.")],
    job: Annotated[str | None, typer.Option(help="Job id (default: --to-domain).")] = None,
    from_domain: Annotated[
        str | None, typer.Option("--from-domain", help="Holder's domain (default: global).")
    ] = None,
    column: Column = None,
    json_output: JsonFlag = False,
) -> None:
    """Transcrypt through the hub into a job's domain and session (rows keep their order).
    / 经枢纽将假名转密到任务的域与会话。"""
    cli = context_of(ctx)

    async def work() -> int:
        import polars as pl

        from shugu.pep.holder import pack_ciphertexts, unpack_ciphertexts

        frame = _read(file)
        name = _column(frame, column, file)
        data, present = unpack_ciphertexts(frame[name].to_list())
        request = {
            "job": job or to_domain,
            "domain_from": from_domain,
            "domain_to": to_domain,
            "session": session,
            "shuffle": False,
        }
        moved = bytearray()
        async with cli.client(cli.identity()) as client:
            with count_progress(_("transcrypting", cli.lang), quiet=json_output) as step:
                for start in range(0, len(data), CHUNK * 64):
                    chunk = base64.b64encode(data[start : start + CHUNK * 64]).decode()
                    body = await client.request(
                        "POST", "/v1/pep/transcrypt", json=request | {"ciphertexts": chunk}
                    )
                    moved += base64.b64decode(body["ciphertexts"])
                    step(len(moved) // 64, len(data) // 64)
        column_out = pl.Series(name, pack_ciphertexts(bytes(moved), present), pl.String)
        _write(frame.with_columns(column_out), out_file)
        return frame.height

    _report(cli, json_output, run(cli.lang, work), out_file)


@app.command("session-key")
def session_key(
    ctx: typer.Context,
    job: Annotated[str, typer.Option(help="Job id.")],
    session: Annotated[str, typer.Option(help="The job's session.")],
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Key file to create (default: in the home's pep-sessions/)."),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Fetch every transcryptor's share, combine the session key, keep it sealed.
    / 获取份额、合成会话密钥并密封保存。"""
    cli = context_of(ctx)

    async def work() -> dict[str, str]:
        from shugu.keys import load_kek
        from shugu.pep.session_keys import default_path, write_session_key
        from shugu.pep.sharing import RecipientKey, open_session_key

        recipient = RecipientKey.generate()
        request = {"job": job, "session": session, "recipient_key": recipient.public_bytes.hex()}
        async with cli.client(cli.identity()) as client:
            body = await client.request("POST", "/v1/pep/session-key", json=request)
        secret = open_session_key(body, recipient)
        path = out_file or default_path(cli.home.pep_sessions, body["context"])
        public = write_session_key(
            path,
            load_kek(cli.settings),
            job=job,
            session=session,
            context=body["context"],
            secret=secret,
        )
        return {"job": job, "session": session, "public_key": public.hex(), "out": str(path)}

    shown = run(cli.lang, work)
    if json_output:
        print_json(shown)
        return
    out.print(_("session key written to {path}", cli.lang, path=shown["out"]))


@app.command()
def decrypt(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Transcrypted pseudonyms. / 已转密的假名")],
    out_file: Out,
    session_key_file: Annotated[
        Path | None,
        typer.Option("--session-key", help="Key file from `shugu pep session-key --out`."),
    ] = None,
    job: Annotated[
        str | None, typer.Option(help="With --session: a key fetched into this home.")
    ] = None,
    session: Annotated[str | None, typer.Option(help="The job's session.")] = None,
    column: Column = None,
    json_output: JsonFlag = False,
) -> None:
    """Decrypt to the job-domain pseudonyms (hex). / 解密为任务域假名。"""
    cli = context_of(ctx)

    def work() -> int:
        from shugu.pep.holder import decrypt_column
        from shugu.pep.parallel import usable_cpus

        secret = _session_secret(cli, session_key_file, job, session)
        frame = _read(file)
        name = _column(frame, column, file)
        with count_progress(_("decrypting", cli.lang), quiet=json_output) as step:
            plain = decrypt_column(frame[name], secret, workers=usable_cpus(), progress=step)
        _write(frame.with_columns(plain), out_file)
        return frame.height

    _report(cli, json_output, guard(cli.lang, work), out_file)


def _session_secret(
    cli: CliContext, path: Path | None, job: str | None, session: str | None
) -> Scalar:
    from shugu.keys import load_kek
    from shugu.pep.service import session_context
    from shugu.pep.session_keys import default_path, read_session_key

    if path is None:
        if job is None or session is None:
            raise InvalidInputError(
                N_("give --session-key FILE, or --job and --session of a key fetched here")
            )
        path = default_path(cli.home.pep_sessions, session_context(job, session))
        if not path.exists():
            raise InvalidInputError(
                N_("no session key for job {job}, session {session} in this home"),
                job=job,
                session=session,
            )
    return read_session_key(path, load_kek(cli.settings))


@app.command()
def bench(
    ctx: typer.Context,
    n: Annotated[int, typer.Option(min=100, help="Ciphertexts per loop.")] = 4_000,
    reps: Annotated[int, typer.Option(min=1, help="Repetitions.")] = 5,
    json_output: JsonFlag = False,
) -> None:
    """Measure transcryption, encryption, decryption against bare libsodium. / 性能测试。"""
    cli = context_of(ctx)

    def work() -> dict[str, float]:
        from shugu.pep.benchmark import measure, summarise

        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        return summarise(measure(n, reps))

    figures = guard(cli.lang, work)
    if json_output:
        print_json(figures)
        return
    fields(_("PEP benchmark (one core, per CPU-second)", cli.lang), list(figures.items()))


transcryptor_app = typer.Typer(
    help="A transcryptor run by its own party. / 由独立一方运行的转密器。", no_args_is_help=True
)
app.add_typer(transcryptor_app, name="transcryptor")


@transcryptor_app.command("init")
def transcryptor_init(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="Its name in the PEP system (as the hub lists it).")],
    hub_key: Annotated[
        str, typer.Option("--hub-key", help="The hub's client key (`shugu pep keygen`), hex.")
    ],
    json_output: JsonFlag = False,
) -> None:
    """Set up a transcryptor in a home of its own: its key, database, secrets and ledger.
    / 在独立的主目录中设置转密器。"""
    cli = context_of(ctx)

    def work() -> dict[str, Any]:
        from shugu.errors import ConflictError
        from shugu.home import Home
        from shugu.keys.sealing import KeyEncryptionKey
        from shugu.pep.group import parse_hex
        from shugu.pep.server import CONFIG_FILE, TranscryptorConfig, write_config
        from shugu.runtime.transcryptor import open_transcryptor

        key = parse_hex(hub_key, "--hub-key")
        TranscryptorConfig(name, key)
        home = Home(cli.settings.home)
        if home.is_initialised():
            raise ConflictError(
                N_("{home} is already initialised; a transcryptor needs a home of its own"),
                home=str(home.root),
            )
        secret = cli.settings.secret_key
        home.create(
            None if secret is None else KeyEncryptionKey.from_text(secret.get_secret_value())
        )
        write_config(home.root, name, key)
        runtime = open_transcryptor(cli.settings)
        try:
            info = runtime.host.info()
        finally:
            runtime.close()
        return {"name": info["name"], "hub_key": info["hub_key"], "config": CONFIG_FILE}

    shown = guard(cli.lang, work)
    if json_output:
        print_json(shown)
        return
    out.print(
        _(
            "transcryptor {name} is set up; serve it: shugu --home {home} pep transcryptor up",
            cli.lang,
            name=shown["name"],
            home=str(cli.settings.home),
        )
    )


@transcryptor_app.command("show")
def transcryptor_show(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Its name, the hub it answers, whether it joined a system, its ledger size.
    / 显示转密器状态。"""
    cli = context_of(ctx)

    def work() -> dict[str, Any]:
        from shugu.runtime.transcryptor import open_transcryptor

        runtime = open_transcryptor(cli.settings)
        try:
            return runtime.host.info() | {"ledger_size": runtime.host.ledger.size()}
        finally:
            runtime.close()

    info = guard(cli.lang, work)
    if json_output:
        print_json(info)
        return
    fields(
        _("transcryptor {name}", cli.lang, name=info["name"]),
        [
            (_("hub client key", cli.lang), info["hub_key"]),
            (
                _("joined a PEP system", cli.lang),
                _("yes", cli.lang) if info["joined"] else _("no", cli.lang),
            ),
            (_("ledger entries", cli.lang), str(info["ledger_size"])),
        ],
    )


@transcryptor_app.command("up")
def transcryptor_up(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Serve the transcryptor over HTTP(S) for its hub. / 启动转密器服务。"""
    from shugu.api.transcryptor import create_transcryptor_app
    from shugu.cli.serving import serve
    from shugu.runtime.transcryptor import open_transcryptor

    cli = context_of(ctx)
    serve(
        cli,
        lambda settings: create_transcryptor_app(settings, open_transcryptor(settings)),
        host,
        port,
    )
