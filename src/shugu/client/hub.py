"""The typed client of the hub API, used by the CLI (and later by connectors and witnesses).

Requests are signed per RFC 9421 by `SigningAuth`. Problem responses are raised again as the
matching `ShuguError`, so a caller handles a remote error exactly like a local one. Against an
embedded home the transport is `httpx.ASGITransport` over the hub app: the same API, in-process.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Generator
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shugu.clock import Clock, SystemClock
from shugu.errors import ShuguError, UnavailableError, error_class_for_code
from shugu.i18n import N_
from shugu.signing import httpsig
from shugu.signing.authority import normalise
from shugu.signing.httpsig import self_key_id

TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class SigningAuth(httpx.Auth):
    """Sign each request with an Ed25519 key as `key_id`, for the server it is sent to (its
    `@authority`), so that it cannot be replayed to another."""

    requires_request_body = True

    def __init__(self, key: Ed25519PrivateKey, key_id: str, clock: Clock | None = None) -> None:
        self._key = key
        self._key_id = key_id
        self._clock = clock or SystemClock()

    def __repr__(self) -> str:
        return f"SigningAuth(key_id={self._key_id!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Sign `request` for the authority of the URL it is sent to."""
        url = request.url
        path, _, query = url.raw_path.decode("ascii").partition("?")
        headers = httpsig.sign(
            self._key,
            key_id=self._key_id,
            method=request.method,
            authority=normalise(url.scheme, url.host, url.port),
            path=path,
            query=query,
            body=request.content,
            created=int(self._clock.now().timestamp()),
        )
        request.headers.update(headers)
        yield request


def applicant_auth(key: Ed25519PrivateKey, clock: Clock | None = None) -> SigningAuth:
    """Auth for an application: signed by the key being registered."""
    return SigningAuth(key, self_key_id(key.public_key().public_bytes_raw()), clock)


def raise_for_problem(response: httpx.Response) -> None:
    """Raise the `ShuguError` a problem response describes (nothing on success)."""
    if response.is_success:
        return
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = {}
    if not isinstance(body, dict) or "code" not in body:
        raise UnavailableError(
            N_("the hub answered {status} without an error description"),
            status=response.status_code,
        )
    cls = error_class_for_code(str(body["code"]))
    raw_params = body.get("params")
    params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
    message = str(body.get("message") or body.get("detail") or "")
    try:
        error = cls(message, **params)
    except (KeyError, IndexError, ValueError):
        error = cls(N_("{detail}"), detail=str(body.get("detail", "")))
    raise error


class HubClient:
    """Calls to the hub API. Use as an async context manager."""

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        auth: SigningAuth | None = None,
        lang: str = "en",
        verify: bool | str = True,
        clock: Clock | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url,
            transport=transport,
            auth=auth,
            timeout=TIMEOUT,
            headers={"Accept-Language": lang.replace("_", "-"), "User-Agent": "shugu-cli"},
            verify=verify,
        )
        self.base_url = base_url
        self._clock = clock

    async def __aenter__(self) -> HubClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request and return the decoded JSON (or text) of a successful answer."""
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise UnavailableError(
                N_("cannot reach the hub at {url}: {reason}"),
                url=self.base_url,
                reason=str(exc) or type(exc).__name__,
            ) from exc
        raise_for_problem(response)
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

    # -- participants -------------------------------------------------------------------------

    async def apply(
        self, key: Ed25519PrivateKey, name: str, display_name: str, roles: list[str]
    ) -> dict[str, Any]:
        """Apply to join, signing with the new key."""
        body = {
            "name": name,
            "display_name": display_name,
            "roles": roles,
            "public_key": base64.b64encode(key.public_key().public_bytes_raw()).decode(),
        }
        result: dict[str, Any] = await self.request(
            "POST",
            "/v1/applications",
            json=body,
            auth=applicant_auth(key, self._clock),
        )
        return result

    async def participants(
        self, *, status: list[str] | None = None, role: str | None = None, page_size: int = 200
    ) -> AsyncIterator[dict[str, Any]]:
        """Every participant visible to the caller, following the cursor across pages."""
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": page_size}
            if status:
                params["status"] = status
            if role:
                params["role"] = role
            if cursor:
                params["cursor"] = cursor
            page = await self.request("GET", "/v1/participants", params=params)
            for item in page["items"]:
                yield item
            cursor = page["next_cursor"]
            if not cursor:
                return

    async def own_application(self, key: Ed25519PrivateKey, participant_id: str) -> dict[str, Any]:
        """An applicant's own record, signed with its key."""
        result: dict[str, Any] = await self.request(
            "GET",
            f"/v1/applications/{participant_id}",
            auth=applicant_auth(key, self._clock),
        )
        return result

    async def participant(self, ref: str) -> dict[str, Any]:
        """One participant by id or name."""
        result: dict[str, Any] = await self.request("GET", f"/v1/participants/{ref}")
        return result

    async def certificate(self, ref: str) -> dict[str, Any]:
        """The newest certificate of a participant."""
        result: dict[str, Any] = await self.request("GET", f"/v1/participants/{ref}/certificate")
        return result

    async def certificates(self, ref: str) -> AsyncIterator[dict[str, Any]]:
        """Every certificate issued to a participant, oldest first, following the cursor."""
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 200} | ({"cursor": cursor} if cursor else {})
            page = await self.request("GET", f"/v1/participants/{ref}/certificates", params=params)
            for item in page["items"]:
                yield item
            cursor = page["next_cursor"]
            if not cursor:
                return

    async def me(self) -> dict[str, Any]:
        """The calling participant."""
        result: dict[str, Any] = await self.request("GET", "/v1/me")
        return result

    async def approve(self, participant_id: str) -> dict[str, Any]:
        """Approve an application (operator)."""
        result: dict[str, Any] = await self.request(
            "POST", f"/v1/participants/{participant_id}/approve"
        )
        return result

    async def reject(self, participant_id: str, reason: str) -> dict[str, Any]:
        """Reject an application (operator)."""
        result: dict[str, Any] = await self.request(
            "POST", f"/v1/participants/{participant_id}/reject", json={"reason": reason}
        )
        return result

    async def revoke(self, participant_id: str, reason: str) -> dict[str, Any]:
        """Revoke a participant (operator)."""
        result: dict[str, Any] = await self.request(
            "POST", f"/v1/participants/{participant_id}/revoke", json={"reason": reason}
        )
        return result

    async def ca(self) -> dict[str, Any]:
        """The hub CA certificate."""
        result: dict[str, Any] = await self.request("GET", "/v1/ca")
        return result

    async def crl(self) -> str:
        """The CRL (PEM)."""
        return str(await self.request("GET", "/v1/ca/crl"))

    # -- ledger -------------------------------------------------------------------------------

    async def ledger_checkpoint(self, *, cosigned: bool = False) -> str:
        """The newest signed checkpoint note."""
        params = {"cosigned": "true"} if cosigned else None
        return str(await self.request("GET", "/ledger/checkpoint", params=params))

    async def ledger_key(self) -> dict[str, Any]:
        """The log's origin and verifier key."""
        result: dict[str, Any] = await self.request("GET", "/ledger/key")
        return result

    async def ledger_inclusion(self, index: int, size: int | None = None) -> dict[str, Any]:
        """An inclusion proof."""
        params = {"index": index} | ({"size": size} if size is not None else {})
        result: dict[str, Any] = await self.request("GET", "/ledger/proof/inclusion", params=params)
        return result

    async def ledger_consistency(self, old: int, new: int | None = None) -> dict[str, Any]:
        """A consistency proof."""
        params = {"from": old} | ({"to": new} if new is not None else {})
        result: dict[str, Any] = await self.request(
            "GET", "/ledger/proof/consistency", params=params
        )
        return result

    async def ledger_checkpoints(self) -> AsyncIterator[dict[str, Any]]:
        """Every stored checkpoint, smallest first."""
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 1000} | ({"cursor": cursor} if cursor else {})
            page = await self.request("GET", "/ledger/checkpoints", params=params)
            for item in page["items"]:
                yield item
            cursor = page["next_cursor"]
            if not cursor:
                return

    async def ledger_export(self, start: int, end: int) -> str:
        """Entries start..end-1 as export lines."""
        return str(await self.request("GET", "/ledger/export", params={"start": start, "end": end}))

    async def ledger_entry(self, index: int) -> dict[str, Any]:
        """One entry."""
        result: dict[str, Any] = await self.request("GET", f"/ledger/entries/{index}")
        return result

    async def ledger_append(self, events: list[dict[str, Any]]) -> list[int]:
        """Append signed external events; their indices."""
        result = await self.request("POST", "/ledger/entries", json={"events": events})
        return [int(i) for i in result["indices"]]

    async def ledger_cosign(self, size: int, line: str) -> dict[str, Any]:
        """Hand the hub a cosignature of the checkpoint of `size`."""
        result: dict[str, Any] = await self.request(
            "POST", "/ledger/cosignatures", json={"size": size, "cosignature": line}
        )
        return result

    async def health(self) -> dict[str, Any]:
        """Liveness."""
        result: dict[str, Any] = await self.request("GET", "/health")
        return result


__all__ = ["HubClient", "ShuguError", "SigningAuth", "applicant_auth", "raise_for_problem"]
