"""Customers across channels: one buyer's conversations together, and merging or splitting them by hand.

A conversation is filed under a :class:`Customer` at ingest through one identity (``CustomerIdentity``: an
e-mail address, an Amazon relay alias, a marketplace's user id per account). The same buyer often reaches the
shop through several of them (the Amazon alias and, later, a plain mail from their own address; Mirakl on two
operators), so the history of a customer gathers:

* every conversation filed under the customer (``linked_by = "customer"``);
* conversations of other customers about one of the same orders (``"order"``);
* conversations of other customers having an identity of the same value under another kind (``"address"``).

What the seller knows better is written by hand: :func:`merge` files one customer's identities and
conversations under another (undone by :func:`unmerge` with the :class:`MergeRecord` it returned);
:func:`split_off` moves a conversation — and the identities it was written from, with the other conversations
written from those — to a customer of its own (undone by :func:`unsplit`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import peewee

from inbox_app.store.db import database_proxy
from inbox_app.store.models import Account, Channel, Conversation, Customer, CustomerIdentity, Message

#: At most this many conversations in one customer's history (the newest first).
HISTORY_LIMIT = 200


@dataclass(frozen=True)
class LinkedConversation:
    """One conversation of a customer's history."""

    id: int
    channel_kind: str
    channel_name: str
    account_name: str
    subject: str
    order_id: str | None
    status: str
    category: str | None  # when the profile has categories (issue 14.2), else None
    last_message_at: datetime | None
    customer_id: int | None
    linked_by: str  # "customer" (filed under them), "order" (same order id), "address" (same identity value)


@dataclass(frozen=True)
class CustomerHistory:
    customer_id: int | None
    name: str
    identities: tuple[tuple[str, str], ...]  # (kind, value)
    conversations: tuple[LinkedConversation, ...]  # every one, this conversation included, newest first


@dataclass(frozen=True)
class CustomerChoice:
    """A customer to merge with, as the picker lists them."""

    id: int
    name: str
    identities: tuple[tuple[str, str], ...]
    conversation_count: int


@dataclass(frozen=True)
class MergeRecord:
    """What :func:`merge` moved, so that :func:`unmerge` can put it back."""

    kept_id: int
    removed_id: int
    removed_name: str
    removed_language: str | None
    kept_name_before: str
    identity_ids: tuple[int, ...]
    conversation_ids: tuple[int, ...]


@dataclass(frozen=True)
class SplitRecord:
    """What :func:`split_off` moved to a new customer, so that :func:`unsplit` can put it back."""

    from_id: int
    new_id: int
    identity_ids: tuple[int, ...]
    conversation_ids: tuple[int, ...]


def _rows(query: Any) -> list[tuple[Any, ...]]:
    return list(query.tuples())


def _column(query: Any) -> list[Any]:
    """The first column of a query's rows."""
    return [row[0] for row in query.tuples()]


def _category(conv: Conversation) -> str | None:
    value = conv.__data__.get("category")  # the column exists once categories are in the schema
    return str(value) if value else None


def _linked(rows: Iterable[Conversation], linked_by: dict[int, str]) -> list[LinkedConversation]:
    result = []
    for conv in rows:
        result.append(
            LinkedConversation(
                id=int(conv.id),
                channel_kind=str(conv.channel.kind),
                channel_name=str(conv.channel.name),
                account_name=str(conv.account.name),
                subject=str(conv.subject or conv.snippet or ""),
                order_id=conv.order_id,
                status=str(conv.status),
                category=_category(conv),
                last_message_at=conv.last_message_at,
                customer_id=conv.customer_id,
                linked_by=linked_by.get(int(conv.id), "customer"),
            )
        )
    return result


def _identities(customer_id: int) -> list[CustomerIdentity]:
    return list(
        CustomerIdentity.select()
        .where(CustomerIdentity.customer == customer_id)
        .order_by(CustomerIdentity.id)
    )


def history(conversation_id: int, limit: int = HISTORY_LIMIT) -> CustomerHistory | None:
    """The customer of a conversation with every conversation of theirs (see the module docstring)."""
    conv: Conversation | None = Conversation.get_or_none(Conversation.id == conversation_id)
    if conv is None:
        return None
    customer_id = conv.customer_id
    identities = _identities(customer_id) if customer_id is not None else []
    linked_by: dict[int, str] = {}
    if customer_id is not None:
        for cid in _column(Conversation.select(Conversation.id).where(Conversation.customer == customer_id)):
            linked_by[int(cid)] = "customer"
    linked_by[int(conv.id)] = "customer"
    orders = {
        str(o)
        for o in _column(
            Conversation.select(Conversation.order_id).where(
                Conversation.id.in_(list(linked_by)) & Conversation.order_id.is_null(False)
            )
        )
        if o
    }
    # Customers linked by an order id or by an identity of the same value: all their conversations belong.
    linked_customers: dict[int, str] = {}
    if orders:
        query = Conversation.select(Conversation.id, Conversation.customer).where(
            Conversation.order_id.in_(sorted(orders))
        )
        for row in _rows(query):
            cid, other_customer = row[0], row[1]
            linked_by.setdefault(int(cid), "order")
            if other_customer is not None and other_customer != customer_id:
                linked_customers.setdefault(int(other_customer), "order")
    values = {str(i.value).casefold() for i in identities}
    if values and customer_id is not None:
        others = _column(
            CustomerIdentity.select(CustomerIdentity.customer)
            .where(
                peewee.fn.LOWER(CustomerIdentity.value).in_(sorted(values))
                & (CustomerIdentity.customer != customer_id)
            )
            .distinct()
        )
        for other_customer in others:
            linked_customers.setdefault(int(other_customer), "address")
    if linked_customers:
        query = Conversation.select(Conversation.id, Conversation.customer).where(
            Conversation.customer.in_(sorted(linked_customers))
        )
        for row in _rows(query):
            linked_by.setdefault(int(row[0]), linked_customers[int(row[1])])
    rows = (
        Conversation.select(Conversation, Channel, Account)
        .join(Channel)
        .switch(Conversation)
        .join(Account)
        .where(Conversation.id.in_(list(linked_by)))
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        .limit(limit)
    )
    customer = Customer.get_or_none(Customer.id == customer_id) if customer_id is not None else None
    return CustomerHistory(
        customer_id=customer_id,
        name=str(customer.name or "")
        if customer is not None and customer.name
        else str(conv.customer_name or ""),
        identities=tuple((str(i.kind), str(i.value)) for i in identities),
        conversations=tuple(_linked(rows, linked_by)),
    )


def find_customers(text: str, *, exclude: int | None = None, limit: int = 20) -> list[CustomerChoice]:
    """Customers whose name or one of whose identities contains ``text`` (case-insensitive), for "Merge with…"."""
    needle = f"%{text.strip()}%"
    by_identity = CustomerIdentity.select(CustomerIdentity.customer).where(CustomerIdentity.value**needle)
    query = Customer.select().where((Customer.name**needle) | Customer.id.in_(by_identity))
    if exclude is not None:
        query = query.where(Customer.id != exclude)
    choices = []
    for customer in query.order_by(Customer.name, Customer.id).limit(limit):
        count = Conversation.select().where(Conversation.customer == customer.id).count()
        choices.append(
            CustomerChoice(
                id=int(customer.id),
                name=str(customer.name or ""),
                identities=tuple((str(i.kind), str(i.value)) for i in _identities(customer.id)),
                conversation_count=int(count),
            )
        )
    return choices


def merge(kept_id: int, removed_id: int) -> MergeRecord | None:
    """File ``removed_id``'s identities and conversations under ``kept_id`` and delete it, in one transaction.
    None when the two are the same or either does not exist."""
    if kept_id == removed_id:
        return None
    with database_proxy.obj.atomic():
        kept = Customer.get_or_none(Customer.id == kept_id)
        removed = Customer.get_or_none(Customer.id == removed_id)
        if kept is None or removed is None:
            return None
        identity_ids = tuple(int(i.id) for i in _identities(removed_id))
        conversation_ids = tuple(
            int(c)
            for c in _column(Conversation.select(Conversation.id).where(Conversation.customer == removed_id))
        )
        CustomerIdentity.update(customer=kept_id).where(CustomerIdentity.customer == removed_id).execute()
        Conversation.update(customer=kept_id).where(Conversation.customer == removed_id).execute()
        kept_name_before = str(kept.name or "")
        if not kept_name_before and removed.name:
            Customer.update(name=removed.name).where(Customer.id == kept_id).execute()
        record = MergeRecord(
            kept_id=kept_id,
            removed_id=removed_id,
            removed_name=str(removed.name or ""),
            removed_language=removed.language,
            kept_name_before=kept_name_before,
            identity_ids=identity_ids,
            conversation_ids=conversation_ids,
        )
        Customer.delete().where(Customer.id == removed_id).execute()
    return record


def unmerge(record: MergeRecord) -> None:
    """Undo :func:`merge`: the removed customer back (same id), with what was moved from it."""
    with database_proxy.obj.atomic():
        Customer.insert(
            id=record.removed_id, name=record.removed_name, language=record.removed_language
        ).on_conflict_ignore().execute()
        _move(record.removed_id, record.identity_ids, record.conversation_ids)
        Customer.update(name=record.kept_name_before).where(Customer.id == record.kept_id).execute()


def _move(customer_id: int, identity_ids: Sequence[int], conversation_ids: Sequence[int]) -> None:
    if identity_ids:
        CustomerIdentity.update(customer=customer_id).where(
            CustomerIdentity.id.in_(list(identity_ids))
        ).execute()
    if conversation_ids:
        Conversation.update(customer=customer_id).where(Conversation.id.in_(list(conversation_ids))).execute()


def _written_from(conversation_ids: Sequence[int]) -> set[str]:
    """The addresses and user ids the customer wrote these conversations from (inbound authors, relay aliases)."""
    values: set[str] = set()
    query = Message.select(Message.author_address, Message.extra).where(
        Message.conversation.in_(list(conversation_ids)) & (Message.direction == "in")
    )
    for message in query:
        if message.author_address:
            values.add(str(message.author_address).casefold())
        relay = (message.extra or {}).get("relay_address")
        if isinstance(relay, str) and relay:
            values.add(relay.casefold())
    return values


def split_off(conversation_id: int) -> SplitRecord | None:
    """Give a conversation a customer of its own: the identities it was written from move with it, and so do
    the customer's other conversations written from those. None when there is nothing to split (no customer,
    or the conversation is all the customer has)."""
    conv: Conversation | None = Conversation.get_or_none(Conversation.id == conversation_id)
    if conv is None or conv.customer_id is None:
        return None
    old_id = int(conv.customer_id)
    with database_proxy.obj.atomic():
        siblings = [
            int(c)
            for c in _column(Conversation.select(Conversation.id).where(Conversation.customer == old_id))
        ]
        if siblings == [conversation_id]:
            return None
        values = _written_from([conversation_id])
        identities = [i for i in _identities(old_id) if str(i.value).casefold() in values]
        moved_values = {str(i.value).casefold() for i in identities}
        moved = [conversation_id]
        for sibling in siblings:
            if sibling != conversation_id and moved_values and _written_from([sibling]) <= moved_values:
                moved.append(sibling)
        if len(moved) == len(siblings):  # every conversation would go: keep the rest of the customer's ids
            moved = [conversation_id]
        old = Customer.get_by_id(old_id)
        new = Customer.create(
            name=conv.customer_name or old.name or "", language=conv.language or old.language
        )
        identity_ids = tuple(int(i.id) for i in identities) if len(moved) < len(siblings) else ()
        if len(identity_ids) == len(_identities(old_id)):
            identity_ids = ()  # the customer keeps at least one way to reach them
        record = SplitRecord(
            from_id=old_id, new_id=int(new.id), identity_ids=identity_ids, conversation_ids=tuple(moved)
        )
        _move(record.new_id, record.identity_ids, record.conversation_ids)
    return record


def unsplit(record: SplitRecord) -> None:
    """Undo :func:`split_off`: everything back under the customer it came from, the new one deleted."""
    with database_proxy.obj.atomic():
        _move(record.from_id, record.identity_ids, record.conversation_ids)
        CustomerIdentity.update(customer=record.from_id).where(
            CustomerIdentity.customer == record.new_id
        ).execute()
        Conversation.update(customer=record.from_id).where(Conversation.customer == record.new_id).execute()
        Customer.delete().where(Customer.id == record.new_id).execute()
