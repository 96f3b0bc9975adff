"""A customer's history across channels and accounts (``services.customers``), over a profile where one buyer,
Lucía, wrote through the Amazon relay, from her own address (about the same order, and later from a second
shop mailbox) and on a Mirakl operator: what links itself, what the seller merges and splits by hand, undo."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from inbox_app.domain.conversations import Direction, IncomingMessage
from inbox_app.services import customers
from inbox_app.store.ingest import add_message, create_conversation, ensure_channel, ensure_customer
from inbox_app.store.models import Account, Conversation, Customer
from tests.unit.test_cli import run_cli

ORDER = "404-3382716-4459122"
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@dataclass
class Shop:
    amazon: int  # Amazon relay mail about ORDER
    own_mail: int  # Lucía from her own address, about ORDER too
    second_box: int  # Lucía again from her own address, to the second shop mailbox
    mirakl: int  # Lucía on Fnac (Mirakl), her marketplace user id
    other: int  # somebody else


def _conversation(
    account: Account,
    kind: str,
    channel_name: str,
    identity: tuple[str, str],
    name: str,
    subject: str,
    order_id: str | None,
    hours: int,
    *,
    marketplace: str | None = None,
    extra: dict[str, Any] | None = None,
) -> int:
    channel = ensure_channel(account, kind, channel_name, marketplace)
    customer = ensure_customer(identity[0], identity[1], name)
    conv = create_conversation(
        account, channel, remote_id=f"{kind}-{hours}", subject=subject, customer=customer, order_id=order_id
    )
    add_message(
        conv,
        IncomingMessage(
            direction=Direction.IN,
            sent_at=T0 + timedelta(hours=hours),
            text=subject,
            author_name=name,
            author_address=identity[1],
            subject=subject,
            remote_id=f"<{kind}-{hours}@example>",
            extra=extra or {},
        ),
    )
    return int(conv.id)


@pytest.fixture
def shop(profile: Any) -> Shop:
    mail = Account.create(kind="imap", name="shop@example.es")
    second = Account.create(kind="imap", name="ventas@example.es")
    fnac = Account.create(kind="mirakl", name="Fnac ES")
    relay = "k3x9q2@marketplace.amazon.es"
    return Shop(
        amazon=_conversation(
            mail,
            "amazon",
            "Amazon.es",
            ("amazon_alias", relay),
            "Lucía Fernández",
            "¿Dónde está mi paquete?",
            ORDER,
            0,
            marketplace="amazon.es",
            extra={"relay_address": relay},
        ),
        own_mail=_conversation(
            mail, "email", "shop@example.es", ("email", "lucia.f@example.es"), "Lucía", "Factura", ORDER, 5
        ),
        second_box=_conversation(
            second,
            "email",
            "ventas@example.es",
            ("email", "lucia.f@example.es"),
            "Lucía",
            "Otra pregunta",
            None,
            9,
        ),
        mirakl=_conversation(
            fnac,
            "mirakl",
            "Fnac ES",
            (f"mirakl:{fnac.id}", "CUST-7781"),
            "Lucía Fernández",
            "Paquete roto",
            "FNAC-88231-A",
            20,
            marketplace="fnac",
        ),
        other=_conversation(
            mail,
            "email",
            "shop@example.es",
            ("email", "jb@example.de"),
            "Jana Becker",
            "Rechnung",
            "302-1",
            30,
        ),
    )


def _ids(conversation_id: int) -> dict[int, str]:
    found = customers.history(conversation_id)
    assert found is not None
    return {c.id: c.linked_by for c in found.conversations}


def test_the_same_order_and_the_same_address_link_themselves_across_accounts(shop: Shop) -> None:
    # The relay alias and her own address are two customers, but one order: one history, every account.
    assert _ids(shop.amazon) == {
        shop.amazon: "customer",
        shop.own_mail: "order",
        shop.second_box: "order",
    }
    assert _ids(shop.second_box) == {
        shop.second_box: "customer",
        shop.own_mail: "customer",
        shop.amazon: "order",
    }
    history = customers.history(shop.amazon)
    assert history is not None
    assert history.name == "Lucía Fernández"
    assert history.identities == (("amazon_alias", "k3x9q2@marketplace.amazon.es"),)
    newest = history.conversations[0]
    assert (newest.id, newest.channel_kind, newest.account_name) == (
        shop.second_box,
        "email",
        "ventas@example.es",
    )
    # Nothing else: not the Mirakl thread (no shared identity or order yet), not Jana.
    assert shop.mirakl not in _ids(shop.amazon) and shop.other not in _ids(shop.amazon)


def test_show_json_lists_the_other_conversations_with_channel_order_and_status(shop: Shop) -> None:
    others = customers.other_conversations_json(shop.amazon)
    assert [o["id"] for o in others] == [shop.second_box, shop.own_mail]
    first = others[1]
    assert first["channel"] == "email" and first["order_id"] == ORDER and first["status"] == "open"
    assert set(first) >= {"id", "channel", "subject", "order_id", "status", "category"}


def test_show_json_through_the_command_line(shop: Shop, profile: Any) -> None:
    result = run_cli("--profile", str(profile.root), "show", str(shop.mirakl), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["other_conversations"] == []  # her Fnac user id links to nothing yet
    result = run_cli("--profile", str(profile.root), "show", str(shop.own_mail), "--json")
    others = json.loads(result.stdout)["other_conversations"]
    assert {(o["id"], o["channel"], o["order_id"], o["status"]) for o in others} == {
        (shop.amazon, "amazon", ORDER, "open"),
        (shop.second_box, "email", None, "open"),
    }


def test_merge_by_hand_brings_the_marketplace_thread_in_and_undo_takes_it_out(shop: Shop) -> None:
    amazon_customer = Conversation.get_by_id(shop.amazon).customer_id
    mirakl_customer = Conversation.get_by_id(shop.mirakl).customer_id
    choices = customers.find_customers("CUST-77", exclude=amazon_customer)
    assert [c.id for c in choices] == [mirakl_customer]

    record = customers.merge(amazon_customer, mirakl_customer)
    assert record is not None
    assert Customer.get_or_none(Customer.id == mirakl_customer) is None
    assert _ids(shop.mirakl)[shop.amazon] == "customer"
    assert set(_ids(shop.amazon)) == {shop.amazon, shop.own_mail, shop.second_box, shop.mirakl}
    history = customers.history(shop.amazon)
    assert history is not None and len(history.identities) == 2

    customers.undo_merge(record)
    assert Conversation.get_by_id(shop.mirakl).customer_id == mirakl_customer
    assert shop.mirakl not in _ids(shop.amazon)
    assert Customer.get_by_id(mirakl_customer).name == "Lucía Fernández"


def test_split_off_moves_the_conversation_and_what_was_written_from_the_same_address(shop: Shop) -> None:
    amazon_customer = Conversation.get_by_id(shop.amazon).customer_id
    mail_customer = Conversation.get_by_id(shop.own_mail).customer_id
    assert customers.merge(amazon_customer, mail_customer) is not None
    assert _ids(shop.amazon)[shop.second_box] == "customer"

    # "Not the same customer": her own address goes with both conversations written from it.
    record = customers.split_off(shop.own_mail)
    assert record is not None
    assert set(record.conversation_ids) == {shop.own_mail, shop.second_box}
    new_customer = Conversation.get_by_id(shop.second_box).customer_id
    assert new_customer == record.new_id != amazon_customer
    assert Conversation.get_by_id(shop.amazon).customer_id == amazon_customer
    assert customers.history(shop.own_mail).identities == (("email", "lucia.f@example.es"),)  # type: ignore[union-attr]

    customers.undo_split(record)
    assert Conversation.get_by_id(shop.second_box).customer_id == amazon_customer
    assert Customer.get_or_none(Customer.id == record.new_id) is None
    # A customer with one conversation has nothing to split off.
    assert customers.split_off(shop.other) is None
