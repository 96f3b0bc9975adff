"""Setting up a marketplace account (Mirakl now, the other API channels through the same code): test, then store.

The test makes the channel's cheapest authenticated call with the settings as typed and names what failed, so
the seller knows which field to fix: the address (nothing answers, or not that API), the key (refused), or the
shop id (the key has no access to it). Only then is the account stored and its key put in the keyring, bound
to the API's host (``sync.credentials.store_api_key``); the key never reaches the database or a log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from inbox_app.channels.base import (
    AuthFailed,
    BadConfiguration,
    Channel,
    ChannelError,
    RateLimited,
    TemporarilyUnavailable,
)
from inbox_app.i18n import _
from inbox_app.store.accounts import ApiAccountSettings, create_api_account, get_account
from inbox_app.store.db import database_proxy
from inbox_app.store.models import Account
from inbox_app.sync.credentials import store_api_key
from inbox_app.sync.registry import ChannelRegistry

log = logging.getLogger("inbox_app.sync")


class FailedPart(StrEnum):
    ADDRESS = "address"
    KEY = "key"
    SHOP = "shop"
    SERVICE = "service"  # the API answered but is busy or failing: try again later
    INPUT = "input"  # a field is empty or unusable: nothing was tried


@dataclass(frozen=True)
class ChannelSetupError(Exception):
    part: FailedPart
    user_message: str
    #: The form field to fix (``name``, ``username``…), for an :attr:`FailedPart.INPUT` whose field the part
    #: alone does not tell; "" when the part says it.
    field: str = ""

    def __str__(self) -> str:
        return self.user_message


def _describe(part: FailedPart) -> str:
    return {
        FailedPart.ADDRESS: _("address"),
        FailedPart.KEY: _("key refused"),
        FailedPart.SHOP: _("shop id unknown"),
        FailedPart.SERVICE: _("service unavailable"),
        FailedPart.INPUT: _("missing information"),
    }[part]


def setup_error_text(exc: ChannelSetupError) -> str:
    """ "Connection test failed (key refused): …"; an empty field is no failed test (nothing was tried): its
    message alone ("Enter your eBay user name.")."""
    if exc.part is FailedPart.INPUT:
        return exc.user_message
    return _("Connection test failed ({part}): {message}").format(
        part=_describe(exc.part), message=exc.user_message
    )


async def test_channel_account(
    registry: ChannelRegistry, kind: str, name: str, settings: ApiAccountSettings, secret: str
) -> None:
    """Try the settings as typed; raises :class:`ChannelSetupError` naming the part that failed."""
    spec = registry.spec_for(kind)
    if spec is None or spec.build is None:
        raise ChannelSetupError(FailedPart.SERVICE, _("Unknown account kind: {kind}").format(kind=kind))
    try:
        channel = spec.build(settings, name, secret)
    except BadConfiguration as exc:
        raise ChannelSetupError(FailedPart.ADDRESS, exc.user_message) from exc
    await check_channel(channel)


async def check_channel(channel: Channel) -> None:
    """The channel's cheapest authenticated call; raises :class:`ChannelSetupError` naming the part that failed.
    Closes the channel."""
    try:
        await channel.test_connection()
    except AuthFailed as exc:
        part = FailedPart.SHOP if exc.what == "shop" else FailedPart.KEY
        raise ChannelSetupError(part, exc.user_message) from exc
    except BadConfiguration as exc:
        raise ChannelSetupError(FailedPart.ADDRESS, exc.user_message) from exc
    except RateLimited as exc:
        raise ChannelSetupError(FailedPart.SERVICE, exc.user_message) from exc
    except TemporarilyUnavailable as exc:
        # Nothing answered at all (refused, no such host, timeout) is the address; a 5xx is the service.
        part = FailedPart.SERVICE if "→ HTTP" in exc.detail else FailedPart.ADDRESS
        raise ChannelSetupError(part, exc.user_message) from exc
    except ChannelError as exc:
        raise ChannelSetupError(FailedPart.SERVICE, exc.user_message) from exc
    finally:
        await channel.aclose()


def save_channel_account(kind: str, name: str, settings: ApiAccountSettings, secret: str) -> int:
    """Store the account and its key (keyring first: an account without its key would only fail later)."""
    db = database_proxy.obj
    with db.atomic():
        account = create_api_account(kind, name, settings)
        store_api_key(account, secret)
    return int(account.id)


def channel_account(account_id: int) -> Account | None:
    return get_account(account_id)


def stored_api_key(account: Account) -> str:
    """The account's key for the host in its settings ("" when none, or it was saved for another host)."""
    from inbox_app.sync.credentials import api_key

    return api_key(account) or ""


def update_channel_account(account_id: int, name: str, settings: ApiAccountSettings, secret: str) -> None:
    """Store an edited single-key account (Mirakl): name, settings and its key bound to the (new) host; a
    "needs reconnect" state is cleared, so the sync takes the account up again."""
    from inbox_app.store.accounts import set_needs_reconnect

    db = database_proxy.obj
    with db.atomic():
        data = settings.to_dict()
        data.pop("needs_reconnect", None)
        Account.update(name=name, settings=data).where(Account.id == account_id).execute()
        store_api_key(Account.get_by_id(account_id), secret)
        set_needs_reconnect(account_id, None)
