"""What a server requires of a live signed request before it looks at the key: addressed to
one of its own names, and fresh."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shugu.errors import AuthenticationError
from shugu.i18n import N_
from shugu.signing import httpsig

if TYPE_CHECKING:
    from shugu.signing.models import SignedRequest


@dataclass(frozen=True, slots=True)
class SignaturePolicy:
    """A server's acceptance rules for signed requests.

    Attributes:
        authorities: the `@authority` names it answers to (`shugu.signing.authority`).
        max_age_seconds: how old a signature may be.
        max_skew_seconds: how far in the future its `created` may lie.
    """

    authorities: frozenset[str]
    max_age_seconds: int = 300
    max_skew_seconds: int = 30

    @property
    def window(self) -> timedelta:
        """How long a signature stays acceptable (the replay guard remembers it that long)."""
        return timedelta(seconds=self.max_age_seconds + self.max_skew_seconds)

    def check(self, request: SignedRequest, now: datetime) -> httpsig.SignatureInput:
        """Parse the request's signature, check it is addressed here and fresh at `now`.

        Raises:
            AuthenticationError: unsigned, malformed, addressed to another server, expired or
                from the future.
        """
        parsed = httpsig.parse(request.signature_input, request.signature)
        self.check_addressed(request)
        httpsig.check_fresh(
            parsed, now.timestamp(), max_age=self.max_age_seconds, max_skew=self.max_skew_seconds
        )
        return parsed

    def check_addressed(self, request: SignedRequest) -> None:
        """Refuse a request sent to a name this server does not answer to.

        Raises:
            AuthenticationError: `request.authority` is not one of `authorities`.
        """
        if request.authority not in self.authorities:
            raise AuthenticationError(
                N_(
                    "this request is addressed to {authority}, not to this server ({expected}); "
                    "a request signed for another server is refused"
                ),
                authority=request.authority or "-",
                expected=", ".join(sorted(self.authorities)) or "-",
            )
