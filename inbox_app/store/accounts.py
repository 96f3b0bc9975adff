"""Mail accounts: create, list and read the connection settings of a mailbox.

The settings are plain JSON on ``Account.settings`` so a new option needs no migration:
``{imap: {host, port, security, user}, smtp: {host, port, security, user}, from_address, from_name,
folders: [...], amazon_sender: bool}``. The password is *not* here: it lives in the OS keyring (see
``inbox_app.secrets``); this module never sees it, so the database (and its backups) can never leak it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from inbox_app.store.models import Account

MAIL_KIND = "imap"
#: Marketplace accounts reached over an HTTP API (``sync.registry`` knows how to build their channel).
MIRAKL_KIND = "mirakl"
#: The demo workspace's account: its replies are queued like real ones but never delivered.
DEMO_KIND = "demo"
SECURITY_VALUES = ("tls", "starttls", "none")


@dataclass(frozen=True)
class ServerSettings:
    host: str
    port: int
    security: str  # tls, starttls, none
    user: str

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "security": self.security, "user": self.user}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServerSettings:
        return cls(
            host=str(data.get("host", "")),
            port=int(data.get("port", 0)),
            security=str(data.get("security", "tls")),
            user=str(data.get("user", "")),
        )


@dataclass(frozen=True)
class MailAccountSettings:
    imap: ServerSettings
    smtp: ServerSettings
    from_address: str
    from_name: str = ""
    folders: tuple[str, ...] = ("INBOX",)
    amazon_sender: bool = False  # this address is registered as an Amazon seller sender
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = dict(self.extra)
        data.update(
            {
                "imap": self.imap.to_dict(),
                "smtp": self.smtp.to_dict(),
                "from_address": self.from_address,
                "from_name": self.from_name,
                "folders": list(self.folders),
                "amazon_sender": self.amazon_sender,
            }
        )
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MailAccountSettings:
        known = {"imap", "smtp", "from_address", "from_name", "folders", "amazon_sender"}
        return cls(
            imap=ServerSettings.from_dict(dict(data.get("imap") or {})),
            smtp=ServerSettings.from_dict(dict(data.get("smtp") or {})),
            from_address=str(data.get("from_address", "")),
            from_name=str(data.get("from_name", "")),
            folders=tuple(data.get("folders") or ("INBOX",)),
            amazon_sender=bool(data.get("amazon_sender", False)),
            extra={k: v for k, v in data.items() if k not in known},
        )

    @property
    def from_domain(self) -> str:
        return self.from_address.rpartition("@")[2] or "localhost"


def create_mail_account(name: str, settings: MailAccountSettings) -> Account:
    account: Account = Account.create(kind=MAIL_KIND, name=name, settings=settings.to_dict())
    return account


@dataclass(frozen=True)
class ApiAccountSettings:
    """A marketplace account reached over an HTTP API (Mirakl, and the others later).

    ``base_url`` is where its API answers (the key is bound to that host in the keyring), ``shop_id`` picks the
    shop when one key serves several, ``marketplace`` is an optional label (the operator, e.g. "carrefour")
    that picks its deadline preset. Kind-specific extras stay in ``extra``.
    """

    base_url: str
    shop_id: str | None = None
    marketplace: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = dict(self.extra)
        data.update({"base_url": self.base_url, "shop_id": self.shop_id, "marketplace": self.marketplace})
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ApiAccountSettings:
        known = {"base_url", "shop_id", "marketplace"}
        shop = data.get("shop_id")
        label = data.get("marketplace")
        return cls(
            base_url=str(data.get("base_url", "")),
            shop_id=str(shop) if shop not in (None, "") else None,
            marketplace=str(label) if label not in (None, "") else None,
            extra={k: v for k, v in data.items() if k not in known},
        )


def create_api_account(kind: str, name: str, settings: ApiAccountSettings) -> Account:
    account: Account = Account.create(kind=kind, name=name, settings=settings.to_dict())
    return account


def is_api_account(account: Account) -> bool:
    """A marketplace account reached over an HTTP API (anything but a mailbox or the demo)."""
    return account.kind not in (MAIL_KIND, DEMO_KIND)


def api_settings(account: Account) -> ApiAccountSettings:
    return ApiAccountSettings.from_dict(dict(account.settings or {}))


#: ``Account.settings`` key holding the user message of an account whose key or token was refused.
NEEDS_RECONNECT_KEY = "needs_reconnect"


def set_needs_reconnect(account_id: int, message: str | None) -> None:
    """Mark (message) or clear (None) "needs reconnect": the channel refused the account's credentials. The
    stored live state follows (``store.account_states``), so the sidebar never says otherwise than the banner."""
    from inbox_app.store.account_states import mark_reconnect_state

    account = Account.get_or_none(Account.id == account_id)
    if account is None:
        return
    settings = dict(account.settings or {})
    if message is None and NEEDS_RECONNECT_KEY not in settings:
        mark_reconnect_state(account_id, None)  # (an edit may have dropped the key from the settings first)
        return
    mark_reconnect_state(account_id, message)
    if message is None:
        settings.pop(NEEDS_RECONNECT_KEY, None)
    else:
        settings[NEEDS_RECONNECT_KEY] = message
    Account.update(settings=settings).where(Account.id == account_id).execute()


def needs_reconnect(account: Account) -> str | None:
    value = (account.settings or {}).get(NEEDS_RECONNECT_KEY)
    return str(value) if value else None


def update_mail_settings(account: Account, settings: MailAccountSettings) -> None:
    account.settings = settings.to_dict()
    account.save()


def list_accounts(kind: str | None = None, *, enabled_only: bool = False) -> list[Account]:
    query = Account.select().order_by(Account.id)
    if kind is not None:
        query = query.where(Account.kind == kind)
    if enabled_only:
        query = query.where(Account.enabled == True)  # noqa: E712
    return list(query)


def get_account(account_id: int) -> Account | None:
    account: Account | None = Account.get_or_none(Account.id == account_id)
    return account


def mail_settings(account: Account) -> MailAccountSettings:
    return MailAccountSettings.from_dict(dict(account.settings or {}))


def account_info(account: Account) -> dict[str, Any]:
    """A JSON-ready description for ``account list --json`` (the settings hold no secret by design)."""
    return {
        "id": account.id,
        "kind": account.kind,
        "name": account.name,
        "enabled": bool(account.enabled),
        "created_at": account.created_at.isoformat() if account.created_at else None,
        "settings": dict(account.settings or {}),
    }


#: ``Account.settings`` flag of an account the seller removed while keeping its conversations.
REMOVED_KEY = "removed"


def is_removed(account: Account) -> bool:
    return bool((account.settings or {}).get(REMOVED_KEY))


def update_account(account: Account, name: str, settings: MailAccountSettings) -> None:
    """New name and connection settings (an edit in the dialog or ``account edit``); a removed account whose
    conversations were kept comes back to life this way."""
    account.name = name
    account.settings = settings.to_dict()  # without the REMOVED_KEY flag
    account.enabled = True
    account.save()


def remove_account(account: Account, *, delete_conversations: bool) -> int:
    """Remove an account; returns how many conversations went with it.

    ``delete_conversations``: the account row goes, and with it (foreign keys cascade) its conversations,
    messages, replies and sync state. Otherwise the account stays as a disabled, "removed" row that only
    holds its conversations: they stay readable and searchable, nothing syncs or sends any more.
    """
    from inbox_app.store.db import database_proxy
    from inbox_app.store.models import Conversation

    with database_proxy.obj.atomic():
        count: int = Conversation.select().where(Conversation.account == account.id).count()
        if delete_conversations:
            account.delete_instance()
            return count
        settings = dict(account.settings or {})
        settings[REMOVED_KEY] = True
        account.settings = settings
        account.enabled = False
        account.save()
    return 0
