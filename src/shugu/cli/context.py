"""What every CLI command receives: settings, language, the identity to act as, a hub client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import typer
from pydantic import ValidationError

from shugu.client import HubClient, SigningAuth
from shugu.errors import InvalidInputError, NotFoundError
from shugu.home import Home
from shugu.home.keyring import Keyring, LocalIdentity
from shugu.i18n import N_, lang_from_environment, normalize_lang
from shugu.keys import load_kek
from shugu.settings import Settings

EMBEDDED_URL = "http://embedded.shugu"


@dataclass(frozen=True, slots=True)
class CliContext:
    """The global options, resolved."""

    settings: Settings
    lang: str
    as_name: str | None

    @classmethod
    def build(
        cls, *, home: Path | None, as_name: str | None, lang: str | None, hub: str | None
    ) -> CliContext:
        """Resolve the global options against the `SHUGU_*` environment."""
        overrides: dict[str, Any] = {}
        if home is not None:
            overrides["home"] = home.expanduser()
        if hub is not None:
            overrides["hub_url"] = hub
        try:
            settings = Settings(**overrides)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise InvalidInputError(
                N_("invalid setting SHUGU_{name}: {reason}"),
                name="__".join(str(p) for p in first["loc"]).upper(),
                reason=first["msg"],
            ) from exc
        chosen = lang or settings.lang
        resolved = normalize_lang(chosen) if chosen else lang_from_environment()
        return cls(settings=settings, lang=resolved, as_name=as_name)

    @property
    def home(self) -> Home:
        """The home folder."""
        return Home(self.settings.home)

    def keyring(self) -> Keyring:
        """The identities of this home."""
        return Keyring(self.home.identities, load_kek(self.settings))

    def identity(self) -> LocalIdentity:
        """The identity chosen with `--as`, else the home's default one."""
        name = self.as_name or self.home.read_preferences().get("default_identity")
        keyring = self.keyring()
        if not name:
            raise InvalidInputError(
                N_("choose an identity with --as NAME (known here: {known})"),
                known=", ".join(keyring.names()) or "-",
            )
        identity = keyring.load(str(name))
        if identity.participant_id is None:
            raise NotFoundError(
                N_("identity {name} has no participant id; its application did not complete"),
                name=identity.name,
            )
        return identity

    @asynccontextmanager
    async def client(self, identity: LocalIdentity | None = None) -> AsyncIterator[HubClient]:
        """A hub client signing as `identity`: remote when `--hub` is set, else in-process."""
        auth = None
        if identity is not None and identity.participant_id is not None:
            auth = SigningAuth(identity.key, identity.participant_id)
        if self.settings.hub_url:
            async with HubClient(self.settings.hub_url, auth=auth, lang=self.lang) as client:
                yield client
            return
        from shugu.api import create_app  # the embedded hub is only built when needed

        app = create_app(self.settings)
        transport = httpx.ASGITransport(app=app)
        try:
            async with HubClient(
                EMBEDDED_URL, transport=transport, auth=auth, lang=self.lang
            ) as client:
                yield client
        finally:
            app.state.hub.hub.close()


def context_of(ctx: typer.Context) -> CliContext:
    """The resolved global options of a command (set by the root callback)."""
    cli: CliContext = ctx.obj
    return cli
