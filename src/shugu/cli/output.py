"""How the CLI speaks: exit codes, error messages, JSON and tables.

Exit codes (one table, documented in docs/cli.md):

====  ===========================================================
code  meaning
====  ===========================================================
0     success
1     internal error (a bug: please report it with the hub log)
2     usage error (unknown command or option, missing argument)
3     invalid input (malformed file, value or request)
4     not found
5     refused: unauthenticated, forbidden, revoked, rate-limited
6     conflict with the current state (duplicate, wrong state)
7     unavailable: database or hub cannot be reached; try again
8     verification failed: a tampered ledger, a forked log, a bad note
====  ===========================================================
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from shugu.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    ShuguError,
    UnavailableError,
    VerificationError,
)
from shugu.i18n import N_, _

T = TypeVar("T")

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_INVALID = 3
EXIT_NOT_FOUND = 4
EXIT_REFUSED = 5
EXIT_CONFLICT = 6
EXIT_UNAVAILABLE = 7
EXIT_VERIFICATION = 8

EXIT_CODES: dict[type[ShuguError], int] = {
    InvalidInputError: EXIT_INVALID,
    NotFoundError: EXIT_NOT_FOUND,
    AuthenticationError: EXIT_REFUSED,
    ForbiddenError: EXIT_REFUSED,
    ConflictError: EXIT_CONFLICT,
    UnavailableError: EXIT_UNAVAILABLE,
    VerificationError: EXIT_VERIFICATION,
    ShuguError: EXIT_INTERNAL,
}
"""Error kind → exit code, looked up along the class's MRO."""

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON on stdout. / 输出 JSON。")]
"""The `--json` flag every listing and reporting command takes."""

ERROR_LABEL = N_("error")

# Text from the hub (names, reasons) is printed literally: no markup, emoji codes or highlighting.
out = Console(soft_wrap=True, markup=False, emoji=False, highlight=False)
err = Console(stderr=True, soft_wrap=True, markup=False, emoji=False, highlight=False)


def exit_code_for(error: ShuguError) -> int:
    """The exit code of an error, by the most specific class in `EXIT_CODES`."""
    for cls in type(error).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return EXIT_INTERNAL


def fail(error: ShuguError, lang: str) -> typer.Exit:
    """Print `error` for a person on stderr and return the `typer.Exit` to raise."""
    label = _(ERROR_LABEL, lang)
    err.print(Text.assemble((f"{label}: ", "bold red"), error.render(lang)))
    return typer.Exit(exit_code_for(error))


def run(lang: str, work: Callable[[], Awaitable[T]]) -> T:
    """Run an async command body; a `ShuguError` becomes a message and its exit code."""
    try:
        return asyncio.run(_call(work))
    except ShuguError as error:
        raise fail(error, lang) from None


async def _call(work: Callable[[], Awaitable[T]]) -> T:
    return await work()


def guard(lang: str, work: Callable[[], T]) -> T:
    """Run a synchronous command body with the same error handling as `run`."""
    try:
        return work()
    except ShuguError as error:
        raise fail(error, lang) from None


def print_json(value: Any) -> None:
    """Print one JSON document on stdout (nothing else goes to stdout with --json)."""
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=_default) + "\n")


def _default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Print a table for people."""
    grid = Table(title=Text(title), title_justify="left", header_style="bold")
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*(Text("" if v is None else str(v)) for v in row))
    out.print(grid)


def fields(title: str, pairs: Iterable[tuple[str, object]]) -> None:
    """Print labelled values for people."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for label, value in pairs:
        grid.add_row(Text(label), Text("" if value is None else str(value)))
    out.print(Text(title, style="bold"))
    out.print(grid)


@contextmanager
def file_progress(label: str, *, quiet: bool) -> Iterator[Callable[[str], None]]:
    """A progress display on stderr advanced once per file; silent when `quiet`."""
    if quiet or not err.is_terminal:
        yield lambda _name: None
        return
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), MofNCompleteColumn(), console=err
    ) as progress:
        task = progress.add_task(label, total=None)
        yield lambda name: progress.update(task, advance=1, description=f"{label}: {name}")


@contextmanager
def count_progress(
    label: str, *, quiet: bool, in_bytes: bool = False
) -> Iterator[Callable[[int, int | None], None]]:
    """A bar of work done out of all (the total may be unknown) on stderr, called as
    ``(done, total)``; in bytes with a transfer rate when `in_bytes`, else in items. Silent when
    `quiet` or when stderr is not a terminal."""
    if quiet or not err.is_terminal:
        yield lambda _done, _total: None
        return
    amount = (DownloadColumn(), TransferSpeedColumn()) if in_bytes else (MofNCompleteColumn(),)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        *amount,
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)
