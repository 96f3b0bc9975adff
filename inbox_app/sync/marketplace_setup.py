"""eBay, Kaufland and Allegro accounts: their stored settings, their credentials, testing, storing, building.

Each kind keeps its settings as an ``ApiAccountSettings`` (``base_url``, ``marketplace`` = the kind, which picks
the deadline preset; the rest in ``extra``: eBay's seller ``username``, ``client_id`` and ``ru_name``,
Allegro's ``client_id``, ``auth_url`` and the ``seller_login`` it reported, Kaufland's ``storefront``) and
its secrets as :class:`MarketplaceCredentials` in the keyring (``sync.marketplace_credentials``).

A test builds the channel over in-memory tokens from the credentials as typed and makes its cheapest
authenticated call. The tokens it ends up with are what gets stored: Allegro hands out a new refresh token at
each refresh and voids the old one, so storing the token the user pasted after a test would store a dead one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime

from inbox_app.channels.allegro import AllegroChannel, AllegroSettings, OAuthTokens, ReconnectAllegro
from inbox_app.channels.allegro import MemoryTokenStore as AllegroMemoryTokens
from inbox_app.channels.base import AuthFailed, BadConfiguration, Channel
from inbox_app.channels.ebay import EbayChannel, EbayReconnect, EbaySettings
from inbox_app.channels.ebay import MemoryTokenStore as EbayMemoryTokens
from inbox_app.channels.http import check_base_url
from inbox_app.channels.kaufland import KauflandChannel, KauflandSettings
from inbox_app.i18n import _
from inbox_app.store.accounts import (
    ApiAccountSettings,
    api_settings,
    create_api_account,
    get_account,
    set_needs_reconnect,
)
from inbox_app.store.db import database_proxy
from inbox_app.store.models import Account
from inbox_app.sync.channel_setup import ChannelSetupError, FailedPart, check_channel
from inbox_app.sync.credentials import profile_uuid
from inbox_app.sync.marketplace_credentials import (
    ACCESS_TOKEN,
    CLIENT_KEY,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    SECRET_KEY,
    AccountSecrets,
    AllegroKeyringTokens,
    EbayKeyringTokens,
    binding_for,
    decode_access,
    encode_access,
)

EBAY_KIND = "ebay"
KAUFLAND_KIND = "kaufland"
ALLEGRO_KIND = "allegro"
OAUTH_KINDS = (EBAY_KIND, ALLEGRO_KIND)
KINDS = (EBAY_KIND, KAUFLAND_KIND, ALLEGRO_KIND)


@dataclass(frozen=True)
class MarketplaceCredentials:
    """The secrets of one account, as typed or as the last test left them (never logged: no repr)."""

    client_secret: str = field(default="", repr=False)  # eBay, Allegro
    refresh_token: str = field(default="", repr=False)  # eBay, Allegro
    access_token: str = field(default="", repr=False)  # eBay, Allegro (optional: refreshed when missing)
    access_expires_at: datetime | None = None
    client_key: str = field(default="", repr=False)  # Kaufland
    secret_key: str = field(default="", repr=False)  # Kaufland


def _extra(settings: ApiAccountSettings, key: str) -> str:
    value = settings.extra.get(key)
    return str(value) if value not in (None, "") else ""


def _auth_url(settings: ApiAccountSettings) -> str:
    return _extra(settings, "auth_url") or "https://allegro.pl"


def _secret_server(kind: str, settings: ApiAccountSettings, purpose: str) -> tuple[str, str]:
    """(URL, client) a secret of ``purpose`` is sent to: Allegro's client secret and refresh token go to its
    sign-in host, everything else to the API's."""
    client = _extra(settings, "client_id")
    if kind == ALLEGRO_KIND and purpose in (CLIENT_SECRET, REFRESH_TOKEN):
        return _auth_url(settings), client
    return settings.base_url, client


def _check_settings(kind: str, settings: ApiAccountSettings) -> None:
    label = {EBAY_KIND: "eBay", KAUFLAND_KIND: "Kaufland", ALLEGRO_KIND: "Allegro"}[kind]
    try:
        check_base_url(settings.base_url, label)
        if kind == ALLEGRO_KIND:
            check_base_url(_auth_url(settings), label)
    except BadConfiguration as exc:
        raise ChannelSetupError(FailedPart.ADDRESS, exc.user_message) from exc


def _channel(
    kind: str, name: str, settings: ApiAccountSettings, credentials: MarketplaceCredentials, tokens: object
) -> Channel:
    """The connector of ``kind`` over ``tokens`` (a memory or keyring token store of that kind)."""
    if kind == EBAY_KIND:
        return EbayChannel(
            EbaySettings(
                username=_extra(settings, "username"),
                client_id=_extra(settings, "client_id"),
                client_secret=credentials.client_secret,
                base_url=settings.base_url,
            ),
            tokens,  # type: ignore[arg-type]  # an eBay token store by construction
        )
    if kind == ALLEGRO_KIND:
        return AllegroChannel(
            AllegroSettings(
                client_id=_extra(settings, "client_id"),
                client_secret=credentials.client_secret,
                base_url=settings.base_url,
                auth_url=_auth_url(settings),
                account_name=name,
                seller_login=_extra(settings, "seller_login") or None,
            ),
            tokens,  # type: ignore[arg-type]  # an Allegro token store by construction
        )
    if kind == KAUFLAND_KIND:
        return KauflandChannel(
            KauflandSettings(
                client_key=credentials.client_key,
                secret_key=credentials.secret_key,
                base_url=settings.base_url,
                storefront=_extra(settings, "storefront") or None,
                name=name,
            )
        )
    raise ValueError(f"not a marketplace kind with several credentials: {kind}")


async def test_marketplace_account(
    kind: str, name: str, settings: ApiAccountSettings, credentials: MarketplaceCredentials
) -> tuple[ApiAccountSettings, MarketplaceCredentials]:
    """Try the settings and credentials as typed; returns what to store (the tokens the test ended with, and
    what the vendor told about the account, e.g. Allegro's seller login). Raises :class:`ChannelSetupError`
    naming the part that failed."""
    _check_settings(kind, settings)
    ebay_tokens = EbayMemoryTokens(credentials.refresh_token or None)
    if credentials.access_token and credentials.access_expires_at is not None:
        ebay_tokens.access = (credentials.access_token, credentials.access_expires_at)
    allegro_tokens = AllegroMemoryTokens(
        OAuthTokens(credentials.access_token, credentials.refresh_token, credentials.access_expires_at)
        if credentials.access_token and credentials.access_expires_at is not None
        else None,
        refresh_token=credentials.refresh_token or None,
    )
    tokens = allegro_tokens if kind == ALLEGRO_KIND else ebay_tokens
    try:
        channel = _channel(kind, name, settings, credentials, tokens)
    except BadConfiguration as exc:
        raise ChannelSetupError(FailedPart.ADDRESS, exc.user_message) from exc
    await check_channel(channel)
    if kind == EBAY_KIND:
        access = ebay_tokens.access
        credentials = dataclasses.replace(
            credentials,
            refresh_token=ebay_tokens.refresh_token or credentials.refresh_token,
            access_token=access[0] if access else "",
            access_expires_at=access[1] if access else None,
        )
    elif kind == ALLEGRO_KIND:
        held = allegro_tokens.tokens
        if held is not None:
            credentials = dataclasses.replace(
                credentials,
                refresh_token=held.refresh_token,
                access_token=held.access_token,
                access_expires_at=held.expires_at,
            )
        login = channel.seller_login if isinstance(channel, AllegroChannel) else None
        if login:
            settings = dataclasses.replace(settings, extra={**settings.extra, "seller_login": login})
    return settings, credentials


def _secrets(account: Account) -> AccountSecrets:
    return AccountSecrets(profile_uuid(), int(account.id))


def store_credentials(account: Account, credentials: MarketplaceCredentials) -> None:
    """Put the account's credentials into the keyring, each bound to the host it is sent to. Empty values
    are left as they are (an edit that changes only the name keeps the tokens)."""
    kind = str(account.kind)
    settings = api_settings(account)
    secrets = _secrets(account)
    values: list[tuple[str, str]] = []
    if kind in OAUTH_KINDS:
        values.append((CLIENT_SECRET, credentials.client_secret))
        values.append((REFRESH_TOKEN, credentials.refresh_token))
        if credentials.access_token and credentials.access_expires_at is not None:
            values.append(
                (ACCESS_TOKEN, encode_access(credentials.access_token, credentials.access_expires_at))
            )
    elif kind == KAUFLAND_KIND:
        values += [(CLIENT_KEY, credentials.client_key), (SECRET_KEY, credentials.secret_key)]
    for purpose, value in values:
        if value:
            url, client = _secret_server(kind, settings, purpose)
            secrets.put(purpose, value, binding_for(url, client))


def stored_credentials(account: Account) -> MarketplaceCredentials:
    """The credentials kept for the account's current hosts (an entry saved for another host reads empty)."""
    kind = str(account.kind)
    settings = api_settings(account)
    secrets = _secrets(account)

    def get(purpose: str) -> str:
        url, client = _secret_server(kind, settings, purpose)
        return secrets.get(purpose, binding_for(url, client)) or ""

    if kind == KAUFLAND_KIND:
        return MarketplaceCredentials(client_key=get(CLIENT_KEY), secret_key=get(SECRET_KEY))
    access = decode_access(get(ACCESS_TOKEN))
    return MarketplaceCredentials(
        client_secret=get(CLIENT_SECRET),
        refresh_token=get(REFRESH_TOKEN),
        access_token=access[0] if access else "",
        access_expires_at=access[1] if access else None,
    )


def save_marketplace_account(
    kind: str, name: str, settings: ApiAccountSettings, credentials: MarketplaceCredentials
) -> int:
    """Store the account and its credentials (keyring in the same transaction: an account without its
    secrets would only fail later)."""
    if kind not in KINDS:
        raise ValueError(f"not a marketplace kind with several credentials: {kind}")
    with database_proxy.obj.atomic():
        account = create_api_account(kind, name, settings)
        store_credentials(account, credentials)
    return int(account.id)


def update_marketplace_account(
    account_id: int, name: str, settings: ApiAccountSettings, credentials: MarketplaceCredentials
) -> None:
    """Store new settings and credentials of an existing account (an edit or a reconnect) and clear its
    "needs reconnect" state: the sync picks it up again."""
    account = get_account(account_id)
    if account is None:
        raise LookupError(account_id)
    with database_proxy.obj.atomic():
        data = settings.to_dict()
        data.pop("needs_reconnect", None)
        Account.update(name=name, settings=data).where(Account.id == account_id).execute()
        account = Account.get_by_id(account_id)
        store_credentials(account, credentials)
        set_needs_reconnect(account_id, None)


def build_stored_channel(account: Account) -> Channel:
    """The channel of a stored eBay, Kaufland or Allegro account, its tokens kept in the keyring (a refreshed
    access token, or Allegro's rotated refresh token, is saved there as soon as it arrives).

    Raises the kind's "reconnect" error when a secret is missing (removed from the keyring, or saved for
    another host than the account's address now)."""
    kind = str(account.kind)
    settings = api_settings(account)
    credentials = stored_credentials(account)
    secrets = _secrets(account)
    client = _extra(settings, "client_id")
    if kind == EBAY_KIND:
        if not credentials.client_secret:
            raise EbayReconnect(detail=f"no client secret in the keyring for account {account.id}")
        return _channel(
            kind,
            str(account.name),
            settings,
            credentials,
            EbayKeyringTokens(secrets, settings.base_url, client),
        )
    if kind == ALLEGRO_KIND:
        if not credentials.client_secret:
            raise ReconnectAllegro(detail=f"no client secret in the keyring for account {account.id}")
        tokens = AllegroKeyringTokens(secrets, settings.base_url, _auth_url(settings), client)
        return _channel(kind, str(account.name), settings, credentials, tokens)
    if kind == KAUFLAND_KIND:
        if not (credentials.client_key and credentials.secret_key):
            raise AuthFailed(
                str(account.name), detail=f"no Kaufland keys in the keyring for account {account.id}"
            )
        return _channel(kind, str(account.name), settings, credentials, None)
    raise ValueError(_("Accounts of kind {kind} cannot be synced.").format(kind=kind))
