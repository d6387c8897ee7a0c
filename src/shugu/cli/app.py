"""The `shugu` command: global options and the top-level commands."""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Annotated, Any

import typer

from shugu import __version__
from shugu.cli import demo, key, ledger, participant, pep, privacy
from shugu.cli.context import CliContext
from shugu.cli.output import JsonFlag, err, file_progress, guard, out, print_json
from shugu.clock import SystemClock
from shugu.errors import InvalidInputError
from shugu.i18n import N_, _, lang_from_environment, normalize_lang

app = typer.Typer(
    name="shugu",
    help="shugu (数谷): a trusted data space. / 可信数据空间。",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(participant.app, name="participant")
app.add_typer(ledger.app, name="ledger")
app.add_typer(privacy.app, name="privacy")
app.add_typer(pep.app, name="pep")
app.add_typer(key.app, name="key")
app.command(name="demo")(demo.demo)


@app.callback()
def root(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            envvar="SHUGU_HOME",
            help="State directory (default ~/.shugu). / 状态目录。",
            show_default=False,
        ),
    ] = None,
    as_name: Annotated[
        str | None,
        typer.Option("--as", help="Identity of this home to act as. / 以哪个身份操作。"),
    ] = None,
    lang: Annotated[
        str | None, typer.Option("--lang", help="en or zh_CN (default: from the locale).")
    ] = None,
    hub: Annotated[
        str | None,
        typer.Option(
            "--hub", envvar="SHUGU_HUB_URL", help="URL of a remote hub (default: embedded)."
        ),
    ] = None,
) -> None:
    """shugu (数谷): a trusted data space. / 可信数据空间。"""
    ctx.obj = guard(
        normalize_lang(lang) if lang else lang_from_environment(),
        lambda: CliContext.build(home=home, as_name=as_name, lang=lang, hub=hub),
    )


@app.command()
def version(json_output: JsonFlag = False) -> None:
    """Show the version. / 显示版本。"""
    from shugu.db import head_revision  # the database layer loads only for commands that use it

    info = {
        "shugu": __version__,
        "schema": head_revision(),
        "python": platform.python_version(),
    }
    if json_output:
        print_json(info)
        return
    out.print(f"shugu {__version__} (schema {info['schema']}, Python {info['python']})")


@app.command()
def init(
    ctx: typer.Context,
    operator: Annotated[
        str, typer.Option(help="Name of the space's first operator. / 首个运营方名称。")
    ] = "operator",
    display_name: Annotated[
        str, typer.Option(help="Display name of the operator. / 运营方显示名称。")
    ] = "",
    json_output: JsonFlag = False,
) -> None:
    """Create a home: key, hub database, hub CA, first operator. / 初始化。"""
    cli: CliContext = ctx.obj
    made = guard(
        cli.lang,
        lambda: _initialise(cli, operator, display_name),
    )
    if json_output:
        print_json(
            {
                "home": str(made.home.root),
                "operator": {"id": made.operator.id, "name": made.operator.name},
                "certificate_serial": made.certificate.serial,
            }
        )
        return
    out.print(
        _(
            "initialised {home}; operator {name} ({id})",
            cli.lang,
            home=made.home.root,
            name=made.operator.name,
            id=made.operator.id,
        )
    )
    out.print(_("serve this home with: shugu --home {home} up", cli.lang, home=made.home.root))


@app.command()
def up(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Serve the hub API over HTTP(S) with uvicorn. / 启动枢纽服务。"""
    from shugu.api import create_app
    from shugu.cli.serving import serve

    cli: CliContext = ctx.obj
    serve(cli, create_app, host, port)


@app.command()
def backup(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Archive to write (encrypted). / 备份文件。")],
    json_output: JsonFlag = False,
) -> None:
    """Back up an embedded home, encrypted with a passphrase. / 加密备份。

    The passphrase comes from SHUGU_BACKUP_PASSPHRASE, else it is asked twice on the terminal.
    """
    cli: CliContext = ctx.obj
    passphrase = guard(cli.lang, lambda: _backup_passphrase(cli, file))
    with _progress(cli.lang, json_output) as step:
        summary = guard(cli.lang, lambda: _backup(cli, file, passphrase, step))
    if json_output:
        print_json(
            {
                "path": str(summary.path),
                "files": summary.files,
                "bytes": summary.bytes,
                "revision": summary.revision,
                "created_at": summary.created_at,
            }
        )
        return
    out.print(
        _(
            "backup written to {path}: {files} files, {bytes} bytes",
            cli.lang,
            path=summary.path,
            files=summary.files,
            bytes=summary.bytes,
        )
    )
    err.print(_("the archive is encrypted: without its passphrase it cannot be restored", cli.lang))


@app.command()
def restore(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Archive written by `shugu backup`.")],
    force: Annotated[bool, typer.Option(help="Replace a non-empty home (kept aside).")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Restore an embedded home from a backup. / 从备份恢复。

    The passphrase comes from SHUGU_BACKUP_PASSPHRASE, else it is asked on the terminal.
    """
    cli: CliContext = ctx.obj
    passphrase = guard(cli.lang, lambda: _restore_passphrase(cli, file, force))
    with _progress(cli.lang, json_output) as step:
        manifest, kept = guard(cli.lang, lambda: _restore(cli, file, passphrase, force, step))
    if json_output:
        print_json(
            {
                "home": str(cli.settings.home),
                "created_at": manifest["created_at"],
                "files": len(manifest["files"]),
                "previous_home": str(kept) if kept else None,
            }
        )
        return
    out.print(
        _(
            "restored {home} from the backup of {created_at}",
            cli.lang,
            home=cli.settings.home,
            created_at=manifest["created_at"],
        )
    )
    if kept:
        out.print(_("the previous home was kept at {path}", cli.lang, path=kept))


NO_PASSPHRASE = N_(
    "no backup passphrase: set {variable}, or run the command on a terminal to be asked for it"
)
UNENCRYPTED_ARCHIVE = N_(
    "warning: {path} is an unencrypted backup of an earlier version and holds the home's key in "
    "clear; make an encrypted one with `shugu backup` and destroy this one"
)


def _ask_passphrase(cli: CliContext, *, twice: bool) -> str:
    """The passphrase from the settings, else from the terminal (never echoed nor logged)."""
    if cli.settings.backup_passphrase is not None:
        return cli.settings.backup_passphrase.get_secret_value()
    if not sys.stdin.isatty():
        raise InvalidInputError(NO_PASSPHRASE, variable="SHUGU_BACKUP_PASSPHRASE")
    first: str = typer.prompt(_("backup passphrase", cli.lang), hide_input=True, err=True)
    if twice:
        again: str = typer.prompt(_("repeat the passphrase", cli.lang), hide_input=True, err=True)
        if again != first:
            raise InvalidInputError(N_("the two passphrases differ; nothing was written"))
    return first


def _progress(lang: str, quiet: bool) -> AbstractContextManager[Callable[[str], None]]:
    return file_progress(_("files", lang), quiet=quiet)


# The database layer (SQLAlchemy, Alembic) loads only for the commands that use it.


def _initialise(cli: CliContext, operator: str, display_name: str) -> Any:
    from shugu.home.init import initialise

    return initialise(cli.settings, operator_name=operator, display_name=display_name)


def _backup_passphrase(cli: CliContext, file: Path) -> str:
    from shugu.home.backup import check_backup_target

    check_backup_target(cli.settings, file)
    return _ask_passphrase(cli, twice=True)


def _backup(cli: CliContext, file: Path, passphrase: str, step: Callable[[str], None]) -> Any:
    from shugu.home.backup import create_backup

    return create_backup(
        cli.settings, file, passphrase=passphrase, now=SystemClock().now(), progress=step
    )


def _restore_passphrase(cli: CliContext, file: Path, force: bool) -> str | None:
    from shugu.home.backup import archive_is_encrypted, check_restore_target

    check_restore_target(cli.settings, file, force=force)
    if archive_is_encrypted(file):
        return _ask_passphrase(cli, twice=False)
    err.print(_(UNENCRYPTED_ARCHIVE, cli.lang, path=file))
    return None


def _restore(
    cli: CliContext, file: Path, passphrase: str | None, force: bool, step: Callable[[str], None]
) -> Any:
    from shugu.home.backup import restore_backup

    return restore_backup(
        cli.settings,
        file,
        passphrase=passphrase,
        force=force,
        now=SystemClock().now(),
        progress=step,
    )
