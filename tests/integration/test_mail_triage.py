"""Triage on real mail (Dovecot): incoming mail is categorised by its words once its body is fetched, and a
customer's new mail reopens a closed conversation, or wakes a snoozed one before its time, on the next sync."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from inbox_app.domain.conversations import Status
from inbox_app.services import triage
from inbox_app.store.models import Account, Conversation
from tests.integration.test_mail_sync import _sync, mail_account, make_mail, syncer
from tests.servers.dovecot import DovecotServer

pytestmark = pytest.mark.integration


def test_mail_is_categorised_and_a_new_mail_reopens_a_closed_conversation(
    profile: Any, dovecot: DovecotServer, mail_user: tuple[str, str]
) -> None:
    user, password = mail_user
    account: Account = mail_account(dovecot, user, password)
    now = datetime.now(UTC).replace(microsecond=0)
    mails = {
        1: ("Pedido 171-555", "Hola, mi pedido aún no ha llegado y el seguimiento no se actualiza."),
        2: (
            "Bestellung 02-4431",
            "Guten Tag, die Teekanne kam zerbrochen an, die Verpackung war beschädigt.",
        ),
        3: ("Order question", "Could you send me an invoice with VAT for my order, please?"),
    }
    for n, (subject, body) in mails.items():
        sender = f"Buyer {n} <buyer{n}@example.net>"
        message = make_mail(n, subject=subject, body=body, sender=sender, date=now - timedelta(hours=n))
        dovecot.append(user, password, "INBOX", message)
    _sync_once(account, profile)
    by_subject = {c.subject: c for c in Conversation.select()}
    assert (by_subject["Pedido 171-555"].category, by_subject["Pedido 171-555"].category_source) == (
        "delivery",
        "rule",
    )
    assert by_subject["Bestellung 02-4431"].category == "damaged"
    assert by_subject["Order question"].category == "invoice"

    closed = by_subject["Pedido 171-555"].id
    triage.set_status([closed], Status.CLOSED)
    reply = make_mail(
        9,
        subject="Re: Pedido 171-555",
        sender="Buyer 1 <buyer1@example.net>",
        in_reply_to="<msg1@example.net>",
        body="¿Alguna novedad? Sigue sin llegar.",
        date=datetime.now(UTC) + timedelta(seconds=5),
    )
    dovecot.append(user, password, "INBOX", reply)
    _sync_once(account, profile)
    again = Conversation.get_by_id(closed)
    assert again.status == "open" and again.deadline_at is not None
    assert again.category == "delivery"  # unchanged by the new message


def test_a_snoozed_mail_conversation_wakes_when_the_customer_writes(
    profile: Any, dovecot: DovecotServer, mail_user: tuple[str, str]
) -> None:
    user, password = mail_user
    account: Account = mail_account(dovecot, user, password)
    now = datetime.now(UTC).replace(microsecond=0)
    first = make_mail(
        1, subject="Pedido 171-555", body="Mi pedido no ha llegado.", date=now - timedelta(hours=3)
    )
    dovecot.append(user, password, "INBOX", first)
    _sync_once(account, profile)
    (conversation,) = Conversation.select()
    far = datetime(2099, 12, 1, 8, tzinfo=UTC)
    triage.set_status([conversation.id], Status.SNOOZED, far)
    _sync_once(account, profile)  # nothing new: it sleeps on
    assert Conversation.get_by_id(conversation.id).status == "snoozed"

    again = make_mail(
        2, subject="Re: Pedido 171-555", sender="Buyer 1 <buyer1@example.net>", in_reply_to="<msg1@example.net>",
        body="¿Alguna novedad? Sigue sin llegar.", date=datetime.now(UTC) + timedelta(seconds=5),
    )  # fmt: skip
    dovecot.append(user, password, "INBOX", again)
    _sync_once(account, profile)
    woke = Conversation.get_by_id(conversation.id)
    assert (woke.status, woke.snoozed_until) == ("open", None)
    assert woke.deadline_at is not None, "the clock runs again"


def _sync_once(account: Account, profile: Any) -> None:
    import asyncio

    asyncio.run(_sync(syncer(account, profile)))
