"""Account kinds → how to build their channel: the one place that knows which connector serves which account.

The engine, the outbox and the CLI ask the registry (:meth:`ChannelRegistry.spec_for`) instead of testing
``account.kind``; adding a marketplace is one :class:`ChannelKindSpec` here (a builder from the stored account
and its secret to a ``channels.base.Channel``), plus its connector and its account form. Mail is not in here:
its IMAP/IDLE machinery keeps its own fast path in ``sync.mail_sync``.

The registry is built once (:func:`default_registry`) by whoever builds the engine and handed in; tests hand in
one with other settings (e.g. a shorter timeout).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from inbox_app.channels.base import AuthFailed, Channel, ReplyLimits
from inbox_app.i18n import _
from inbox_app.store.accounts import MIRAKL_KIND, ApiAccountSettings, api_settings
from inbox_app.store.channel_threads import ChannelTarget
from inbox_app.store.models import Account
from inbox_app.sync.credentials import api_key

#: Builds the channel of one account from its stored settings, its display name and its secret.
ChannelBuilder = Callable[[ApiAccountSettings, str, str], Channel]
#: Builds the channel of a stored account whose credentials are several keyring entries (client secret,
#: tokens: ``sync.marketplace_setup``).
StoredChannelBuilder = Callable[[Account], Channel]


@dataclass(frozen=True)
class ChannelKindSpec:
    account_kind: str  # Account.kind
    channel_kind: str  # Channel.kind of its conversations (and the deadline preset's kind)
    label: str  # the kind's name for the user ("Mirakl")
    build: ChannelBuilder | None  # one API key (Mirakl); None: the kind is built by ``build_stored``
    limits: ReplyLimits | None = None  # what a reply must respect (checked before it is queued)
    poll_interval: float = 120.0  # s between two listings in the window (no push from these APIs)
    build_stored: StoredChannelBuilder | None = None  # OAuth / signed kinds: reads its own keyring entries


def _build_mirakl(settings: ApiAccountSettings, name: str, secret: str) -> Channel:
    from inbox_app.channels.mirakl import MiraklChannel, MiraklSettings

    return MiraklChannel(
        MiraklSettings(
            base_url=settings.base_url, api_key=secret, shop_id=settings.shop_id, operator_name=name
        )
    )


def _mirakl_limits() -> ReplyLimits:
    from inbox_app.channels.mirakl import MIRAKL_LIMITS

    return MIRAKL_LIMITS


MIRAKL = ChannelKindSpec(MIRAKL_KIND, "mirakl", "Mirakl", _build_mirakl, limits=_mirakl_limits())


@dataclass
class ChannelRegistry:
    specs: dict[str, ChannelKindSpec] = field(default_factory=dict)

    def register(self, spec: ChannelKindSpec) -> None:
        self.specs[spec.account_kind] = spec

    def kinds(self) -> Iterable[str]:
        return self.specs.keys()

    def spec_for(self, account_kind: str) -> ChannelKindSpec | None:
        return self.specs.get(account_kind)

    def handles(self, account_kind: str) -> bool:
        return account_kind in self.specs

    def target(self, account: Account) -> ChannelTarget:
        """Where the account's conversations are filed: the channel is named after the account (the
        operator, "Fnac ES"), its marketplace label picks the deadline preset."""
        spec = self._spec(account)
        settings = api_settings(account)
        return ChannelTarget(
            account_id=account.id,
            kind=spec.channel_kind,
            name=account.name,
            marketplace=settings.marketplace or account.name,
        )

    def build(self, account: Account, secret: str | None = None) -> Channel:
        """The account's channel; its key comes from the keyring unless given (the set-up's test).

        Raises :class:`AuthFailed` when no key is stored for the account's host."""
        spec = self._spec(account)
        if spec.build is None:
            assert spec.build_stored is not None, spec.account_kind
            return spec.build_stored(account)
        if secret is None:
            secret = api_key(account)
        if not secret:
            raise AuthFailed(account.name, detail=f"no API key in the keyring for account {account.id}")
        return spec.build(api_settings(account), account.name, secret)

    def _spec(self, account: Account) -> ChannelKindSpec:
        spec = self.specs.get(account.kind)
        if spec is None:
            raise ValueError(_("Accounts of kind {kind} cannot be synced.").format(kind=account.kind))
        return spec


def _build_stored(account: Account) -> Channel:
    from inbox_app.sync.marketplace_setup import build_stored_channel

    return build_stored_channel(account)


def _limits(kind: str) -> ReplyLimits:
    from inbox_app.channels.allegro import ALLEGRO_LIMITS
    from inbox_app.channels.ebay import EBAY_LIMITS
    from inbox_app.channels.kaufland import KAUFLAND_LIMITS

    return {"ebay": EBAY_LIMITS, "kaufland": KAUFLAND_LIMITS, "allegro": ALLEGRO_LIMITS}[kind]


EBAY = ChannelKindSpec("ebay", "ebay", "eBay", None, limits=_limits("ebay"), build_stored=_build_stored)
KAUFLAND = ChannelKindSpec(
    "kaufland", "kaufland", "Kaufland", None, limits=_limits("kaufland"), build_stored=_build_stored
)
ALLEGRO = ChannelKindSpec(
    "allegro", "allegro", "Allegro", None, limits=_limits("allegro"), build_stored=_build_stored
)


def default_registry() -> ChannelRegistry:
    registry = ChannelRegistry()
    for spec in (MIRAKL, EBAY, KAUFLAND, ALLEGRO):
        registry.register(spec)
    return registry
