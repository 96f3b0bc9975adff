"""Fixtures for the UI tests: a fresh profile built by the real initialisation code, filled through ingest."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from inbox_app.domain.conversations import Direction, IncomingMessage
from inbox_app.profile import Profile, open_profile
from inbox_app.store.ingest import (
    add_message,
    create_conversation,
    ensure_channel,
    ensure_customer,
)
from inbox_app.store.models import Account, Conversation


@pytest.fixture
def profile(tmp_path: Path) -> Iterator[Profile]:
    from inbox_app import i18n

    i18n.setup("en")  # the assertions read English text
    prof = open_profile(tmp_path / "profile")
    yield prof
    prof.close()


@dataclass
class Seed:
    """Adds conversations to a profile the way a channel would (through ``store.ingest``)."""

    profile: Profile
    account: Account | None = None

    def _account(self) -> Account:
        if self.account is None:
            self.account = Account.create(kind="test", name="Test shop")
        return self.account

    def conversation(
        self,
        *,
        kind: str = "amazon",
        marketplace: str | None = "amazon.de",
        channel_name: str = "Amazon.de",
        customer: str = "Jana Becker",
        subject: str = "Where is my parcel?",
        text: str = "Hello, my order has not arrived yet.",
        html: str | None = None,
        order_id: str | None = "302-1234567-7654321",
        received_at: datetime | None = None,
        unread: bool = True,
        replied: bool = False,
        problems: tuple[str, ...] = (),
        attachments: tuple[tuple[str, str, bytes], ...] = (),
    ) -> Conversation:
        account = self._account()
        channel = ensure_channel(account, kind, channel_name, marketplace)
        person = ensure_customer("email", f"{customer.replace(' ', '.').lower()}@example.com", customer)
        conv = create_conversation(
            account,
            channel,
            remote_id=None,
            subject=subject,
            customer=person,
            order_id=order_id,
            language="de",
        )
        when = received_at or datetime.now(UTC) - timedelta(hours=1)
        add_message(
            conv,
            IncomingMessage(
                direction=Direction.IN,
                sent_at=when,
                text=text,
                html=html,
                author_name=customer,
                author_address=f"{customer.replace(' ', '.').lower()}@example.com",
                subject=subject,
                remote_id=f"<in-{conv.id}@example.com>",
                is_read=not unread,
                problems=problems,
                attachments=attachments,
            ),
            blobs=self.profile.blobs,
        )
        if replied:
            add_message(
                conv,
                IncomingMessage(
                    direction=Direction.OUT,
                    sent_at=when + timedelta(minutes=30),
                    text="Thank you, we are on it.",
                    author_name="Test shop",
                    remote_id=f"<out-{conv.id}@example.com>",
                ),
                blobs=self.profile.blobs,
            )
        return Conversation.get_by_id(conv.id)

    def many(self, count: int, *, start: datetime | None = None) -> list[Conversation]:
        """``count`` conversations received one per ten minutes (so deadlines differ), mixed channels."""
        base = start or datetime.now(UTC) - timedelta(hours=30)
        kinds = [
            ("amazon", "amazon.de", "Amazon.de"),
            ("ebay", None, "eBay"),
            ("email", None, "shop@example.com"),
            ("mirakl", "fnac", "Fnac"),
        ]
        made = []
        for i in range(count):
            kind, market, name = kinds[i % len(kinds)]
            made.append(
                self.conversation(
                    kind=kind,
                    marketplace=market,
                    channel_name=name,
                    customer=f"Customer {i:03d}",
                    subject=f"Question number {i:03d}",
                    text=f"Message body {i:03d} about parcel",
                    order_id=f"ORD-{i:05d}",
                    received_at=base + timedelta(minutes=10 * i),
                )
            )
        return made


@pytest.fixture
def seed(profile: Profile) -> Seed:
    return Seed(profile)


@pytest.fixture
def demo_profile(demo_template: Path, tmp_path: Path) -> Path:
    """A copy of the module's ``demo_template`` (a demo built once per module: the ``demo`` command is slow), so
    each test may change its profile without the next one seeing it."""
    target = tmp_path / "profile"
    shutil.copytree(demo_template, target)
    return target
