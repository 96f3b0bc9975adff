"""The keyring entries of eBay, Kaufland and Allegro accounts, and the token stores their connectors use.

A Mirakl account has one API key (``sync.credentials.API_KEY``); these kinds have several secrets, each its own
keyring entry named by the profile, the account and a purpose (:data:`CLIENT_SECRET`, :data:`REFRESH_TOKEN`,
:data:`ACCESS_TOKEN`, :data:`CLIENT_KEY`, :data:`SECRET_KEY`), and each bound to the host it is sent to (the
token endpoint's for client secrets and refresh tokens, the API's for access tokens). Nothing of it reaches the
database.

The connectors keep their tokens through an injected store (``channels.ebay.TokenStore``,
``channels.allegro.TokenStore``); :class:`EbayKeyringTokens` and :class:`AllegroKeyringTokens` back them with
the keyring, so an access token refreshed during a sync — and Allegro's rotated refresh token, which replaces
the previous one at once — is saved before it is used. Keyring calls block (a D-Bus round trip, a file write):
they run in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from inbox_app.channels.allegro import OAuthTokens
from inbox_app.secrets import SecretBoundElsewhere, SecretRef, ServerBinding, get_secret, set_secret

CLIENT_SECRET = "client-secret"
REFRESH_TOKEN = "refresh-token"
ACCESS_TOKEN = "access-token"
CLIENT_KEY = "client-key"
SECRET_KEY = "secret-key"
#: Every purpose a marketplace account may hold (all are deleted with the account).
MARKETPLACE_PURPOSES = (CLIENT_SECRET, REFRESH_TOKEN, ACCESS_TOKEN, CLIENT_KEY, SECRET_KEY)


def binding_for(url: str, user: str = "") -> ServerBinding:
    """The server a secret sent to ``url`` is bound to: its host and port (``user`` names the client)."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 0
    return ServerBinding((parts.hostname or "").lower(), port, user)


@dataclass(frozen=True)
class AccountSecrets:
    """One account's keyring entries: its profile's id and account id name them. Holds no secret itself."""

    profile: str
    account_id: int

    def ref(self, purpose: str) -> SecretRef:
        return SecretRef(self.profile, self.account_id, purpose)

    def get(self, purpose: str, server: ServerBinding) -> str | None:
        """The secret for ``server``; None when there is none or it was saved for another server."""
        try:
            return get_secret(self.ref(purpose), server)
        except SecretBoundElsewhere:
            return None

    def put(self, purpose: str, value: str, server: ServerBinding) -> None:
        set_secret(self.ref(purpose), value, server)


def encode_access(token: str, expires_at: datetime) -> str:
    return json.dumps({"token": token, "expires_at": expires_at.astimezone(UTC).isoformat()})


def decode_access(text: str | None) -> tuple[str, datetime] | None:
    """(token, expiry) from the stored JSON; None when absent or unreadable (then the next call refreshes)."""
    if not text:
        return None
    try:
        data = json.loads(text)
        token = str(data["token"])
        expires = datetime.fromisoformat(str(data["expires_at"]))
    except (ValueError, KeyError, TypeError):
        return None
    return token, expires if expires.tzinfo else expires.replace(tzinfo=UTC)


class EbayKeyringTokens:
    """eBay's ``TokenStore`` over the keyring: the refresh token bound to the token endpoint's host, the access
    token (with its expiry) to the API's (both on ``base_url`` for eBay)."""

    def __init__(self, secrets: AccountSecrets, base_url: str, client_id: str) -> None:
        self._secrets = secrets
        self._server = binding_for(base_url, client_id)

    async def load_refresh_token(self) -> str | None:
        return await asyncio.to_thread(self._secrets.get, REFRESH_TOKEN, self._server)

    async def save_refresh_token(self, token: str) -> None:
        await asyncio.to_thread(self._secrets.put, REFRESH_TOKEN, token, self._server)

    async def load_access_token(self) -> tuple[str, datetime] | None:
        return decode_access(await asyncio.to_thread(self._secrets.get, ACCESS_TOKEN, self._server))

    async def save_access_token(self, token: str, expires_at: datetime) -> None:
        await asyncio.to_thread(
            self._secrets.put, ACCESS_TOKEN, encode_access(token, expires_at), self._server
        )


class AllegroKeyringTokens:
    """Allegro's ``TokenStore`` over the keyring. Allegro replaces the refresh token at each refresh, so
    :meth:`save` writes the new refresh token first (to the sign-in host) and only then the access token (to
    the API host): whatever happens after, the refresh token kept is the valid one."""

    def __init__(self, secrets: AccountSecrets, base_url: str, auth_url: str, client_id: str) -> None:
        self._secrets = secrets
        self._auth_server = binding_for(auth_url, client_id)
        self._api_server = binding_for(base_url, client_id)

    def _load(self) -> OAuthTokens | None:
        refresh = self._secrets.get(REFRESH_TOKEN, self._auth_server)
        if not refresh:
            return None
        access = decode_access(self._secrets.get(ACCESS_TOKEN, self._api_server))
        if access is None:
            return OAuthTokens("", refresh, datetime.fromtimestamp(0, UTC))
        return OAuthTokens(access[0], refresh, access[1])

    async def load(self) -> OAuthTokens | None:
        return await asyncio.to_thread(self._load)

    def _save(self, tokens: OAuthTokens) -> None:
        self._secrets.put(REFRESH_TOKEN, tokens.refresh_token, self._auth_server)
        self._secrets.put(
            ACCESS_TOKEN, encode_access(tokens.access_token, tokens.expires_at), self._api_server
        )

    async def save(self, tokens: OAuthTokens) -> None:
        await asyncio.to_thread(self._save, tokens)
