"""`shugu privacy scan|protect|keygen|hierarchies`: find personal data, protect it at the input."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shugu.cli.context import CliContext, context_of
from shugu.cli.output import JsonFlag, count_progress, fields, guard, out, print_json, table
from shugu.errors import InvalidInputError, NotFoundError
from shugu.i18n import N_, _
from shugu.keys import load_kek
from shugu.privacy.grading import describe_grade, load_catalogue
from shugu.privacy.labels import Label, describe

if TYPE_CHECKING:  # the data libraries (polars, pyarrow) load when a command runs, not before
    from shugu.privacy.hierarchy import HierarchyRegistry
    from shugu.privacy.ingest import Source
    from shugu.privacy.keys import KeyStore, PseudonymKey

DEFAULT_SAMPLE_ROWS = 10_000


class InputFormat(StrEnum):
    """`--format` (the values of `shugu.privacy.ingest.SourceFormat`)."""

    CSV = "csv"
    PARQUET = "parquet"
    XLSX = "xlsx"
    JSONL = "jsonl"
    SQL = "sql"


class BadRowPolicy(StrEnum):
    """`--on-bad-row` (the values of `shugu.privacy.ingest.OnBadRow`)."""

    REJECT = "reject"
    QUARANTINE = "quarantine"


app = typer.Typer(
    help="Find personal data and protect it. / 发现个人信息并加以保护。",
    no_args_is_help=True,
)

FormatOption = Annotated[
    InputFormat | None,
    typer.Option("--format", help="Input format (default: from the file name). / 输入格式。"),
]
EncodingOption = Annotated[
    str | None,
    typer.Option("--encoding", help="utf-8, utf-8-sig, gbk or gb18030 (default: detected)."),
]
SepOption = Annotated[
    str | None, typer.Option("--sep", help="Field separator (default: sniffed). / 分隔符。")
]
TableOption = Annotated[
    str | None, typer.Option("--table", help="Table to read when FILE is a database URL.")
]
SheetOption = Annotated[
    str | None, typer.Option("--sheet", help="Excel sheet name or number (default: the first).")
]
OnBadRowOption = Annotated[
    BadRowPolicy,
    typer.Option(
        "--on-bad-row",
        help="reject: stop at the first bad row; quarantine: set it aside and go on.",
    ),
]
QuarantineOption = Annotated[
    Path | None,
    typer.Option("--quarantine", help="Side file for bad rows (default: FILE.quarantine.jsonl)."),
]


def _sheet(value: str | None) -> str | int | None:
    if value is not None and value.isdigit():
        return int(value)
    return value


def _open(
    file: str,
    *,
    format_: InputFormat | None,
    encoding: str | None,
    sep: str | None,
    table_name: str | None,
    sheet: str | None,
    on_bad_row: BadRowPolicy,
    quarantine: Path | None,
) -> Source:
    from shugu.privacy.ingest import OnBadRow, SourceFormat, open_source

    return open_source(
        file,
        format=None if format_ is None else SourceFormat(format_.value),
        encoding=encoding,
        delimiter=sep,
        on_bad_row=OnBadRow(on_bad_row.value),
        quarantine=quarantine,
        table=table_name,
        sheet=_sheet(sheet),
    )


@app.command()
def scan(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="File or database URL to scan. / 待扫描的文件。")],
    full: Annotated[
        bool, typer.Option("--full", help="Check every value, not a sample. / 检查全部值。")
    ] = False,
    sample: Annotated[
        int, typer.Option("--sample", min=100, help="Values per column to check.")
    ] = DEFAULT_SAMPLE_ROWS,
    catalogue: Annotated[
        str, typer.Option("--catalogue", help="Grading catalogue id or TOML file. / 分级目录。")
    ] = "default",
    format_: FormatOption = None,
    encoding: EncodingOption = None,
    sep: SepOption = None,
    table_name: TableOption = None,
    sheet: SheetOption = None,
    on_bad_row: OnBadRowOption = BadRowPolicy.REJECT,
    quarantine: QuarantineOption = None,
    json_output: JsonFlag = False,
) -> None:
    """Detect personal data per column and grade the dataset. / 逐列识别个人信息并定级。"""
    cli = context_of(ctx)

    def work() -> None:
        from shugu.privacy.scan import scan_source

        grading = load_catalogue(catalogue)
        with (
            _open(
                file,
                format_=format_,
                encoding=encoding,
                sep=sep,
                table_name=table_name,
                sheet=sheet,
                on_bad_row=on_bad_row,
                quarantine=quarantine,
            ) as source,
            count_progress(_(N_("scanning"), cli.lang), quiet=False, in_bytes=True) as advance,
        ):
            report = scan_source(
                source, full=full, sample_rows=sample, catalogue=grading, progress=advance
            )
        if json_output:
            print_json(report.to_json())
            return
        lang = cli.lang
        yes, no = _(N_("yes"), lang), _(N_("no"), lang)
        table(
            _(N_("Columns of {source}"), lang).format(source=report.source),
            [
                _(N_("column"), lang),
                _(N_("label"), lang),
                _(N_("confidence"), lang),
                _(N_("checked"), lang),
                _(N_("valid"), lang),
                _(N_("personal"), lang),
                _(N_("sensitive"), lang),
                _(N_("level"), lang),
                _(N_("found in text"), lang),
            ],
            (
                [
                    c.verdict.name,
                    "-" if c.verdict.label is None else _(describe(c.verdict.label), lang),
                    f"{c.verdict.confidence:.2f}",
                    c.verdict.rows_checked,
                    c.verdict.rows_valid,
                    yes if c.grade.personal else no,
                    yes if c.grade.sensitive else no,
                    c.grade.level,
                    _in_text(c.verdict.labels_in_text, lang),
                ]
                for c in report.columns
            ),
        )
        grade = _(describe_grade(report.dataset.grade), lang)
        fields(
            _(N_("Dataset"), lang),
            [
                (_(N_("grade"), lang), f"{grade} ({report.dataset.level})"),
                (_(N_("catalogue"), lang), report.dataset.catalogue),
                (_(N_("rows"), lang), report.rows),
                (_(N_("encoding"), lang), report.encoding or "-"),
                (_(N_("rows quarantined"), lang), report.quarantined),
            ],
        )

    guard(cli.lang, work)


def _in_text(counts: dict[Label, int], lang: str) -> str:
    return ", ".join(f"{_(describe(label), lang)} {n}" for label, n in sorted(counts.items()))


def _registry(cli: CliContext, folder: Path | None) -> HierarchyRegistry:
    from shugu.privacy.hierarchy import HierarchyRegistry

    chosen = folder or cli.home.hierarchies
    if chosen.is_dir():
        return HierarchyRegistry.from_folder(chosen)
    if folder is not None:
        raise NotFoundError(N_("no hierarchy folder {path}"), path=str(folder))
    return HierarchyRegistry.builtin()


def _key_store(cli: CliContext) -> KeyStore:
    from shugu.privacy.keys import KeyStore

    return KeyStore(cli.home.pseudonym_keys, load_kek(cli.settings))


@app.command()
def protect(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="File or database URL to protect. / 待保护的文件。")],
    profile: Annotated[
        Path, typer.Option("--profile", help="Protection profile (TOML or JSON). / 保护配置。")
    ],
    out_path: Annotated[
        Path, typer.Option("--out", help="Protected file (.parquet, .csv, .tsv, .jsonl).")
    ],
    key_from: Annotated[
        str | None,
        typer.Option("--key-from", help="Holder whose pseudonymisation key to use. / 密钥持有方。"),
    ] = None,
    hierarchies: Annotated[
        Path | None,
        typer.Option("--hierarchies", help="Hierarchy folder (default: the home's hierarchies/)."),
    ] = None,
    pep_public_key: Annotated[
        str | None,
        typer.Option(
            "--pep-public-key",
            help="The space's PEP public key (hex), for pep_encrypt steps. / PEP 公钥。",
        ),
    ] = None,
    report_path: Annotated[
        Path | None, typer.Option("--report", help="Also write the report to this JSON file.")
    ] = None,
    format_: FormatOption = None,
    encoding: EncodingOption = None,
    sep: SepOption = None,
    table_name: TableOption = None,
    sheet: SheetOption = None,
    on_bad_row: OnBadRowOption = BadRowPolicy.REJECT,
    quarantine: QuarantineOption = None,
    json_output: JsonFlag = False,
) -> None:
    """Apply a protection profile and write the protected file. / 按保护配置处理并输出。"""
    cli = context_of(ctx)

    def work() -> None:
        from shugu.privacy.profile import load_profile
        from shugu.privacy.protect import protect_source, report_text

        plan = load_profile(profile)
        registry = _registry(cli, hierarchies)
        key: PseudonymKey | None = None
        if key_from is not None:
            key = _key_store(cli).get(key_from)
        with (
            _open(
                file,
                format_=format_,
                encoding=encoding,
                sep=sep,
                table_name=table_name,
                sheet=sheet,
                on_bad_row=on_bad_row,
                quarantine=quarantine,
            ) as source,
            count_progress(_(N_("protecting"), cli.lang), quiet=False, in_bytes=True) as advance,
        ):
            report = protect_source(
                source,
                plan,
                out_path,
                registry=registry,
                key=key,
                key_holder=key_from,
                pep_public_key=_hex_key(pep_public_key),
                progress=advance,
            )
        if report_path is not None:
            report_path.write_text(report_text(report), encoding="utf-8")
        if json_output:
            print_json(report.to_json())
            return
        lang = cli.lang
        table(
            _(N_("What was done"), lang),
            [_(N_("column"), lang), _(N_("transform"), lang), _(N_("parameters"), lang)],
            (
                [
                    step.get("column") or ", ".join(step.get("columns", [])),
                    step.get("transform", ""),
                    ", ".join(
                        f"{k}={v}"
                        for k, v in step.get("parameters", {}).items()
                        if not k.endswith("fingerprint")
                    ),
                ]
                for step in report.steps
            ),
        )
        fields(
            _(N_("Protected file"), lang),
            [
                (_(N_("output"), lang), report.output),
                (_(N_("rows in"), lang), report.rows_in),
                (_(N_("rows out"), lang), report.rows_out),
                (_(N_("rows quarantined"), lang), report.quarantined),
                ("SHA-256", report.output_sha256),
                (_(N_("hierarchy registry"), lang), report.registry_fingerprint),
            ],
        )

    guard(cli.lang, work)


def _hex_key(text: str | None) -> bytes | None:
    if text is None:
        return None
    try:
        raw = bytes.fromhex(text.strip())
    except ValueError as exc:
        raise InvalidInputError(N_("--pep-public-key must be 64 hexadecimal digits")) from exc
    if len(raw) != 32:
        raise InvalidInputError(N_("--pep-public-key must be 64 hexadecimal digits"))
    return raw


@app.command()
def keygen(
    ctx: typer.Context,
    holder: Annotated[str, typer.Argument(help="Holder name (e.g. the identity name).")],
    json_output: JsonFlag = False,
) -> None:
    """Create a holder's pseudonymisation key, sealed in the home. / 生成持有方的假名化密钥。"""
    cli = context_of(ctx)

    def work() -> None:
        store = _key_store(cli)
        store.create(holder)
        if json_output:
            print_json({"holder": holder, "created": True})
            return
        done = _(N_("pseudonymisation key for {holder} created"), cli.lang)
        out.print(done.format(holder=holder))

    guard(cli.lang, work)


@app.command()
def hierarchies(
    ctx: typer.Context,
    folder: Annotated[
        Path | None,
        typer.Option("--hierarchies", help="Hierarchy folder (default: the home's hierarchies/)."),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """List the shared generalisation hierarchies and their fingerprint. / 列出共享泛化层级。"""
    cli = context_of(ctx)

    def work() -> None:
        registry = _registry(cli, folder)
        if json_output:
            print_json(
                {
                    "fingerprint": registry.fingerprint(),
                    "hierarchies": [
                        {"name": n, "levels": registry.get(n).levels} for n in registry.names()
                    ],
                }
            )
            return
        table(
            _(N_("Hierarchies ({fingerprint})"), cli.lang).format(
                fingerprint=registry.fingerprint()[:16]
            ),
            [_(N_("name"), cli.lang), _(N_("levels"), cli.lang)],
            ([n, registry.get(n).levels] for n in registry.names()),
        )

    guard(cli.lang, work)


# -- anonymize and risk (issue 5) ----------------------------------------------------------------


class MetricChoice(StrEnum):
    """`--metric` (ARX's definitions; see docs/anonymity.md)."""

    ENTROPY = "entropy"
    LOSS = "loss"
    DISCERNIBILITY = "discernibility"
    PRECISION = "precision"


def _read_table(file: str, sep: str | None, encoding: str | None) -> Any:
    """The whole file as an Arrow table (anonymisation needs every record at once)."""
    import pyarrow as pa

    from shugu.privacy.ingest import open_source

    with open_source(file, delimiter=sep, encoding=encoding) as source:
        return pa.Table.from_batches(list(source.batches()), schema=source.schema)


def _columns(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def _choose_qi(
    qi: str, columns: list[str], hierarchies: dict[str, Any], sensitive: str | None
) -> list[str]:
    if qi.strip().lower() != "all":
        return _columns(qi)
    chosen = [c for c in columns if c in hierarchies and c != sensitive]
    if not chosen:
        raise NotFoundError(N_("no column of the file has a hierarchy file (--qi all)"))
    return chosen


def _risk_rows(lang: str, before: Any, after: Any | None) -> list[list[object]]:
    """Rows of (measure, before, after) from two `RiskReport`s, as percentages."""
    measures: list[tuple[str, Callable[[Any], float]]] = [
        (N_("prosecutor risk, highest"), lambda r: float(r.prosecutor.highest)),
        (N_("prosecutor risk, average"), lambda r: float(r.prosecutor.average)),
        (N_("records at risk"), lambda r: float(r.prosecutor.records_at_risk)),
        (N_("journalist risk, highest"), lambda r: float(r.journalist.highest)),
        (N_("marketer risk"), lambda r: float(r.marketer)),
        (N_("sample uniques"), lambda r: float(r.sample_uniqueness)),
    ]
    return [
        [_(label, lang), f"{pick(before):.2%}", "" if after is None else f"{pick(after):.2%}"]
        for label, pick in measures
    ]


@app.command()
def anonymize(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="Table with a header row. / 带表头的数据表。")],
    qi: Annotated[
        str,
        typer.Option("--qi", help="Quasi-identifiers: COL,COL,... or all. / 准标识符。"),
    ],
    hierarchies: Annotated[
        Path,
        typer.Option(
            "--hierarchies", help="Folder of <anything>_hierarchy_<column>.csv (ARX format)."
        ),
    ],
    metric: Annotated[
        MetricChoice, typer.Option("--metric", help="Information-loss metric. / 信息损失度量。")
    ],
    k: Annotated[int | None, typer.Option("--k", min=1, help="k-anonymity.")] = None,
    l_div: Annotated[
        int | None, typer.Option("--l", min=1, help="Distinct l-diversity of --sensitive.")
    ] = None,
    t_close: Annotated[
        float | None,
        typer.Option("--t", min=0.0, max=1.0, help="t-closeness of --sensitive."),
    ] = None,
    sensitive: Annotated[
        str | None, typer.Option("--sensitive", help="Sensitive column. / 敏感属性列。")
    ] = None,
    suppression: Annotated[
        float,
        typer.Option("--suppression", min=0.0, max=1.0, help="Share of records that may go."),
    ] = 0.0,
    sep: SepOption = None,
    encoding: EncodingOption = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Write the anonymised table here.")
    ] = None,
    report_path: Annotated[
        Path | None,
        typer.Option("--report", help="Also write the full report (with risks) as JSON."),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Find the optimal generalisation meeting the privacy models. / 求满足隐私模型的最优泛化。"""
    cli = context_of(ctx)

    def work() -> None:
        import dataclasses
        import json

        from shugu.privacy import anonymity

        table = _read_table(file, sep, encoding)
        trees = anonymity.read_hierarchies(hierarchies)
        columns = list(table.column_names)
        chosen = _choose_qi(qi, columns, trees, sensitive)
        models: list[anonymity.PrivacyModel] = []
        if k is not None:
            models.append(anonymity.KAnonymity(k))
        if l_div is not None:
            models.append(anonymity.DistinctLDiversity(l_div))
        if t_close is not None:
            if sensitive is not None and sensitive in trees:
                models.append(anonymity.HierarchicalTCloseness(t_close))
            else:
                models.append(anonymity.EqualDistanceTCloseness(t_close))
        result = anonymity.anonymize(
            table,
            chosen,
            trees,
            models=models,
            sensitive=sensitive,
            suppression=suppression,
            metric=metric.value,
        )
        if out_path is not None:
            from shugu.privacy.ingest import open_sink

            release = result.table.to_arrow()
            with open_sink(out_path, release.schema) as sink:
                sink.write(release)
        summary = result.summary()
        if report_path is not None:
            full = summary | {
                "quasi_identifiers": chosen,
                "sensitive": sensitive,
                "models": [type(m).__name__ for m in models],
                "suppression_limit": suppression,
                "metric": metric.value,
                "exact": result.exact,
                "lattice_size": result.lattice_size,
                "risk_before": dataclasses.asdict(result.risk_before),
                "risk_after": dataclasses.asdict(result.risk_after),
            }
            report_path.write_text(json.dumps(full, indent=2) + "\n", encoding="utf-8")
        if json_output:
            print_json(summary)
            return
        lang = cli.lang
        fields(
            _(N_("Optimal transformation"), lang),
            [
                *((column, level) for column, level in result.transformation.items()),
                (_(N_("information loss"), lang), f"{result.information_loss:.10g}"),
                (
                    _(N_("relative to full generalisation"), lang),
                    f"{result.information_loss_relative:.2%}",
                ),
                (_(N_("records suppressed"), lang), result.suppressed),
                (_(N_("equivalence classes"), lang), result.equivalence_classes),
                (
                    _(N_("nodes checked"), lang),
                    f"{result.nodes_checked:,} / {result.lattice_size:,}",
                ),
                (_(N_("search time"), lang), f"{result.search_ms:.1f} ms"),
                (
                    _(N_("optimal"), lang),
                    _(N_("yes") if result.exact else N_("no (heuristic)"), lang),
                ),
            ],
        )
        table_rows = _risk_rows(lang, result.risk_before, result.risk_after)
        from shugu.cli.output import table as print_table

        print_table(
            _(N_("Re-identification risk"), lang),
            ["", _(N_("before"), lang), _(N_("after"), lang)],
            table_rows,
        )

    guard(cli.lang, work)


@app.command()
def risk(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="Table with a header row. / 带表头的数据表。")],
    qi: Annotated[
        str, typer.Option("--qi", help="Quasi-identifiers: COL,COL,... or all. / 准标识符。")
    ],
    hierarchies: Annotated[
        Path | None,
        typer.Option("--hierarchies", help="With --qi all: the columns that have hierarchy files."),
    ] = None,
    threshold: Annotated[
        float,
        typer.Option("--threshold", min=0.0, max=1.0, help="Risk above which a record is at risk."),
    ] = 0.2,
    sep: SepOption = None,
    encoding: EncodingOption = None,
    json_output: JsonFlag = False,
) -> None:
    """Re-identification risk: prosecutor, journalist, marketer. / 重识别风险评估。"""
    cli = context_of(ctx)

    def work() -> None:
        import dataclasses

        from shugu.privacy import anonymity

        table = _read_table(file, sep, encoding)
        columns = list(table.column_names)
        if qi.strip().lower() == "all":
            if hierarchies is None:
                raise NotFoundError(N_("--qi all needs --hierarchies"))
            chosen = _choose_qi(qi, columns, anonymity.read_hierarchies(hierarchies), None)
        else:
            chosen = _columns(qi)
        report = anonymity.risk(table, chosen, threshold=threshold)
        if json_output:
            print_json(dataclasses.asdict(report) | {"quasi_identifiers": chosen})
            return
        lang = cli.lang
        table_rows = [row[:2] for row in _risk_rows(lang, report, None)]
        table(
            _(N_("Re-identification risk of {file}"), lang).format(file=file),
            ["", _(N_("value"), lang)],
            table_rows,
        )
        fields(
            "",
            [
                (_(N_("records"), lang), report.records),
                (_(N_("equivalence classes"), lang), report.classes),
                (_(N_("quasi-identifiers"), lang), ", ".join(chosen)),
            ],
        )

    guard(cli.lang, work)
