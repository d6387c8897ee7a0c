"""The hub's side of a transcryptor that runs as its own process (`shugu pep transcryptor up`).

Each call is an RFC 9421 signed request with the hub's PEP client key (``pep-client`` in
`hub_keys`), which the transcryptor was told to trust when it was set up; the transcryptor
refuses every other signer. The signature covers the authority of the server's URL in the
chain, so a request to one transcryptor is refused by every other. Batches travel as raw bytes
(``application/octet-stream``) with the
move in the signed query string; the answer carries the batch's new public key in the
``Shugu-Public-Key`` header.

Errors of the transcryptor are reported as the transcryptor's (503), not as the caller's: a
refused signature there is the operator's configuration, not the caller's. The one exception is
an invalid ciphertext, which is the caller's (400), named with the transcryptor.

Wire format (prefix ``/v1/transcryptor``):

- ``GET`` → ``{"name", "version", "joined", "hub_key"}``;
- ``POST /blind`` ``{"point"}`` (hex) → ``{"transcryptor", "point"}``: bᵢ·P, once per system;
- ``POST /transcrypt?domain_to&session_to&public_key&shuffle&job&on_behalf_of`` (and
  ``domain_from``, ``route`` when there are) with the packed ciphertexts → the packed result,
  its public key in ``Shugu-Public-Key``, its name in ``Shugu-Transcryptor``;
- ``POST /session-key-share`` ``{"context", "public_key", "recipient_key", "job",
  "on_behalf_of"}`` → ``{"transcryptor", "session", "sealed", "public_key"}``.
"""

from __future__ import annotations

import base64
import ssl
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shugu import __version__
from shugu.client import SigningAuth, raise_for_problem
from shugu.errors import (
    ConflictError,
    InvalidInputError,
    PayloadTooLargeError,
    ShuguError,
    UnavailableError,
)
from shugu.i18n import N_
from shugu.pep.batch import EncryptedBatch
from shugu.pep.group import GroupElement
from shugu.pep.ports import ShareAnswer
from shugu.pep.sharing import SealedShare
from shugu.signing.httpsig import self_key_id

__all__ = ["PREFIX", "PUBLIC_KEY_HEADER", "RemoteTranscryptor"]

PREFIX = "/v1/transcryptor"
PUBLIC_KEY_HEADER = "Shugu-Public-Key"
NAME_HEADER = "Shugu-Transcryptor"
OCTETS = "application/octet-stream"
TIMEOUT = httpx.Timeout(300.0, connect=5.0)


class RemoteTranscryptor:
    """A transcryptor behind its own server, called with the hub's PEP client key.

    Args:
        name: the name the system knows it by (its server must report the same).
        url: its base URL (``https://…`` in production).
        key: the hub's PEP client key.
        verify: TLS verification: True (the system's CAs) or a CA bundle path.
        transport: an httpx transport (tests: the server app in-process).
    """

    __slots__ = ("_http", "_name", "url")

    def __init__(
        self,
        name: str,
        url: str,
        key: Ed25519PrivateKey,
        *,
        verify: bool | str = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._name = name
        self.url = url.rstrip("/")
        auth = SigningAuth(key, self_key_id(key.public_key().public_bytes_raw()))
        self._http = httpx.Client(
            base_url=self.url,
            auth=auth,
            timeout=TIMEOUT,
            verify=ssl.create_default_context(cafile=verify) if isinstance(verify, str) else verify,
            transport=transport,
            headers={"User-Agent": f"shugu-hub/{__version__}"},
        )

    def __repr__(self) -> str:
        return f"RemoteTranscryptor({self._name!r}, {self.url!r})"

    @property
    def name(self) -> str:
        """Its name in the system."""
        return self._name

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, PREFIX + path, **kwargs)
        except httpx.TransportError as exc:
            raise UnavailableError(
                N_("transcryptor {transcryptor} at {url} cannot be reached: {reason}"),
                transcryptor=self._name,
                url=self.url,
                reason=str(exc) or type(exc).__name__,
            ) from exc
        try:
            raise_for_problem(response)
        except ShuguError as exc:
            raise self._as_ours(exc) from exc
        return response

    def _as_ours(self, exc: ShuguError) -> ShuguError:
        """A problem answer of the server as the hub reports it: an invalid ciphertext is the
        caller's (400) and a conflict stays one, both named with the transcryptor; anything else,
        a batch over its limit included, is the server's (503)."""
        reason = exc.render("en")
        if isinstance(exc, ConflictError | InvalidInputError) and not isinstance(
            exc, PayloadTooLargeError
        ):
            kind = ConflictError if isinstance(exc, ConflictError) else InvalidInputError
            return kind(
                N_("transcryptor {transcryptor}: {reason}"), transcryptor=self._name, reason=reason
            )
        return UnavailableError(
            N_("transcryptor {transcryptor} at {url} failed: {reason}"),
            transcryptor=self._name,
            url=self.url,
            reason=reason,
        )

    def _unexpected(self) -> UnavailableError:
        return UnavailableError(
            N_("transcryptor {transcryptor} at {url} gave an unexpected answer"),
            transcryptor=self._name,
            url=self.url,
        )

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
            if isinstance(body, dict) and body.get("transcryptor", self._name) == self._name:
                return body
        except ValueError:
            pass
        raise self._unexpected()

    def info(self) -> dict[str, Any]:
        """Its name, version and whether it has joined a system.

        Raises:
            UnavailableError: unreachable, or it is another transcryptor than configured.
        """
        body = self._json(self._call("GET", ""))
        if body.get("name") != self._name:
            raise UnavailableError(
                N_("the transcryptor at {url} is {actual}, not {transcryptor}"),
                url=self.url,
                actual=str(body.get("name")),
                transcryptor=self._name,
            )
        return body

    def blind(self, point: GroupElement) -> GroupElement:
        """bᵢ·P, computed by the transcryptor (it answers once per system)."""
        self.info()
        body = self._json(self._call("POST", "/blind", json={"point": point.hex()}))
        return self._point(body.get("point"))

    def _point(self, text: object) -> GroupElement:
        try:
            return GroupElement.from_hex(str(text))
        except (InvalidInputError, ValueError) as exc:
            raise self._unexpected() from exc

    def transcrypt(
        self,
        batch: EncryptedBatch,
        *,
        domain_from: str | None,
        domain_to: str,
        session_to: str,
        shuffle: bool,
        job: str,
        on_behalf_of: str,
    ) -> EncryptedBatch:
        """Its rsk of `batch`, done by the transcryptor."""
        params = {
            "domain_to": domain_to,
            "session_to": session_to,
            "public_key": batch.public_key.hex(),
            "shuffle": "true" if shuffle else "false",
            "job": job,
            "on_behalf_of": on_behalf_of,
        }
        if domain_from is not None:
            params["domain_from"] = domain_from
        if batch.route:
            params["route"] = ",".join(batch.route)
        response = self._call(
            "POST",
            "/transcrypt",
            params=params,
            content=batch.ciphertexts,
            headers={"Content-Type": OCTETS},
        )
        public_key = self._point(response.headers.get(PUBLIC_KEY_HEADER))
        same = response.headers.get(NAME_HEADER) == self._name
        if not same or len(response.content) != len(batch.ciphertexts):
            raise self._unexpected()
        return EncryptedBatch(response.content, public_key, (*batch.route, self._name))

    def session_key_share(
        self,
        context: str,
        public_key: GroupElement,
        recipient: bytes | None,
        *,
        job: str,
        on_behalf_of: str,
    ) -> ShareAnswer:
        """Its share sealed to `recipient`, and kᵢ(c)·`public_key`.

        Raises:
            InvalidInputError: no recipient key (a remote share is never sent in clear).
        """
        if recipient is None:
            raise InvalidInputError(
                N_(
                    "transcryptor {transcryptor} runs on its own: a session key request must "
                    "carry a recipient key for its share"
                ),
                transcryptor=self._name,
            )
        document = {
            "context": context,
            "public_key": public_key.hex(),
            "recipient_key": recipient.hex(),
            "job": job,
            "on_behalf_of": on_behalf_of,
        }
        body = self._json(self._call("POST", "/session-key-share", json=document))
        try:
            sealed = base64.b64decode(str(body["sealed"]), validate=True)
        except (KeyError, ValueError) as exc:
            raise self._unexpected() from exc
        share = SealedShare(self._name, context, sealed)
        return ShareAnswer(share, self._point(body.get("public_key")))

    def close(self) -> None:
        """Close its connections."""
        self._http.close()
