"""eBay OAuth2 for a desktop app: consent once (authorization code), then refresh tokens.

- Consent: ``https://auth.ebay.com/oauth2/authorize?client_id=…&redirect_uri=<RuName>&response_type=code&scope=…``
  (the redirect_uri is the RuName eBay assigned to the application, not a URL). eBay redirects to the RuName's
  accept URL with ``code`` (URL-encoded); the user pastes the code or the whole address into the app.
- Token: ``POST {base}/identity/v1/oauth2/token``, form-encoded, ``Authorization: Basic
  base64(client_id:client_secret)``; ``grant_type=authorization_code`` (code, redirect_uri) once, then
  ``grant_type=refresh_token`` (refresh_token, scope). Answers ``{access_token, expires_in (≈7200 s),
  refresh_token, refresh_token_expires_in (≈18 months), token_type}``; errors ``{error, error_description}``,
  ``invalid_grant`` when the refresh token was revoked or has expired: only a new consent helps.

Tokens are kept by an injected :class:`TokenStore` (the app backs it with the OS keyring); this module never
imports the store or the secrets layer.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import httpx

from inbox_app.channels.base import AuthFailed, ChannelError, RejectedInput
from inbox_app.channels.http import DEFAULT_TIMEOUT, ApiClient, RetryPolicy
from inbox_app.i18n import _

__all__ = [
    "AUTHORIZE_URL",
    "MESSAGE_SCOPE",
    "TOKEN_PATH",
    "EbayReconnect",
    "MemoryTokenStore",
    "TokenManager",
    "TokenStore",
    "consent_url",
    "exchange_code",
    "parse_pasted_code",
]

log = logging.getLogger("inbox_app.channels.ebay")

AUTHORIZE_URL = "https://auth.ebay.com/oauth2/authorize"
TOKEN_PATH = "/identity/v1/oauth2/token"
MESSAGE_SCOPE = "https://api.ebay.com/oauth/api_scope/commerce.message"
SERVICE = "eBay"


class TokenStore(Protocol):
    """Where the account's tokens live (the app: the OS keyring). Coroutines: a keyring may block."""

    async def load_refresh_token(self) -> str | None: ...

    async def save_refresh_token(self, token: str) -> None: ...

    async def load_access_token(self) -> tuple[str, datetime] | None: ...

    async def save_access_token(self, token: str, expires_at: datetime) -> None: ...


class MemoryTokenStore:
    """A :class:`TokenStore` in memory (tests, the live demo)."""

    def __init__(self, refresh_token: str | None = None) -> None:
        self.refresh_token = refresh_token
        self.access: tuple[str, datetime] | None = None

    async def load_refresh_token(self) -> str | None:
        return self.refresh_token

    async def save_refresh_token(self, token: str) -> None:
        self.refresh_token = token

    async def load_access_token(self) -> tuple[str, datetime] | None:
        return self.access

    async def save_access_token(self, token: str, expires_at: datetime) -> None:
        self.access = (token, expires_at)


class EbayReconnect(AuthFailed):
    """The refresh token is revoked, expired or missing: the seller must sign in to eBay again."""

    def __init__(self, *, detail: str = "") -> None:
        super().__init__(SERVICE, detail=detail)
        self.user_message = _("eBay no longer accepts this connection. Reconnect eBay.")
        self.args = (self.user_message,)


def consent_url(
    client_id: str,
    ru_name: str,
    *,
    state: str,
    scope: str = MESSAGE_SCOPE,
    authorize_url: str = AUTHORIZE_URL,
) -> str:
    """The address of eBay's consent page, to open in the system browser."""
    query = urlencode(
        {
            "client_id": client_id,
            "redirect_uri": ru_name,
            "response_type": "code",
            "scope": scope,
            "state": state,
        },
        quote_via=quote,
    )
    return f"{authorize_url}?{query}"


def parse_pasted_code(text: str) -> str:
    """The authorization code from what the user pasted: the code itself (URL-encoded or not) or the whole
    address eBay redirected to. ``ValueError`` with a message for the user when there is none."""
    pasted = text.strip()
    if not pasted:
        raise ValueError(_("Paste the code eBay showed, or the whole address of the page."))
    if pasted.startswith(("http://", "https://")):
        query = parse_qs(urlsplit(pasted).query)
        codes = query.get("code")
        if not codes or not codes[0].strip():
            raise ValueError(_("This address holds no eBay code. Copy the address after you agreed."))
        return codes[0].strip()  # parse_qs already decoded it
    return unquote(pasted) if "%" in pasted else pasted


def _basic(client_id: str, client_secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")


def _token_classify(response: httpx.Response) -> ChannelError | None:
    if response.status_code in (400, 401):
        try:
            body = json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            body = {}
        error = body.get("error") if isinstance(body, dict) else None
        description = body.get("error_description", "") if isinstance(body, dict) else ""
        if error == "invalid_grant":
            return EbayReconnect(detail=f"token endpoint: invalid_grant ({str(description)[:200]})")
        if error == "invalid_client" or response.status_code == 401:
            return AuthFailed(SERVICE, detail=f"token endpoint: {error} (client id or secret refused)")
    return None


class TokenManager:
    """Hands out a valid user access token, refreshing it shortly before it expires or when eBay refused it.

    One refresh at a time (a lock): concurrent calls that find the token stale wait for the same refresh.
    """

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        store: TokenStore,
        *,
        scope: str = MESSAGE_SCOPE,
        margin: timedelta = timedelta(minutes=5),
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._scope = scope
        self._margin = margin
        self._now = now
        self._lock = asyncio.Lock()
        self._cached: tuple[str, datetime] | None = None
        self.refreshes = 0
        self._http = ApiClient(
            base_url,
            service=SERVICE,
            auth_headers={"Authorization": _basic(client_id, client_secret), "Accept": "application/json"},
            timeout=timeout,
            retry=retry,
            transport=transport,
            classify=_token_classify,
            sleep=sleep,
        )

    @property
    def requests_sent(self) -> int:
        return self._http.requests_sent

    async def aclose(self) -> None:
        await self._http.aclose()

    async def access_token(self) -> str:
        if self._cached is None:
            self._cached = await self._store.load_access_token()
        if self._cached is not None and self._cached[1] - self._margin > self._now():
            return self._cached[0]
        return await self.refresh(stale=self._cached[0] if self._cached else None)

    async def refresh(self, *, stale: str | None = None) -> str:
        """A new access token. ``stale`` is the one that failed: if another caller already replaced it while
        this one waited for the lock, that new token is used instead of refreshing twice."""
        async with self._lock:
            if (
                self._cached is not None
                and self._cached[0] != stale
                and self._cached[1] - self._margin > self._now()
            ):
                return self._cached[0]
            refresh_token = await self._store.load_refresh_token()
            if not refresh_token:
                raise EbayReconnect(detail="no refresh token stored")
            try:
                response = await self._http.request(
                    "POST",
                    TOKEN_PATH,
                    data={
                        "grant_type": "refresh_token",
                        "refresh_token": refresh_token,
                        "scope": self._scope,
                    },
                    retry_safe=True,  # eBay does not rotate refresh tokens: asking twice changes nothing
                    expect_json=True,
                )
            except RejectedInput as exc:
                raise EbayReconnect(detail=exc.detail) from exc
            token, expires_at = _read_token(response, self._now())
            self.refreshes += 1
            self._cached = (token, expires_at)
            await self._store.save_access_token(token, expires_at)
            log.info("eBay access token refreshed, valid until %s", expires_at.isoformat())
            return token


def _read_token(response: httpx.Response, now: datetime) -> tuple[str, datetime]:
    body = response.extensions["inbox_app.parsed_json"]
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise EbayReconnect(detail="token answer without access_token")
    try:
        seconds = int(body.get("expires_in", 7200))
    except (TypeError, ValueError):
        seconds = 7200
    return token, now + timedelta(seconds=max(0, seconds))


async def exchange_code(
    base_url: str,
    client_id: str,
    client_secret: str,
    ru_name: str,
    pasted: str,
    store: TokenStore,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    """First connection: trade the code the user pasted for tokens and keep them in ``store``.

    ``ValueError`` (message for the user) when nothing usable was pasted; :class:`EbayReconnect` when eBay
    refused the code (used already, or more than five minutes old).
    """
    code = parse_pasted_code(pasted)
    http = ApiClient(
        base_url,
        service=SERVICE,
        auth_headers={"Authorization": _basic(client_id, client_secret), "Accept": "application/json"},
        transport=transport,
        classify=_token_classify,
        retry=RetryPolicy(max_attempts=1),  # a code works once: never send it twice
    )
    try:
        response = await http.request(
            "POST",
            TOKEN_PATH,
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": ru_name},
            expect_json=True,
        )
    except RejectedInput as exc:
        raise EbayReconnect(detail=exc.detail) from exc
    finally:
        await http.aclose()
    body = response.extensions["inbox_app.parsed_json"]
    refresh = body.get("refresh_token") if isinstance(body, dict) else None
    if not isinstance(refresh, str) or not refresh:
        raise EbayReconnect(detail="code exchange answer without refresh_token")
    token, expires_at = _read_token(response, now())
    await store.save_refresh_token(refresh)
    await store.save_access_token(token, expires_at)
