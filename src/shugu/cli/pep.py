"""`shugu pep keygen|encrypt|transcrypt|session-key|decrypt|bench`: polymorphic pseudonyms on files.

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
from shugu.cli.output import JsonFlag, fields, guard, out, print_json, run
from shugu.errors import InvalidInputError
from shugu.i18n import N_, _

if TYPE_CHECKING:
    import polars as pl

    from shugu.pep.group import GroupElement, Scalar

app = typer.Typer(
    help="Polymorphic pseudonyms: encrypt, transcrypt, decrypt. / 多态假名：加密、转密、解密。",
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
        ],
    )


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

        frame = _read(file)
        name = _column(frame, column, file)
        key = GroupElement.from_hex(public_key) if public_key else await _public_key(cli)
        _write(frame.with_columns(encrypt_column(frame[name], key)), out_file)
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
            for start in range(0, len(data), CHUNK * 64):
                chunk = base64.b64encode(data[start : start + CHUNK * 64]).decode()
                body = await client.request(
                    "POST", "/v1/pep/transcrypt", json=request | {"ciphertexts": chunk}
                )
                moved += base64.b64decode(body["ciphertexts"])
        column_out = pl.Series(name, pack_ciphertexts(bytes(moved), present), pl.String)
        _write(frame.with_columns(column_out), out_file)
        return frame.height

    _report(cli, json_output, run(cli.lang, work), out_file)


@app.command("session-key")
def session_key(
    ctx: typer.Context,
    job: Annotated[str, typer.Option(help="Job id.")],
    session: Annotated[str, typer.Option(help="The job's session.")],
    out_file: Annotated[Path, typer.Option("--out", help="Key file to create (mode 0600).")],
    json_output: JsonFlag = False,
) -> None:
    """Fetch every transcryptor's share and combine the session key. / 获取并合成会话密钥。"""
    cli = context_of(ctx)

    async def work() -> dict[str, str]:
        from shugu.pep.group import G, GroupElement, Scalar

        async with cli.client(cli.identity()) as client:
            body = await client.request(
                "POST", "/v1/pep/session-key", json={"job": job, "session": session}
            )
        secret = Scalar.from_hex(body["blinded_secret_key"])
        for share in body["shares"]:
            secret = secret * Scalar.from_hex(share["share"])
        public = GroupElement.from_hex(body["public_key"])
        if secret * G != public:
            raise InvalidInputError(N_("the session key shares do not combine to the session key"))
        key = {
            "job": job,
            "session": session,
            "public_key": public.hex(),
            "secret_key": secret.hex(),
        }
        _write_private(out_file, json.dumps(key, indent=2) + "\n")
        return {"job": job, "session": session, "public_key": public.hex(), "out": str(out_file)}

    shown = run(cli.lang, work)
    if json_output:
        print_json(shown)
        return
    out.print(_("session key written to {path}", cli.lang, path=str(out_file)))


def _write_private(path: Path, text: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InvalidInputError(N_("{path} exists; choose another file"), path=str(path)) from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _load_session_key(path: Path) -> Scalar:
    from shugu.pep.group import G, GroupElement, Scalar

    try:
        key = json.loads(path.read_text(encoding="utf-8"))
        secret, public = Scalar.from_hex(key["secret_key"]), key["public_key"]
    except (OSError, ValueError, KeyError, TypeError, InvalidInputError) as exc:
        raise InvalidInputError(
            N_("{path} is not a session key file from `shugu pep session-key`"), path=str(path)
        ) from exc
    if secret * G != GroupElement.from_hex(public):
        raise InvalidInputError(
            N_("{path}: the secret key does not match its public key"), path=str(path)
        )
    return secret


@app.command()
def decrypt(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Transcrypted pseudonyms. / 已转密的假名")],
    out_file: Out,
    session_key_file: Annotated[
        Path, typer.Option("--session-key", help="Key file from `shugu pep session-key`.")
    ],
    column: Column = None,
    json_output: JsonFlag = False,
) -> None:
    """Decrypt to the job-domain pseudonyms (hex). / 解密为任务域假名。"""
    cli = context_of(ctx)

    def work() -> int:
        from shugu.pep.holder import decrypt_column

        secret = _load_session_key(session_key_file)
        frame = _read(file)
        name = _column(frame, column, file)
        _write(frame.with_columns(decrypt_column(frame[name], secret)), out_file)
        return frame.height

    _report(cli, json_output, guard(cli.lang, work), out_file)


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
