"""Each account as its badges show it: which channel it is (its icon and the marketplace's name) and whether its
sign-in failed and waits for the seller ("needs reconnect").

Why here: the sidebar's account entries, the reconnect banner and the status bar all need the same facts, and
``ui`` may not read accounts from the store. "Needs reconnect" is set by the sync when a marketplace refused the
account's key or token (``channels.base.AuthFailed``) and cleared by its next successful round.
"""

from __future__ import annotations

from dataclasses import dataclass

from inbox_app.domain.conversations import CHANNEL_LABELS, ChannelKind
from inbox_app.i18n import N_, _
from inbox_app.store import accounts as store_accounts

#: Account kinds whose conversations are not filed under a channel of the same name.
_ACCOUNT_CHANNEL = {store_accounts.MAIL_KIND: ChannelKind.EMAIL.value}
DEMO_LABEL = N_("Demo")


@dataclass(frozen=True)
class AccountStatus:
    id: int
    name: str
    kind: str  # Account.kind ("imap", "ebay", "mirakl"…)
    channel_kind: str  # which channel icon: "email" for a mailbox, the marketplace's kind, "" for the demo
    kind_label: str  # the channel's name for the seller ("eBay", "E-mail"), translated
    needs_reconnect: str | None  # why its sign-in failed (translated), None when it is fine


def channel_kind_of(account_kind: str) -> str:
    """The channel kind whose icon an account of ``account_kind`` wears ("" when none fits: the demo)."""
    kind = _ACCOUNT_CHANNEL.get(account_kind, account_kind)
    return kind if kind in set(ChannelKind) else ""


def kind_label(account_kind: str) -> str:
    if account_kind == store_accounts.DEMO_KIND:
        return _(DEMO_LABEL)
    label = CHANNEL_LABELS.get(channel_kind_of(account_kind))
    return _(label) if label else account_kind


def account_statuses() -> list[AccountStatus]:
    """Every account (removed ones too: their conversations stay), by id."""
    return [
        AccountStatus(
            id=int(account.id),
            name=str(account.name),
            kind=str(account.kind),
            channel_kind=channel_kind_of(str(account.kind)),
            kind_label=kind_label(str(account.kind)),
            needs_reconnect=store_accounts.needs_reconnect(account),
        )
        for account in store_accounts.list_accounts()
    ]
