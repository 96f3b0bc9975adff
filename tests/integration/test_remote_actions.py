"""Read or closed here, told there: the sync engine performs the queued "mark read" (eBay, Allegro) and
"close" (Kaufland) over the sandboxes on 127.0.0.1, once, retries with backoff after an outage, survives a
restart (a new engine on the same database), and drops with a log line what the channel cannot do."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest

from inbox_app.channels.allegro import AllegroChannel, AllegroSettings, MemoryTokenStore
from inbox_app.channels.base import Channel
from inbox_app.channels.ebay import EbayChannel, EbaySettings
from inbox_app.channels.ebay import MemoryTokenStore as EbayTokens
from inbox_app.channels.http.retry import RetryPolicy
from inbox_app.channels.kaufland import KauflandChannel, KauflandSettings
from inbox_app.domain.conversations import Status
from inbox_app.domain.views import View, ViewKind
from inbox_app.services import conversations
from inbox_app.store.accounts import ApiAccountSettings, create_api_account
from inbox_app.store.models import utcnow
from inbox_app.store.remote_actions import RemoteAction, pending_actions
from inbox_app.sync.credentials import store_api_key
from inbox_app.sync.engine import EngineReport, SyncEngine
from inbox_app.sync.registry import ChannelKindSpec, ChannelRegistry
from tests.servers.allegro import AllegroSandbox
from tests.servers.ebay import EbaySandbox
from tests.servers.http_sandbox import Fault
from tests.servers.kaufland import KauflandSandbox

pytest_plugins = [
    "tests.integration.allegro_fixtures",
    "tests.integration.ebay_fixtures",
    "tests.integration.kaufland_fixtures",
]

FAST_RETRY = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05, max_wait=2.0)


def _account(kind: str, base_url: str) -> int:
    account = create_api_account(kind, f"{kind} shop", ApiAccountSettings(base_url=base_url))
    store_api_key(account, "held-by-the-channel")  # the sandboxes' credentials travel in the built channel
    return int(account.id)


def _registry(kind: str, build: Callable[[], Channel]) -> ChannelRegistry:
    registry = ChannelRegistry()
    registry.register(ChannelKindSpec(kind, kind, kind.title(), lambda _s, _n, _k: build()))
    return registry


def _sync(profile: Any, registry: ChannelRegistry) -> EngineReport:
    """One round of a new engine (as ``inbox-app sync --once`` in a new process would run it)."""

    async def main() -> EngineReport:
        engine = SyncEngine(profile.blobs, registry=registry)
        try:
            return await engine.run_once()
        finally:
            await engine.close()

    report = asyncio.run(main())
    assert report.ok, report.problems
    return report


def _only_conversation() -> int:
    ids = conversations.conversation_ids(View(ViewKind.ALL))
    assert len(ids) == 1
    return ids[0]


def _synced_conversation(
    profile: Any, kind: str, base_url: str, build: Callable[[], Channel]
) -> tuple[ChannelRegistry, int]:
    """An account of ``kind`` on the sandbox, synced once: the registry that builds its channel, and the id of
    the one conversation the sync stored."""
    _account(kind, base_url)
    registry = _registry(kind, build)
    _sync(profile, registry)
    return registry, _only_conversation()


def test_reading_an_allegro_conversation_marks_it_read_there_once(
    profile: Any,
    allegro_sandbox: AllegroSandbox,
    allegro_settings: AllegroSettings,
    allegro_tokens: MemoryTokenStore,
) -> None:
    thread = allegro_sandbox.add_thread()
    allegro_sandbox.add_message(thread.id, "Kiedy wyślecie paczkę?")
    registry, cid = _synced_conversation(
        profile,
        "allegro",
        allegro_sandbox.base_url,
        lambda: AllegroChannel(allegro_settings, allegro_tokens, retry=FAST_RETRY),
    )

    conversations.mark_read(cid)
    conversations.mark_unread(cid)  # changed their mind before the sync: Allegro is never told
    assert pending_actions() == []
    conversations.mark_read(cid)
    conversations.mark_read(cid)  # read again (another click): still one action
    assert [(a.thread_id, a.action.value) for a in pending_actions()] == [(thread.id, "mark_read")]
    assert allegro_sandbox.read_marks == []  # nothing leaves the machine until the engine's round

    _sync(profile, registry)
    assert allegro_sandbox.read_marks == [(thread.id, True)]
    assert pending_actions() == []
    _sync(profile, registry)
    assert allegro_sandbox.read_marks == [(thread.id, True)]  # done once, not again


def test_reading_an_ebay_conversation_marks_it_read_there(
    profile: Any, ebay_sandbox: EbaySandbox, ebay_settings: EbaySettings, ebay_tokens: EbayTokens
) -> None:
    conv_id = ebay_sandbox.add_conversation().id
    ebay_sandbox.add_message(conv_id, "Is this still available?")
    registry, cid = _synced_conversation(
        profile,
        "ebay",
        ebay_sandbox.base_url,
        lambda: EbayChannel(ebay_settings, ebay_tokens, retry=FAST_RETRY),
    )
    assert ebay_sandbox.calls("update_conversation", "POST") == []

    conversations.mark_read(cid)
    _sync(profile, registry)
    assert len(ebay_sandbox.calls("update_conversation", "POST")) == 1
    assert ebay_sandbox.conversations[conv_id].read is True
    assert pending_actions() == []


def test_closing_a_kaufland_ticket_closes_it_there_and_read_is_dropped_with_a_log_line(
    profile: Any,
    kaufland_sandbox: KauflandSandbox,
    kaufland_settings: KauflandSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ticket = kaufland_sandbox.add_ticket().id
    kaufland_sandbox.add_message(ticket, "Wo bleibt meine Bestellung?")
    registry, cid = _synced_conversation(
        profile,
        "kaufland",
        kaufland_sandbox.base_url,
        lambda: KauflandChannel(kaufland_settings, retry=FAST_RETRY),
    )

    conversations.mark_read(cid)  # Kaufland has no "read": dropped when its turn comes
    assert conversations.set_status(cid, Status.CLOSED, actor="user")
    assert conversations.set_status(cid, Status.OPEN, actor="user")  # undone before the sync: withdrawn
    assert [a.action.value for a in pending_actions()] == ["mark_read"]
    assert conversations.set_status(cid, Status.CLOSED, actor="user")
    with caplog.at_level(logging.INFO, logger="inbox_app.sync"):
        _sync(profile, registry)
    assert kaufland_sandbox.closed == [ticket]
    assert pending_actions() == []
    assert any("cannot mark_read: dropped" in r.getMessage() for r in caplog.records)


def test_an_outage_postpones_the_action_which_a_restarted_engine_then_performs(
    profile: Any,
    allegro_sandbox: AllegroSandbox,
    allegro_settings: AllegroSettings,
    allegro_tokens: MemoryTokenStore,
) -> None:
    thread = allegro_sandbox.add_thread()
    allegro_sandbox.add_message(thread.id, "Czy mogę zmienić adres?")
    registry, cid = _synced_conversation(
        profile,
        "allegro",
        allegro_sandbox.base_url,
        lambda: AllegroChannel(allegro_settings, allegro_tokens, retry=FAST_RETRY),
    )
    conversations.mark_read(cid)

    allegro_sandbox.inject(
        Fault("status", status=503, method="PUT", path_prefix="/messaging/threads", times=50)
    )
    _sync(profile, registry)
    [waiting] = pending_actions()
    assert waiting.attempts == 1 and allegro_sandbox.read_marks == []
    _sync(profile, registry)  # its backoff has not passed: not even tried
    assert pending_actions()[0].attempts == 1

    allegro_sandbox.faults.clear()
    RemoteAction.update(next_attempt_at=utcnow()).execute()  # the backoff has passed
    _sync(profile, registry)  # a new engine on the same database: the action survived
    assert allegro_sandbox.read_marks == [(thread.id, True)]
    assert pending_actions() == []
