"""Identity: participants, roles, keys, the hub CA and its certificates, request authentication."""

from shugu.identity.models import (
    Certificate,
    Participant,
    ParticipantStatus,
    Principal,
    Role,
)
from shugu.identity.service import (
    Application,
    IdentityConfig,
    IdentityService,
    SignedRequest,
    self_key_id,
)

__all__ = [
    "Application",
    "Certificate",
    "IdentityConfig",
    "IdentityService",
    "Participant",
    "ParticipantStatus",
    "Principal",
    "Role",
    "SignedRequest",
    "self_key_id",
]
