"""Who may link which pseudonymisation domains: the link policy and the operator's grants.

Two parties meet in a job, and the policy keeps them apart:

- **submitters** (the holders whose data is linked) send ciphertexts under the global key X into
  a pseudonymisation domain;
- **key receivers** (the job's runner) receive the key of the job's sessions and decrypt what was
  moved there.

A party that could do both could encrypt identifiers of its choice under X (X is public), move
them into the domain, decrypt them and compare: a dictionary attack on every patient number it
can guess. So, for every domain, the parties that may submit into it and the parties that may
receive a key decrypting in it are disjoint, across all jobs and grants. A session key of job J
opens every batch moved into J's sessions, whatever their target domain, so a key receiver of J
counts as a key receiver in every domain any grant of J names.

`GrantListPolicy` is the stand-in of this release, read from ``<home>/pep-links.json``::

    {"grants": [{"job": "study-1", "domains": ["study-1"],
                 "submitters": ["hospital-a", "pharmacy-b"], "key_receivers": ["runner"]}]}

Participants are named by their registered name (unique, never changed), never by id, and
never by a wildcard: one form lets the whole file be checked for overlaps when it is read, and a
wildcard would overlap everything. A file that makes anyone both, in the old ``callers`` form,
or with unknown keys is refused with a message saying what to change; no file refuses every
request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from shugu.errors import InvalidInputError, ShuguError
from shugu.i18n import N_, translate
from shugu.identity.service import NAME as PARTICIPANT_NAME

__all__ = [
    "NAME",
    "GrantListPolicy",
    "GrantsRefusedError",
    "LinkAction",
    "LinkDecision",
    "LinkGrant",
    "LinkPolicy",
    "LinkRequest",
    "check_name",
    "load_grants",
]

NAME = re.compile(r"^[^\x00-\x1f\x7f#]{1,200}$")
"""A job, session or domain name."""
GRANT_KEYS = frozenset({"job", "domains", "submitters", "key_receivers"})


class LinkAction(StrEnum):
    """What a caller asks to do in a job."""

    SUBMIT = "submit"
    """Send ciphertexts into the request's domains (a transcription)."""
    RECEIVE_KEY = "receive_key"
    """Receive the key of one of the job's sessions."""


class LinkDecision(StrEnum):
    """A policy's answer."""

    ALLOWED = "allowed"
    NOT_GRANTED = "not_granted"
    """No grant covers the request."""
    KEY_RECEIVER = "key_receiver"
    """A submission by a party that receives keys decrypting in one of its domains: the shape
    of a dictionary attack, refused and recorded on the ledger."""


@dataclass(frozen=True, slots=True)
class LinkRequest:
    """The question put to a `LinkPolicy`: may `caller` do `action` in `job` for `domains`?"""

    caller_id: str
    caller_name: str
    job: str
    action: LinkAction
    domains: frozenset[str] = frozenset()
    """The domains a submission touches (without the global domain); empty for a key."""


class LinkPolicy(Protocol):
    """Decides who may submit into a job's domains and who may receive its session keys.

    Any policy must keep the two apart per domain: a submission by a party that may receive a
    key decrypting in one of the request's domains is `LinkDecision.KEY_RECEIVER`.
    """

    def decide(self, request: LinkRequest) -> LinkDecision:
        """The answer to `request`."""
        ...


def check_name(value: object, what: str) -> str:
    """`value` if it is a job, session or domain name.

    Raises:
        InvalidInputError: not 1 to 200 characters without control characters or '#'.
    """
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise InvalidInputError(
            N_("the {what} name must be 1 to 200 characters without control characters or '#'"),
            what=what,
        )
    return value


@dataclass(frozen=True, slots=True)
class LinkGrant:
    """One grant: `submitters` may submit into any of `domains` for `job`, and `key_receivers`
    may receive the keys of `job`'s sessions. Participants are named by their registered name."""

    job: str
    domains: frozenset[str]
    submitters: frozenset[str]
    key_receivers: frozenset[str]

    def __post_init__(self) -> None:
        check_name(self.job, "job")
        if not self.domains:
            raise InvalidInputError(N_("the grant for job {job} names no domain"), job=self.job)
        for domain in self.domains:
            check_name(domain, "domain")
        for what, names in (("submitters", self.submitters), ("key_receivers", self.key_receivers)):
            for name in names:
                _check_participant(self.job, what, name)


def _check_participant(job: str, what: str, name: object) -> None:
    if name == "*":
        raise InvalidInputError(
            N_(
                "the grant for job {job}: '*' is not allowed in {field}; name each participant, "
                "since a wildcard would make everyone both a submitter and a key receiver"
            ),
            job=job,
            field=what,
        )
    if not isinstance(name, str) or not PARTICIPANT_NAME.fullmatch(name):
        raise InvalidInputError(
            N_(
                "the grant for job {job}: {value} in {field} is not a participant name; grants "
                "name participants by their registered name (lower-case letters, digits and "
                "hyphens), not by id"
            ),
            job=job,
            value=json.dumps(name, ensure_ascii=False),
            field=what,
        )


@dataclass(frozen=True, slots=True)
class GrantListPolicy:
    """The stand-in `LinkPolicy`: a list of grants, none refusing everything.

    Built only if no participant is both a submitter and a key receiver in one domain, across
    all grants (`InvalidInputError` otherwise); requests are checked against the same rule.
    """

    grants: tuple[LinkGrant, ...] = ()
    _key_domains: Mapping[str, frozenset[str]] = field(init=False, repr=False, compare=False)
    _key_jobs: Mapping[str, frozenset[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        key_jobs = _index(self.grants)
        domains_of = _domains_by_job(self.grants)
        key_domains = {
            name: frozenset[str]().union(*(domains_of[job] for job in jobs))
            for name, jobs in key_jobs.items()
        }
        object.__setattr__(self, "_key_jobs", key_jobs)
        object.__setattr__(self, "_key_domains", key_domains)
        for grant in self.grants:
            for name in sorted(grant.submitters):
                overlap = grant.domains & key_domains.get(name, frozenset())
                if overlap:
                    raise _both(name, min(overlap), grant.job, key_jobs[name], domains_of)

    def decide(self, request: LinkRequest) -> LinkDecision:
        """Allowed if a grant covers the request; a key receiver's submission into a domain its
        keys decrypt in (or into its job) is `KEY_RECEIVER`."""
        name = request.caller_name
        if request.action is LinkAction.RECEIVE_KEY:
            granted = any(g.job == request.job and name in g.key_receivers for g in self.grants)
            return LinkDecision.ALLOWED if granted else LinkDecision.NOT_GRANTED
        if request.domains & self._key_domains.get(name, frozenset()) or (
            request.job in self._key_jobs.get(name, frozenset())
        ):
            return LinkDecision.KEY_RECEIVER
        covered = any(
            g.job == request.job and name in g.submitters and request.domains <= g.domains
            for g in self.grants
        )
        return LinkDecision.ALLOWED if covered else LinkDecision.NOT_GRANTED

    def key_domains(self, name: str) -> frozenset[str]:
        """The domains in which the keys `name` may receive decrypt."""
        return self._key_domains.get(name, frozenset())


def _index(grants: Iterable[LinkGrant]) -> dict[str, frozenset[str]]:
    jobs: dict[str, set[str]] = {}
    for grant in grants:
        for name in grant.key_receivers:
            jobs.setdefault(name, set()).add(grant.job)
    return {name: frozenset(found) for name, found in jobs.items()}


def _domains_by_job(grants: Iterable[LinkGrant]) -> dict[str, frozenset[str]]:
    domains: dict[str, set[str]] = {}
    for grant in grants:
        domains.setdefault(grant.job, set()).update(grant.domains)
    return {job: frozenset(found) for job, found in domains.items()}


def _both(
    name: str,
    domain: str,
    submit_job: str,
    key_jobs: frozenset[str],
    domains_of: Mapping[str, frozenset[str]],
) -> InvalidInputError:
    keyed = sorted(job for job in key_jobs if domain in domains_of[job])
    return InvalidInputError(
        N_(
            "{participant} would both submit into domain {domain} (job {submit_job}) and receive "
            "session keys that decrypt in it (job {key_jobs}); a participant may be a submitter "
            "or a key receiver of a domain, never both"
        ),
        participant=name,
        domain=domain,
        submit_job=submit_job,
        key_jobs=", ".join(keyed),
    )


class GrantsRefusedError(InvalidInputError):
    """The operator's grants file is refused; `reason` (an error) is rendered in the same
    language as the message."""

    def render(self, lang: str = "en") -> str:
        """The message in `lang`, the reason included."""
        params = {
            key: value.render(lang) if isinstance(value, ShuguError) else value
            for key, value in self.params.items()
        }
        return translate(self.message, lang).format(**params)


def load_grants(path: Path) -> GrantListPolicy:
    """Read the operator's grants (the module docstring shows the form).

    A missing file gives the policy that refuses everything.

    Raises:
        InvalidInputError: the file is not valid JSON of that shape, uses the old ``callers``
            form, names a participant by id or wildcard, or makes a participant both a
            submitter and a key receiver of a domain.
    """
    if not path.exists():
        return GrantListPolicy()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInputError(
            N_("cannot read the PEP link grants in {path}: {reason}"),
            path=str(path),
            reason=str(exc),
        ) from exc
    try:
        return GrantListPolicy(tuple(_grant(item) for item in _grant_items(data)))
    except InvalidInputError as exc:
        raise GrantsRefusedError(
            N_("the PEP link grants in {path} are refused: {reason}"), path=str(path), reason=exc
        ) from exc


def _grant_items(data: object) -> list[object]:
    if not isinstance(data, dict) or not isinstance(data.get("grants"), list):
        raise InvalidInputError(N_('the file must hold {{"grants": [...]}}'))
    items: list[object] = data["grants"]
    return items


def _grant(item: object) -> LinkGrant:
    if isinstance(item, dict) and "callers" in item:
        raise InvalidInputError(
            N_(
                'it uses the old form "callers"; rewrite each grant as {{"job", "domains", '
                '"submitters": [the holders whose data is linked], "key_receivers": [the '
                "job's runner]}}, with no participant in both"
            )
        )
    if not isinstance(item, dict) or set(item) != GRANT_KEYS:
        keys = sorted(item) if isinstance(item, dict) else []
        raise InvalidInputError(
            N_("each grant has exactly the keys {expected}, not {keys}"),
            expected=", ".join(sorted(GRANT_KEYS)),
            keys=", ".join(map(str, keys)) or "-",
        )
    lists = {key: item[key] for key in ("domains", "submitters", "key_receivers")}
    for key, value in lists.items():
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidInputError(N_("{field} must be a list of text"), field=key)
    return LinkGrant(
        item["job"],
        frozenset(lists["domains"]),
        frozenset(lists["submitters"]),
        frozenset(lists["key_receivers"]),
    )
