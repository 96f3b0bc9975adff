"""Marketplace accounts as the windows and commands set them up: Mirakl, eBay, Kaufland, Allegro.

The way in for ``ui`` and ``cli`` (no Qt here, no peewee in the callers). Each kind has a form (a frozen
dataclass holding what the seller typed, secrets included, never printed); the verbs are the same for all:

- ``await test(form)`` tries the connection and returns the form to store — for eBay and Allegro with the
  tokens the test ended with (Allegro voids a refresh token once it hands out the next one). Failures are
  :class:`MarketplaceSetupError` whose ``part`` names what failed (address, key refused, shop id, service)
  and whose text says it in the user's language (:func:`setup_error_text`).
- ``save(form)`` stores a new account (settings in the database, every secret in the keyring, bound to the
  host it is sent to) → :class:`SavedAccount`.
- ``stored_form(account_id)`` gives the account back as a form (secrets from the keyring), ``update(id, form)``
  stores an edit or a reconnect and clears the "needs reconnect" state.

Signing in without pasting tokens: :func:`ebay_consent_url` (the page to open in the system browser) and
:func:`ebay_exchange_code` (the code or the address the seller pasted → tokens on the form);
:func:`allegro_device_flow` (an async generator: first the code and address to show with their expiry, then
the signed-in form; cancel by closing the generator or cancelling its task).

An account whose refresh token was revoked is marked by the sync with the connector's message ("… Reconnect
eBay."); :func:`account_states` lists each account's state for the account list and the banner.
"""

from __future__ import annotations

import dataclasses
import secrets as _random
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, ClassVar

from inbox_app.i18n import _
from inbox_app.store import accounts as store_accounts
from inbox_app.sync.channel_setup import ChannelSetupError, FailedPart
from inbox_app.sync.channel_setup import setup_error_text as _setup_error_text

if TYPE_CHECKING:
    from inbox_app.sync.marketplace_setup import MarketplaceCredentials

__all__ = [
    "ALLEGRO_AUTH_URL",
    "ALLEGRO_BASE_URL",
    "EBAY_BASE_URL",
    "KAUFLAND_BASE_URL",
    "AccountState",
    "AllegroDeviceCode",
    "AllegroForm",
    "AllegroSignedIn",
    "EbayForm",
    "FailedPart",
    "KauflandForm",
    "MarketplaceForm",
    "MarketplaceSetupError",
    "MiraklForm",
    "SavedAccount",
    "account_states",
    "allegro_device_flow",
    "ebay_consent_url",
    "ebay_exchange_code",
    "find_account",
    "save",
    "setup_error_text",
    "stored_form",
    "test",
    "update",
]

EBAY_BASE_URL = "https://api.ebay.com"
KAUFLAND_BASE_URL = "https://sellerapi.kaufland.com/v2"
ALLEGRO_BASE_URL = "https://api.allegro.pl"
ALLEGRO_AUTH_URL = "https://allegro.pl"

#: A failed test: ``part`` (:class:`FailedPart`) says which field to fix, ``user_message`` what happened.
MarketplaceSetupError = ChannelSetupError


def setup_error_text(exc: MarketplaceSetupError) -> str:
    """ "Connection test failed (key refused): …" """
    return _setup_error_text(exc)


# ------------------------------------------------------------------------------------------------- the forms


@dataclass(frozen=True)
class MiraklForm:
    """A Mirakl shop: the operator's API address and the shop API key (from its back office)."""

    kind: ClassVar[str] = "mirakl"
    name: str
    base_url: str
    api_key: str = field(repr=False)
    shop_id: str | None = None
    marketplace: str | None = None  # the operator, for its deadline preset (default: the name)


@dataclass(frozen=True)
class EbayForm:
    """An eBay seller: the app's keys (client id and secret) and the seller's consent as a refresh token."""

    kind: ClassVar[str] = "ebay"
    name: str
    username: str  # the seller's eBay user name: messages from it are the shop's
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(default="", repr=False)
    base_url: str = EBAY_BASE_URL  # the token endpoint is on the same host
    ru_name: str = ""  # the RuName eBay assigned to the app (the consent page's redirect)
    access_token: str = field(default="", repr=False)
    access_expires_at: datetime | None = None


@dataclass(frozen=True)
class KauflandForm:
    """A Kaufland seller: the Seller API client key and secret key (every request is signed with them)."""

    kind: ClassVar[str] = "kaufland"
    name: str
    client_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    base_url: str = KAUFLAND_BASE_URL
    storefront: str | None = None  # "de", "cz", …: only this storefront's tickets


@dataclass(frozen=True)
class AllegroForm:
    """An Allegro seller: the app's client id and secret, and the seller's tokens (device flow or pasted)."""

    kind: ClassVar[str] = "allegro"
    name: str
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(default="", repr=False)
    base_url: str = ALLEGRO_BASE_URL
    auth_url: str = ALLEGRO_AUTH_URL
    access_token: str = field(default="", repr=False)
    access_expires_at: datetime | None = None
    seller_login: str = ""  # what Allegro calls the seller (learnt by the test)


MarketplaceForm = MiraklForm | EbayForm | KauflandForm | AllegroForm


@dataclass(frozen=True)
class SavedAccount:
    id: int
    kind: str
    name: str


@dataclass(frozen=True)
class AccountState:
    """One account as the account list and the banner show it."""

    id: int
    kind: str
    name: str
    needs_reconnect: bool
    message: str  # the user message ("eBay no longer accepts this connection. Reconnect eBay.") or ""
    reconnect_label: str  # the button's text: "Reconnect eBay"


# ------------------------------------------------------------------------------------------- form ↔ storage


def _clean_url(url: str) -> str:
    return url.strip().rstrip("/")


def _require_name(form: MarketplaceForm) -> None:
    if not form.name.strip():
        raise MarketplaceSetupError(FailedPart.INPUT, _("The account needs a name."), "name")


def _settings(form: MarketplaceForm) -> store_accounts.ApiAccountSettings:
    settings_type = store_accounts.ApiAccountSettings
    if isinstance(form, MiraklForm):
        return settings_type(
            base_url=_clean_url(form.base_url),
            shop_id=(form.shop_id or "").strip() or None,
            marketplace=(form.marketplace or "").strip() or None,
        )
    if isinstance(form, EbayForm):
        extra = {"username": form.username.strip(), "client_id": form.client_id.strip()}
        if form.ru_name.strip():
            extra["ru_name"] = form.ru_name.strip()
        return settings_type(base_url=_clean_url(form.base_url), marketplace="ebay", extra=extra)
    if isinstance(form, KauflandForm):
        storefront = (form.storefront or "").strip()
        extra = {"storefront": storefront} if storefront else {}
        return settings_type(base_url=_clean_url(form.base_url), marketplace="kaufland", extra=extra)
    extra = {"client_id": form.client_id.strip(), "auth_url": _clean_url(form.auth_url)}
    if form.seller_login:
        extra["seller_login"] = form.seller_login
    return settings_type(base_url=_clean_url(form.base_url), marketplace="allegro", extra=extra)


def _credentials(form: EbayForm | KauflandForm | AllegroForm) -> MarketplaceCredentials:
    from inbox_app.sync.marketplace_setup import MarketplaceCredentials

    if isinstance(form, KauflandForm):
        return MarketplaceCredentials(client_key=form.client_key.strip(), secret_key=form.secret_key.strip())
    return MarketplaceCredentials(
        client_secret=form.client_secret.strip(),
        refresh_token=form.refresh_token.strip(),
        access_token=form.access_token,
        access_expires_at=form.access_expires_at,
    )


def _with_tokens(form: EbayForm | AllegroForm, credentials: MarketplaceCredentials) -> EbayForm | AllegroForm:
    return dataclasses.replace(
        form,
        refresh_token=credentials.refresh_token or form.refresh_token,
        access_token=credentials.access_token,
        access_expires_at=credentials.access_expires_at,
    )


# ------------------------------------------------------------------------------------------------ the verbs


async def test(form: MarketplaceForm) -> MarketplaceForm:
    """Try the connection as typed; returns the form to store (with the tokens the test ended with).

    Raises :class:`MarketplaceSetupError` naming the part that failed; nothing is stored."""
    _require_name(form)
    if isinstance(form, MiraklForm):
        from inbox_app.sync.channel_setup import test_channel_account
        from inbox_app.sync.registry import default_registry

        if not form.api_key.strip():
            raise MarketplaceSetupError(FailedPart.KEY, _("Enter the shop API key."))
        await test_channel_account(
            default_registry(), form.kind, form.name.strip(), _settings(form), form.api_key.strip()
        )
        return form
    from inbox_app.sync.marketplace_setup import test_marketplace_account

    _require_secrets(form)
    settings, credentials = await test_marketplace_account(
        form.kind, form.name.strip(), _settings(form), _credentials(form)
    )
    if isinstance(form, EbayForm):
        return _with_tokens(form, credentials)
    if isinstance(form, AllegroForm):
        login = str(settings.extra.get("seller_login") or form.seller_login)
        signed_in = _with_tokens(form, credentials)
        assert isinstance(signed_in, AllegroForm)
        return dataclasses.replace(signed_in, seller_login=login)
    return form


def _require_secrets(form: EbayForm | KauflandForm | AllegroForm) -> None:
    if isinstance(form, KauflandForm):
        if not (form.client_key.strip() and form.secret_key.strip()):
            raise MarketplaceSetupError(FailedPart.KEY, _("Enter the client key and the secret key."))
        return
    if not (form.client_id.strip() and form.client_secret.strip()):
        raise MarketplaceSetupError(FailedPart.KEY, _("Enter the client id and the client secret."))
    if not (form.refresh_token.strip() or form.access_token):
        raise MarketplaceSetupError(FailedPart.KEY, _("Sign in first: the account has no token yet."))
    if isinstance(form, EbayForm) and not form.username.strip():
        raise MarketplaceSetupError(FailedPart.INPUT, _("Enter your eBay user name."), "username")


def save(form: MarketplaceForm) -> SavedAccount:
    """Store a new account: its settings in the database, its key or tokens in the keyring."""
    _require_name(form)
    name = form.name.strip()
    if isinstance(form, MiraklForm):
        from inbox_app.sync.channel_setup import save_channel_account

        account_id = save_channel_account(form.kind, name, _settings(form), form.api_key.strip())
    else:
        from inbox_app.sync.marketplace_setup import save_marketplace_account

        _require_secrets(form)
        account_id = save_marketplace_account(form.kind, name, _settings(form), _credentials(form))
    return SavedAccount(account_id, form.kind, name)


def stored_form(account_id: int) -> MarketplaceForm:
    """The stored account as a form (secrets from the keyring; a secret kept for another host reads as
    empty, so the edit asks for it again). ``LookupError`` when there is no such marketplace account."""
    account = store_accounts.get_account(account_id)
    if account is None or not store_accounts.is_api_account(account):
        raise LookupError(account_id)
    settings = store_accounts.api_settings(account)
    name = str(account.name)
    extra = settings.extra
    if account.kind == MiraklForm.kind:
        from inbox_app.sync.channel_setup import stored_api_key

        return MiraklForm(
            name, settings.base_url, stored_api_key(account), settings.shop_id, settings.marketplace
        )
    from inbox_app.sync.marketplace_setup import stored_credentials

    creds = stored_credentials(account)
    if account.kind == EbayForm.kind:
        return EbayForm(
            name,
            str(extra.get("username", "")),
            str(extra.get("client_id", "")),
            creds.client_secret,
            creds.refresh_token,
            settings.base_url,
            str(extra.get("ru_name", "")),
            creds.access_token,
            creds.access_expires_at,
        )
    if account.kind == KauflandForm.kind:
        return KauflandForm(
            name,
            creds.client_key,
            creds.secret_key,
            settings.base_url,
            str(extra.get("storefront") or "") or None,
        )
    if account.kind == AllegroForm.kind:
        return AllegroForm(
            name,
            str(extra.get("client_id", "")),
            creds.client_secret,
            creds.refresh_token,
            settings.base_url,
            str(extra.get("auth_url") or ALLEGRO_AUTH_URL),
            creds.access_token,
            creds.access_expires_at,
            str(extra.get("seller_login") or ""),
        )
    raise LookupError(account_id)


def update(account_id: int, form: MarketplaceForm) -> SavedAccount:
    """Store an edited or reconnected account (test it first with :func:`test`); its "needs reconnect" state
    is cleared and the sync takes it up again."""
    _require_name(form)
    account = store_accounts.get_account(account_id)
    if account is None or account.kind != form.kind:
        raise LookupError(account_id)
    name = form.name.strip()
    settings = _settings(form)
    if isinstance(form, MiraklForm):
        from inbox_app.sync.channel_setup import update_channel_account

        if not form.api_key.strip():
            raise MarketplaceSetupError(FailedPart.KEY, _("Enter the shop API key."))
        update_channel_account(account_id, name, settings, form.api_key.strip())
    else:
        from inbox_app.sync.marketplace_setup import update_marketplace_account

        _require_secrets(form)
        update_marketplace_account(account_id, name, settings, _credentials(form))
    return SavedAccount(account_id, form.kind, name)


def find_account(name_or_id: str) -> SavedAccount | None:
    """The account named ``name_or_id`` (case-insensitively), or with that id."""
    wanted = name_or_id.strip()
    accounts = store_accounts.list_accounts()
    for account in accounts:
        if str(account.name).casefold() == wanted.casefold():
            return SavedAccount(int(account.id), str(account.kind), str(account.name))
    if wanted.isdigit():
        for account in accounts:
            if int(account.id) == int(wanted):
                return SavedAccount(int(account.id), str(account.kind), str(account.name))
    return None


_KIND_LABELS = {"mirakl": "Mirakl", "ebay": "eBay", "kaufland": "Kaufland", "allegro": "Allegro", "imap": ""}


def account_states() -> list[AccountState]:
    """Every account with its "needs reconnect" state and the way out's label ("Reconnect eBay")."""
    states = []
    for account in store_accounts.list_accounts():
        message = store_accounts.needs_reconnect(account) or ""
        label = _KIND_LABELS.get(str(account.kind), "") or str(account.name)
        states.append(
            AccountState(
                int(account.id),
                str(account.kind),
                str(account.name),
                bool(message),
                message,
                _("Reconnect {service}").format(service=label),
            )
        )
    return states


# -------------------------------------------------------------------------------------------- eBay consent


def ebay_consent_url(form: EbayForm, *, state: str | None = None, authorize_url: str | None = None) -> str:
    """The address of eBay's consent page for this app (open it in the system browser). After the seller
    agrees, eBay shows a page whose address holds the code: :func:`ebay_exchange_code` takes it."""
    from inbox_app.channels.ebay import AUTHORIZE_URL, consent_url

    if not form.ru_name.strip():
        raise MarketplaceSetupError(
            FailedPart.INPUT,
            _("Enter the RuName eBay gave the app (developer.ebay.com → User Tokens)."),
            "ru_name",
        )
    return consent_url(
        form.client_id.strip(),
        form.ru_name.strip(),
        state=state or _random.token_urlsafe(16),
        authorize_url=authorize_url or AUTHORIZE_URL,
    )


async def ebay_exchange_code(form: EbayForm, pasted: str) -> EbayForm:
    """Trade the code the seller pasted (the code itself or the whole address) for tokens; returns the form
    holding them. A code works once and for five minutes: a refused one asks to sign in again."""
    from inbox_app.channels.base import ChannelError
    from inbox_app.channels.ebay import MemoryTokenStore, exchange_code

    tokens = MemoryTokenStore()
    try:
        await exchange_code(
            _clean_url(form.base_url),
            form.client_id.strip(),
            form.client_secret.strip(),
            form.ru_name.strip(),
            pasted,
            tokens,
        )
    except ValueError as exc:
        raise MarketplaceSetupError(FailedPart.KEY, str(exc)) from exc
    except ChannelError as exc:
        raise MarketplaceSetupError(FailedPart.KEY, exc.user_message) from exc
    access = tokens.access
    return dataclasses.replace(
        form,
        refresh_token=tokens.refresh_token or "",
        access_token=access[0] if access else "",
        access_expires_at=access[1] if access else None,
    )


# ------------------------------------------------------------------------------------- Allegro device flow


@dataclass(frozen=True)
class AllegroDeviceCode:
    """What to show while the seller confirms on Allegro's page: the code, the address, until when."""

    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_at: datetime  # the code is void after this: show a countdown

    def seconds_left(self, now: datetime | None = None) -> float:
        return max(0.0, (self.expires_at - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class AllegroSignedIn:
    """The seller confirmed: ``form`` holds the tokens (test and save it next)."""

    form: AllegroForm


async def allegro_device_flow(form: AllegroForm) -> AsyncGenerator[AllegroDeviceCode | AllegroSignedIn, None]:
    """Sign in to Allegro without a password in the app (OAuth2 device flow).

    Yields an :class:`AllegroDeviceCode` first (show the code and the address, open the address), then waits
    for the seller and yields :class:`AllegroSignedIn`. Raises :class:`MarketplaceSetupError` when the seller
    refused, the code expired, or Allegro refused the app's keys. Closing the generator (or cancelling the
    task iterating it) stops waiting."""
    from inbox_app.channels.allegro import AllegroAuth, MemoryTokenStore
    from inbox_app.channels.base import AuthFailed, BadConfiguration, ChannelError

    try:
        auth = AllegroAuth(
            auth_url=_clean_url(form.auth_url),
            client_id=form.client_id.strip(),
            client_secret=form.client_secret.strip(),
            store=MemoryTokenStore(),
        )
    except BadConfiguration as exc:
        raise MarketplaceSetupError(FailedPart.ADDRESS, exc.user_message) from exc
    try:
        try:
            device = await auth.start_device_flow()
        except AuthFailed as exc:
            raise MarketplaceSetupError(FailedPart.KEY, exc.user_message) from exc
        except ChannelError as exc:
            raise MarketplaceSetupError(FailedPart.ADDRESS, exc.user_message) from exc
        left = device.expires_in - (time.monotonic() - device.started)
        yield AllegroDeviceCode(
            device.user_code,
            device.verification_uri,
            device.verification_uri_complete,
            datetime.now(UTC) + timedelta(seconds=max(0.0, left)),
        )
        try:
            tokens = await auth.complete_device_flow(device)
        except AuthFailed as exc:
            raise MarketplaceSetupError(FailedPart.KEY, exc.user_message) from exc
        except ChannelError as exc:
            raise MarketplaceSetupError(FailedPart.SERVICE, exc.user_message) from exc
        yield AllegroSignedIn(
            dataclasses.replace(
                form,
                refresh_token=tokens.refresh_token,
                access_token=tokens.access_token,
                access_expires_at=tokens.expires_at,
            )
        )
    finally:
        await auth.aclose()
