"""`shugu init`: a new home with its key, a migrated hub database, the hub CA, a first operator."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from shugu.clock import Clock
from shugu.errors import ConflictError
from shugu.home import Home
from shugu.home.keyring import Keyring
from shugu.i18n import N_
from shugu.identity import Application, Certificate, Participant, Role
from shugu.keys import load_kek
from shugu.runtime import Hub
from shugu.settings import Settings


@dataclass(frozen=True, slots=True)
class Initialised:
    """What `initialise` made."""

    home: Home
    operator: Participant
    certificate: Certificate
    ca_certificate_pem: str


def initialise(
    settings: Settings, *, operator_name: str, display_name: str, clock: Clock | None = None
) -> Initialised:
    """Create the home, the hub database and CA, and the space's first operator.

    The operator's key is generated here and kept (sealed) in the home's keyring; it becomes the
    home's default identity. The home is built in a hidden folder beside it and renamed into
    place at the end, so an `init` that fails or is killed part-way leaves no home at all (a
    leftover hidden folder is removed by the next `init`), never a half-made one.

    Raises:
        ConflictError: the home is already initialised, or is a folder that is not empty.
    """
    target = Home(settings.home)
    if target.is_initialised():
        raise ConflictError(N_("{home} is already initialised"), home=str(target.root))
    if target.root.exists() and (not target.root.is_dir() or any(target.root.iterdir())):
        raise ConflictError(
            N_("{home} is not empty; `shugu init` needs a new or empty folder"),
            home=str(target.root),
        )
    target.root.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(target.root)
    staging = Path(tempfile.mkdtemp(prefix=_staging_prefix(target.root), dir=target.root.parent))
    try:
        made = _build(
            settings.model_copy(update={"home": staging}), operator_name, display_name, clock
        )
        staging.chmod(0o700)
        try:
            staging.replace(target.root)  # atomic; an empty folder there is replaced
        except OSError as exc:  # another `init` got there first
            raise ConflictError(N_("{home} is already initialised"), home=str(target.root)) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Initialised(target, made.operator, made.certificate, made.ca_certificate_pem)


def _staging_prefix(root: Path) -> str:
    return f".{root.name}.init-"


def _remove_stale_staging(root: Path) -> None:
    """Remove the hidden folders of earlier `init` runs on `root` that were killed."""
    for stale in root.parent.glob(_staging_prefix(root) + "*"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)


def _build(
    settings: Settings, operator_name: str, display_name: str, clock: Clock | None
) -> Initialised:
    home = Home(settings.home)
    kek = home.create(load_kek(settings) if settings.secret_key is not None else None)
    keyring = Keyring(home.identities, kek)
    identity = keyring.create(operator_name)
    hub = Hub.open(settings, clock)
    try:
        application = Application(
            operator_name, display_name, (Role.OPERATOR.value,), identity.public_key
        )
        operator, certificate = hub.identity.bootstrap_operator(application)
        ca_pem = hub.identity.ca_certificate_pem()
    finally:
        hub.close()
    keyring.save(type(identity)(identity.name, operator.id, identity.key, certificate.pem))
    home.write_preferences(default_identity=operator_name)
    for path in home.root.glob("hub.db*"):
        path.chmod(0o600)
    return Initialised(home, operator, certificate, ca_pem)
