"""Identity: participants, roles, keys, the hub CA and its certificates, request authentication
(signed requests themselves are `shugu.signing`'s).

The names below load on first use, so that light users of this package do not load the
database models.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shugu.identity.models import Certificate as Certificate
    from shugu.identity.models import Participant as Participant
    from shugu.identity.models import ParticipantStatus as ParticipantStatus
    from shugu.identity.models import Principal as Principal
    from shugu.identity.models import Role as Role
    from shugu.identity.service import Application as Application
    from shugu.identity.service import IdentityConfig as IdentityConfig
    from shugu.identity.service import IdentityService as IdentityService

_WHERE = {
    "Application": "service",
    "Certificate": "models",
    "IdentityConfig": "service",
    "IdentityService": "service",
    "Participant": "models",
    "ParticipantStatus": "models",
    "Principal": "models",
    "Role": "models",
}

__all__ = [
    "Application",
    "Certificate",
    "IdentityConfig",
    "IdentityService",
    "Participant",
    "ParticipantStatus",
    "Principal",
    "Role",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"shugu.identity.{_WHERE[name]}"), name)
    raise AttributeError(name)
