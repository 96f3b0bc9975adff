"""Allegro sign-in: the OAuth2 device flow, refresh-token grants, and where the tokens live.

Allegro (developer.allegro.pl, "Device flow" and "Authorization"): the app asks
``POST {auth_url}/auth/oauth/device`` (client credentials in HTTP Basic, ``client_id`` in the form) for a
``device_code``, a ``user_code`` and a ``verification_uri(_complete)``; the seller opens that address and
confirms; meanwhile the app polls ``POST {auth_url}/auth/oauth/token`` with
``grant_type=urn:ietf:params:oauth:grant-type:device_code`` every ``interval`` seconds. The answers follow
RFC 8628 §3.5: ``authorization_pending`` (keep polling), ``slow_down`` (add 5 s to the interval),
``access_denied`` (the seller said no), ``expired_token`` (the code ran out). The tokens come back as
``{access_token, refresh_token, expires_in, token_type, scope, jti}``; an access token lives 12 h and a refresh
token 3 months, and each refresh hands out a new refresh token (``grant_type=refresh_token``) that must be
saved at once.

The tokens are never kept here: a :class:`TokenStore` (the app backs it with the OS keyring) loads and saves
them, so this package never imports the store or the secrets module.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx

from inbox_app.channels.base import (
    AuthFailed,
    ChannelError,
    TemporarilyUnavailable,
    UnreadableAnswer,
)
from inbox_app.channels.http import DEFAULT_TIMEOUT, check_base_url, tls_context
from inbox_app.i18n import _

__all__ = [
    "DEVICE_GRANT",
    "AllegroAuth",
    "DeviceAuthorization",
    "DeviceFlowDenied",
    "DeviceFlowExpired",
    "MemoryTokenStore",
    "OAuthTokens",
    "ReconnectAllegro",
    "TokenStore",
]

log = logging.getLogger("inbox_app.channels.allegro.auth")

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SERVICE = "Allegro"


@dataclass(frozen=True)
class OAuthTokens:
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime  # timezone-aware

    def expires_within(self, margin: timedelta, now: datetime) -> bool:
        return self.expires_at - margin <= now

    def to_json(self) -> str:
        """The form a keyring keeps (one secret per account)."""
        return json.dumps(
            {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "expires_at": self.expires_at.isoformat(),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> OAuthTokens:
        data = json.loads(text)
        return cls(
            access_token=str(data["access_token"]),
            refresh_token=str(data["refresh_token"]),
            expires_at=datetime.fromisoformat(str(data["expires_at"])),
        )


class TokenStore(Protocol):
    """Where an account's tokens live. The app implements it over the OS keyring (run in a worker thread:
    keyring calls block); tests and ``--refresh-token-env`` use :class:`MemoryTokenStore`.

    ``save`` must be durable before it returns: Allegro invalidates the previous refresh token when it hands
    out a new one, so a lost save means "Reconnect Allegro".
    """

    async def load(self) -> OAuthTokens | None: ...

    async def save(self, tokens: OAuthTokens) -> None: ...


class MemoryTokenStore:
    """Tokens in memory only. ``refresh_token`` alone is enough to start: the first call refreshes."""

    def __init__(self, tokens: OAuthTokens | None = None, *, refresh_token: str | None = None) -> None:
        if tokens is None and refresh_token is not None:
            tokens = OAuthTokens("", refresh_token, datetime.fromtimestamp(0, UTC))
        self.tokens = tokens
        self.saves = 0

    async def load(self) -> OAuthTokens | None:
        return self.tokens

    async def save(self, tokens: OAuthTokens) -> None:
        self.tokens = tokens
        self.saves += 1


class ReconnectAllegro(AuthFailed):
    """The refresh token was revoked or expired (or none is stored): only a new sign-in helps."""

    def __init__(self, *, detail: str = "") -> None:
        super().__init__(SERVICE, detail=detail)
        self.user_message = _("Allegro no longer accepts this app's sign-in. Reconnect Allegro.")
        self.args = (f"{self.user_message} [{detail}]" if detail else self.user_message,)


class DeviceFlowDenied(ChannelError):
    def __init__(self, *, detail: str = "") -> None:
        super().__init__(
            _("The connection was refused on Allegro's page. Start again to connect the account."),
            detail=detail,
        )


class DeviceFlowExpired(ChannelError):
    def __init__(self, *, detail: str = "") -> None:
        super().__init__(
            _("The code was not confirmed in time. Start again to get a new code."),
            detail=detail,
        )


@dataclass(frozen=True)
class DeviceAuthorization:
    """What the UI shows while the seller confirms on Allegro's page."""

    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: int  # seconds
    interval: int  # seconds between polls, as Allegro asked
    started: float  # time.monotonic() when it was issued


def _seconds(value: object, default: int) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int | float) and value > 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return default


class AllegroAuth:
    """Access tokens for one Allegro account: from the store, refreshed before they expire and on demand.

    One instance per account, shared by the channel's requests; refreshes are serialized so that two
    requests meeting an expired token refresh once.
    """

    def __init__(
        self,
        *,
        auth_url: str,
        client_id: str,
        client_secret: str,
        store: TokenStore,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        refresh_margin: timedelta = timedelta(minutes=5),
    ) -> None:
        self.auth_url = check_base_url(auth_url, SERVICE)
        self._client_id = client_id
        self._basic = "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")
        self.store = store
        self._now = now
        self._sleep = sleep
        self._monotonic = monotonic
        self._margin = refresh_margin
        self._lock = asyncio.Lock()
        self._tokens: OAuthTokens | None = None
        self.requests_sent = 0
        self.refreshes = 0
        self._client = httpx.AsyncClient(
            base_url=self.auth_url,
            timeout=timeout,
            verify=tls_context(),
            transport=transport,
            follow_redirects=False,
            headers={"User-Agent": "inbox-app/0.1", "Accept": "application/json"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- tokens for requests ------------------------------------------------------------------------------

    async def access_token(self) -> str:
        """A token valid for at least the refresh margin; refreshes first when it is about to expire."""
        tokens = self._tokens or await self.store.load()
        if tokens is None:
            raise ReconnectAllegro(detail="no tokens stored")
        self._tokens = tokens
        if not tokens.access_token or tokens.expires_within(self._margin, self._now()):
            tokens = await self.refresh(stale=tokens.access_token)
        return tokens.access_token

    async def refresh(self, *, stale: str | None = None) -> OAuthTokens:
        """Trade the refresh token for new tokens. ``stale``: the access token the caller found refused or
        expired; when another request already refreshed it meanwhile, its fresh tokens are used."""
        async with self._lock:
            current = self._tokens or await self.store.load()
            if current is None:
                raise ReconnectAllegro(detail="no tokens stored")
            if (
                stale is not None
                and current.access_token
                and current.access_token != stale
                and not current.expires_within(self._margin, self._now())
            ):
                self._tokens = current
                return current
            body = await self._token_request(
                {"grant_type": "refresh_token", "refresh_token": current.refresh_token}
            )
            tokens = self._tokens_from(body, previous_refresh=current.refresh_token)
            await self.store.save(tokens)
            self._tokens = tokens
            self.refreshes += 1
            log.info("Allegro access token refreshed (valid until %s)", tokens.expires_at.isoformat())
            return tokens

    def _tokens_from(self, body: Mapping[str, Any], *, previous_refresh: str | None = None) -> OAuthTokens:
        access = body.get("access_token")
        if not isinstance(access, str) or not access:
            raise UnreadableAnswer(SERVICE, detail="token answer without access_token")
        refresh = body.get("refresh_token")
        if not isinstance(refresh, str) or not refresh:
            if previous_refresh is None:
                raise UnreadableAnswer(SERVICE, detail="token answer without refresh_token")
            refresh = previous_refresh
        lifetime = _seconds(body.get("expires_in"), 3600)
        return OAuthTokens(access, refresh, self._now() + timedelta(seconds=lifetime))

    async def _post(self, path: str, form: Mapping[str, str]) -> httpx.Response:
        self.requests_sent += 1
        try:
            return await self._client.post(path, data=dict(form), headers={"Authorization": self._basic})
        except httpx.TimeoutException as exc:
            raise TemporarilyUnavailable(SERVICE, detail=f"POST {path}: timed out ({exc!r})") from exc
        except httpx.TransportError as exc:
            raise TemporarilyUnavailable(SERVICE, detail=f"POST {path}: {exc!r}") from exc

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        try:
            body = json.loads(response.content)
        except (ValueError, UnicodeDecodeError) as exc:
            raise UnreadableAnswer(
                SERVICE,
                detail=f"{response.request.url.path}: unreadable JSON (HTTP {response.status_code})",
                raw_body=response.content[:65536],
            ) from exc
        return body if isinstance(body, dict) else {}

    async def _token_request(self, form: Mapping[str, str]) -> dict[str, Any]:
        """A refresh grant: 2xx → the body; invalid_grant / 400 / 401 → ReconnectAllegro."""
        response = await self._post("/auth/oauth/token", form)
        if response.status_code >= 500 or response.status_code == 429:
            raise TemporarilyUnavailable(SERVICE, detail=f"token endpoint HTTP {response.status_code}")
        body = self._json(response)
        if response.is_success:
            return body
        error = str(body.get("error") or "")
        raise ReconnectAllegro(detail=f"token endpoint HTTP {response.status_code}: {error}")

    # -- device flow --------------------------------------------------------------------------------------

    async def start_device_flow(self) -> DeviceAuthorization:
        """Ask Allegro for a code to show: ``user_code`` and ``verification_uri`` go on screen."""
        response = await self._post("/auth/oauth/device", {"client_id": self._client_id})
        if response.status_code >= 500 or response.status_code == 429:
            raise TemporarilyUnavailable(SERVICE, detail=f"device endpoint HTTP {response.status_code}")
        body = self._json(response)
        if response.status_code in (400, 401, 403):
            raise AuthFailed(
                SERVICE, detail=f"device endpoint HTTP {response.status_code}: {body.get('error')}"
            )
        device_code = body.get("device_code")
        user_code = body.get("user_code")
        uri = body.get("verification_uri")
        if not (isinstance(device_code, str) and isinstance(user_code, str) and isinstance(uri, str)):
            raise UnreadableAnswer(
                SERVICE, detail="device answer without device_code/user_code/verification_uri"
            )
        complete = body.get("verification_uri_complete")
        return DeviceAuthorization(
            device_code=device_code,
            user_code=user_code,
            verification_uri=uri,
            verification_uri_complete=complete if isinstance(complete, str) else None,
            expires_in=_seconds(body.get("expires_in"), 3600),
            interval=_seconds(body.get("interval"), 5),
            started=self._monotonic(),
        )

    async def complete_device_flow(self, authorization: DeviceAuthorization) -> OAuthTokens:
        """Poll until the seller confirms; save and return the tokens. Cancel the task to stop waiting.

        Raises :class:`DeviceFlowDenied`, :class:`DeviceFlowExpired`, or a network error after which the UI
        may call this again with the same ``authorization`` while it has not expired.
        """
        interval = float(authorization.interval)
        deadline = authorization.started + authorization.expires_in
        while True:
            if self._monotonic() >= deadline:
                raise DeviceFlowExpired(detail="expires_in elapsed")
            await self._sleep(interval)
            response = await self._post(
                "/auth/oauth/token", {"grant_type": DEVICE_GRANT, "device_code": authorization.device_code}
            )
            if response.status_code == 429 or response.status_code >= 500:
                interval += 5  # treat an overloaded server as slow_down
                continue
            body = self._json(response)
            if response.is_success:
                tokens = self._tokens_from(body)
                await self.store.save(tokens)
                self._tokens = tokens
                return tokens
            error = str(body.get("error") or "")
            if error == "authorization_pending":
                continue
            if error == "slow_down":
                interval += 5  # RFC 8628 §3.5
                continue
            if error == "access_denied":
                raise DeviceFlowDenied(detail=error)
            if error == "expired_token":
                raise DeviceFlowExpired(detail=error)
            raise AuthFailed(SERVICE, detail=f"device token HTTP {response.status_code}: {error}")
