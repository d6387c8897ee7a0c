"""Which signed request produces which event: the table an audit checks each entry's evidence
against.

An entry's `evidence` is the HTTP request that caused it, signed by whoever sent it. The
signature alone says only that the signer sent *some* request; this table says which request
(method and path template) produces each event type, who must have signed it, and which request
parameters name the entry's subjects. An event type that carries evidence but is not here fails
the audit: the table must name every type the code base records with evidence (a test walks the
code base to keep it so).

The ledger knows no HTTP router; the paths are data, kept in step with `api/` by the tests.

>>> match("identity.participant.approved", "POST", "/v1/participants/01ABC/approve", "").subjects
('01ABC',)
>>> match("identity.participant.approved", "POST", "/v1/participants/01ABC/reject", "") is None
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qs


class Signer(StrEnum):
    """Whose key must have signed the request."""

    ACTOR = "actor"
    """The entry's actor (`keyid` = its participant id), with the key its certificate certifies."""
    APPLICANT = "applicant"
    """The key being registered (`keyid` = ``key:`` + the key); the payload names its SHA-256."""
    HUB = "hub"
    """The hub's PEP client key: a stand-alone transcryptor's own ledger (actor `null`)."""


@dataclass(frozen=True, slots=True)
class Binding:
    """The request that produces one event type."""

    type: str
    method: str
    path: str
    """Path template; ``{name}`` matches one path segment."""
    signer: Signer
    subjects: tuple[str, ...] | None
    """Where each subject comes from, in order: ``{name}`` of the path, ``?name`` of the query,
    ``actor`` for the entry's actor; `None` when they come from the body, which the ledger does
    not keep (then only the method and path are checked)."""


BINDINGS: dict[str, Binding] = {
    b.type: b
    for b in (
        Binding(
            "identity.participant.applied",
            "POST",
            "/v1/participants/applications",
            Signer.APPLICANT,
            ("actor",),
        ),
        Binding(
            "identity.participant.approved",
            "POST",
            "/v1/participants/{participant}/approve",
            Signer.ACTOR,
            ("{participant}",),
        ),
        Binding(
            "identity.participant.rejected",
            "POST",
            "/v1/participants/{participant}/reject",
            Signer.ACTOR,
            ("{participant}",),
        ),
        Binding(
            "identity.participant.revoked",
            "POST",
            "/v1/participants/{participant}/revoke",
            Signer.ACTOR,
            ("{participant}",),
        ),
        Binding("pep.transcription", "POST", "/v1/pep/transcrypt", Signer.ACTOR, None),
        Binding("pep.transcription.refused", "POST", "/v1/pep/transcrypt", Signer.ACTOR, None),
        Binding("pep.session_key.issued", "POST", "/v1/pep/session-key", Signer.ACTOR, None),
        Binding("pep.transcryptor.joined", "POST", "/v1/transcryptor/blind", Signer.HUB, ()),
        Binding(
            "pep.transcryptor.transcription",
            "POST",
            "/v1/transcryptor/transcrypt",
            Signer.HUB,
            ("?job",),
        ),
        Binding(
            "pep.transcryptor.share_issued",
            "POST",
            "/v1/transcryptor/session-key-share",
            Signer.HUB,
            None,
        ),
    )
}
"""Every event type recorded with HTTP-signature evidence."""

APPLICATION = Binding(
    "identity.participant.application", "POST", "/v1/applications", Signer.APPLICANT, ("actor",)
)
"""The request a nested signed application (``payload.application``) must be (applications
moved here from ``/v1/participants/applications``, which the legacy ``applied`` entries name)."""

LEGACY_TYPES = frozenset({"identity.participant.applied"})
"""Types the code no longer records but older ledgers hold: an application used to be an entry
of its own; it now rides in the operator's decision (``payload.application``)."""

UNSIGNED_BY_DESIGN = frozenset({"identity.participant.bootstrapped"})
"""Types that name an actor but carry no signature: `shugu init` makes them locally."""


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[a-z_]+\})", template)
    regex = "".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(regex)


_PATTERNS = {t: _pattern(b.path) for t, b in BINDINGS.items()}


@dataclass(frozen=True, slots=True)
class RequestMatch:
    """A request that produces an event type, and the subjects it names."""

    binding: Binding
    subjects: tuple[str, ...] | None
    """`None` when the subjects come from the body (not kept, so not compared)."""


def match(
    type_: str, method: str, path: str, query: str, actor: str | None = None
) -> RequestMatch | None:
    """How the request binds to `type_`, or `None` if it does not produce that type."""
    binding = BINDINGS.get(type_)
    if binding is None or method.upper() != binding.method:
        return None
    found = _PATTERNS[type_].fullmatch(path)
    if found is None:
        return None
    if binding.subjects is None:
        return RequestMatch(binding, None)
    params = parse_qs(query, keep_blank_values=True)
    subjects: list[str] = []
    for source in binding.subjects:
        value = _subject(source, found, params, actor)
        if value is None:
            return None
        subjects.append(value)
    return RequestMatch(binding, tuple(subjects))


def _subject(
    source: str, found: re.Match[str], params: dict[str, list[str]], actor: str | None
) -> str | None:
    if source == "actor":
        return actor
    if source.startswith("?"):
        values = params.get(source[1:], [])
        return values[0] if len(values) == 1 else None
    return found.group(source[1:-1])
