"""Fixtures for the reply editor, canned picker and canned manager tests (import them in the test module).

pytest only loads ``conftest.py`` files; the UI conftest belongs to another part of the app, so these live
here and each test module imports what it uses. Everything is built with the real initialisation code: a
fresh profile (migrations, presets, starter canned library) and real conversations stored through ingest.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from inbox_app import i18n
from inbox_app.domain.conversations import ConversationDetail, Direction, IncomingMessage
from inbox_app.profile import Profile, open_profile
from inbox_app.store import conversations, ingest
from inbox_app.store.accounts import MailAccountSettings, ServerSettings, create_mail_account
from inbox_app.store.models import Account, Setting

CHANNEL_NAMES = {"amazon": "Amazon.es", "email": "shop@example.com", "ebay": "eBay.de", "mirakl": "Fnac"}


@pytest.fixture
def reply_profile(tmp_path: Path) -> Iterator[Profile]:
    i18n.setup("en")
    ingest.clear_policy_cache()  # the cache is per process, keyed by channel id: forget the previous profile's
    profile = open_profile(tmp_path / "reply-profile")
    yield profile
    profile.close()
    ingest.clear_policy_cache()


def _account() -> Account:
    existing = Account.get_or_none(Account.name == "Shop")
    if existing is not None:
        return existing
    server = ServerSettings(host="127.0.0.1", port=1, security="none", user="shop")
    return create_mail_account(
        "Shop", MailAccountSettings(imap=server, smtp=server, from_address="shop@example.com")
    )


_counter = iter(range(1, 1_000_000))


def make_conversation(
    *,
    kind: str = "amazon",
    language: str | None = "es",
    customer_name: str = "Lucía Fernández",
    order_id: str | None = "404-3382716-1234567",
    extra: dict[str, Any] | None = None,
) -> int:
    """One conversation with one inbound message from the buyer; returns its id."""
    n = next(_counter)
    account = _account()
    channel = ingest.ensure_channel(account, kind, CHANNEL_NAMES.get(kind, kind), f"{kind}.test")
    address = f"buyer{n}@marketplace.amazon.es" if kind == "amazon" else f"buyer{n}@example.net"
    customer = ingest.ensure_customer("email", address, customer_name, language)
    conv = ingest.create_conversation(
        account,
        channel,
        remote_id=f"thread-{n}",
        subject="¿Dónde está mi paquete?",
        customer=customer,
        order_id=order_id,
        language=language,
        extra=extra or {},
    )
    ingest.add_message(
        conv,
        IncomingMessage(
            direction=Direction.IN,
            sent_at=datetime.now(UTC) - timedelta(hours=2),
            text="Hola, hice el pedido hace 8 días y no ha llegado.",
            author_name=customer_name,
            author_address=address,
            subject="¿Dónde está mi paquete?",
            remote_id=f"<m{n}@buyer.test>",
            extra={"relay_address": address} if kind == "amazon" else {},
        ),
    )
    return int(conv.id)


def detail_of(conversation_id: int) -> ConversationDetail:
    found = conversations.detail(conversation_id)
    assert found is not None
    return found


def set_setting(key: str, value: object) -> None:
    Setting.insert(key=key, value=value).on_conflict_replace().execute()
