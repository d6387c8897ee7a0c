"""`shugu key rotate`: seal every secret of the home again under a new key-encryption key."""

from __future__ import annotations

import typer

from shugu.cli.context import context_of
from shugu.cli.output import JsonFlag, guard, out, print_json
from shugu.i18n import _

app = typer.Typer(help="The key-encryption key. / 密钥加密密钥。", no_args_is_help=True)


@app.command()
def rotate(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Seal every secret again under a new key (not while a hub runs). / 轮换密钥加密密钥。"""
    cli = context_of(ctx)

    def work() -> dict[str, int | bool]:
        from shugu.keys.rotation import rotate as rotate_key

        report = rotate_key(cli.settings)
        return {
            "hub_keys": report.hub_keys,
            "identities": report.identities,
            "pseudonym_keys": report.pseudonym_keys,
            "session_keys": report.session_keys,
            "key_file_replaced": report.key_file_replaced,
            "resumed": report.resumed,
        }

    report = guard(cli.lang, work)
    if json_output:
        print_json(report)
        return
    out.print(
        _(
            "sealed again under the new key: {hub_keys} hub keys, {identities} identities, "
            "{pseudonym_keys} pseudonymisation keys, {session_keys} PEP session keys",
            cli.lang,
            **report,
        )
    )
    if not report["key_file_replaced"]:
        out.print(
            _(
                "the key comes from SHUGU_SECRET_KEY: remove SHUGU_PREVIOUS_SECRET_KEYS now",
                cli.lang,
            )
        )
