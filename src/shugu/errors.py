"""The one error hierarchy of shugu. Domains raise these; the edges map them.

::

    ShuguError                  any failure shugu itself reports
    ├── InvalidInputError       the request or file is malformed or breaks a rule
    │   └── PayloadTooLargeError    the request body exceeds the configured limit
    ├── AuthenticationError     the caller cannot be established (bad, missing, replayed signature)
    ├── ForbiddenError          the caller may not do this (wrong role, revoked, not approved)
    │   └── RateLimitedError    the caller sent too many requests; retry later
    ├── NotFoundError           the thing named does not exist
    ├── ConflictError           the request clashes with the current state (duplicate, wrong state)
    ├── UnavailableError        a dependency (database, hub) cannot be reached; transient
    └── VerificationError       evidence does not check out: a tampered ledger, a forked log

Kinds are HTTP-neutral: `shugu.api.errors` maps them to status codes in one table and
`shugu.cli.output` to exit codes in another. Every error keeps its English message template and the
values it was built from, so it renders in either language and survives pickling (errors cross
process and Ray worker boundaries).

>>> from shugu.i18n import N_
>>> err = NotFoundError(N_("participant {participant} not found"), participant="01J")
>>> str(err)
'participant 01J not found'
>>> err.code
'not_found'
"""

from __future__ import annotations

from typing import Any, ClassVar

from shugu.i18n import translate

__all__ = [
    "AuthenticationError",
    "ConflictError",
    "ForbiddenError",
    "InvalidInputError",
    "NotFoundError",
    "PayloadTooLargeError",
    "RateLimitedError",
    "ShuguError",
    "UnavailableError",
    "VerificationError",
    "error_class_for_code",
]


class ShuguError(Exception):
    """Base of every error shugu reports to a user.

    Args:
        message: an English message template marked with `N_`, with `{name}` placeholders.
        **params: the values named in the template (kept as attributes for callers and logs).
    """

    code: ClassVar[str] = "error"
    transient: ClassVar[bool] = False

    def __init__(self, message: str, **params: Any) -> None:
        self.message = message
        self.params = params
        super().__init__(self.render("en"))

    def render(self, lang: str = "en") -> str:
        """Return the message in `lang` ("en" or "zh_CN") with the parameters filled in."""
        return translate(self.message, lang).format(**self.params)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.params))


def _rebuild(cls: type[ShuguError], message: str, params: dict[str, Any]) -> ShuguError:
    return cls(message, **params)


class InvalidInputError(ShuguError):
    """The input is malformed or breaks a rule; sending it again will fail again."""

    code = "invalid_input"


class PayloadTooLargeError(InvalidInputError):
    """The request body is larger than the configured limit."""

    code = "payload_too_large"


class AuthenticationError(ShuguError):
    """The caller could not be authenticated."""

    code = "unauthenticated"


class ForbiddenError(ShuguError):
    """The caller is authenticated but not allowed to do this."""

    code = "forbidden"


class RateLimitedError(ForbiddenError):
    """The caller exceeded its request rate; `retry_after` says how many seconds to wait."""

    code = "rate_limited"
    transient = True


class NotFoundError(ShuguError):
    """The named thing does not exist."""

    code = "not_found"


class ConflictError(ShuguError):
    """The request clashes with the current state."""

    code = "conflict"


class UnavailableError(ShuguError):
    """A dependency cannot be reached; the same request may succeed later."""

    code = "unavailable"
    transient = True


class VerificationError(ShuguError):
    """Cryptographic evidence does not check out (tampering, a fork, a bad signature)."""

    code = "verification_failed"


def error_class_for_code(code: str) -> type[ShuguError]:
    """Return the error class for a wire `code` (as in problem+json), `ShuguError` if unknown.

    Every subclass of `ShuguError` in the process counts, including those domains define.
    """
    pending: list[type[ShuguError]] = [ShuguError]
    while pending:
        cls = pending.pop()
        if cls.code == code:
            return cls
        pending.extend(cls.__subclasses__())
    return ShuguError
