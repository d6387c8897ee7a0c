"""Serving an ASGI application from the CLI (`shugu up`, `shugu pep transcryptor up`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from shugu.cli.context import CliContext
from shugu.cli.output import err, guard
from shugu.i18n import _

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from shugu.settings import Settings


def serve(
    cli: CliContext, build: Callable[[Settings], ASGIApp], host: str | None, port: int | None
) -> None:
    """Configure logging, build the application from the settings with the address it listens
    on (errors become messages and exit codes), and serve it with uvicorn: HTTPS only when both
    TLS files are set."""
    import uvicorn

    from shugu.log import configure_logging

    settings = cli.settings
    configure_logging(settings.log_level, json_lines=settings.log_json)
    tls = settings.tls_cert_file is not None and settings.tls_key_file is not None
    bind_host, bind_port = host or settings.host, port if port is not None else settings.port
    served = settings.model_copy(update={"host": bind_host, "port": bind_port})
    application = guard(cli.lang, lambda: build(served))
    err.print(
        _("serving {url}", cli.lang, url=f"{'https' if tls else 'http'}://{bind_host}:{bind_port}")
    )
    uvicorn.run(
        application,
        host=bind_host,
        port=bind_port,
        log_config=None,
        access_log=False,
        ssl_certfile=str(settings.tls_cert_file) if tls else None,
        ssl_keyfile=str(settings.tls_key_file) if tls else None,
    )
