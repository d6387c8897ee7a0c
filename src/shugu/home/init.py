"""`shugu init`: a new home with its key, a migrated hub database, the hub CA, a first operator."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from shugu.clock import Clock
from shugu.home import Home
from shugu.home.keyring import Keyring
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
    home's default identity. On any failure the new home is removed again: nothing half-made stays.
    """
    home = Home(settings.home)
    fresh = not home.root.exists() or not any(home.root.iterdir())
    kek = home.create(load_kek(settings) if settings.secret_key is not None else None)
    try:
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
        if settings.is_embedded_sqlite:
            for path in home.root.glob("hub.db*"):
                path.chmod(0o600)
    except BaseException:
        if fresh:
            shutil.rmtree(home.root, ignore_errors=True)
        else:
            (home.identities / f"{operator_name}.json").unlink(missing_ok=True)
            home.secret_file.unlink(missing_ok=True)
            home.marker_file.unlink(missing_ok=True)
        raise
    return Initialised(home, operator, certificate, ca_pem)
