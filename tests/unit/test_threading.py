"""Conversation threading: headers first, then subject + shared participant inside a window."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inbox_app.domain.threading import (
    ThreadIndex,
    find_thread,
    is_generic_subject,
    normalize_subject,
    participants_of,
    strip_reply_prefixes,
)

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@dataclass
class _Stored:
    thread_id: int
    subject: str
    participants: frozenset[str]
    date: datetime


@dataclass
class MemoryIndex:
    """A real, tiny ThreadIndex: what the store does with SQL, done with lists."""

    by_message_id: dict[str, int] = field(default_factory=dict)
    messages: list[_Stored] = field(default_factory=list)
    id_queries: list[list[str]] = field(default_factory=list)

    def add(
        self, thread_id: int, message_id: str, subject: str, participants: set[str], date: datetime
    ) -> None:
        self.by_message_id[message_id] = thread_id
        self.messages.append(_Stored(thread_id, normalize_subject(subject), frozenset(participants), date))

    def find_by_message_ids(self, ids: Sequence[str]) -> int | None:
        self.id_queries.append(list(ids))
        for mid in ids:
            if mid in self.by_message_id:
                return self.by_message_id[mid]
        return None

    def find_by_subject(
        self, normalized_subject: str, participants: frozenset[str], since: datetime
    ) -> int | None:
        hits = [
            m
            for m in self.messages
            if m.subject == normalized_subject and m.date >= since and m.participants & participants
        ]
        return max(hits, key=lambda m: m.date).thread_id if hits else None


def _find(index: ThreadIndex, **kw: object) -> int | None:
    args: dict[str, object] = {
        "message_id": "new@x",
        "in_reply_to": None,
        "references": (),
        "subject": "",
        "participants": frozenset({"buyer@example.com"}),
        "date": T0,
    }
    args.update(kw)
    return find_thread(index, **args)  # type: ignore[arg-type]  # keyword dict assembled for brevity


# ----------------------------------------------------------------------------------- normalize_subject
@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: Hello", "hello"),
        ("RE: RE: Re:Fwd: AW: WG: Lieferung", "lieferung"),
        ("Antw: SV: Vs: RV: TR: R: Pedido 42", "pedido 42"),
        ("Re[2]: Re(3): Frage", "frage"),
        ("RE : Commande livrée", "commande livrée"),
        ("回复：订单", "订单"),
        ("[shop-list] Re: Price   question\t now", "price question now"),
        ("Re: [#12345] Re: Broken lamp", "[#12345] broken lamp"),
        ("[SPAM] [Ticket 42] Wrong size", "[ticket 42] wrong size"),
        ("   ", ""),
        ("Re:", ""),
        ("Reise nach Rom", "reise nach rom"),  # "Re" inside a word is not a prefix
        ("Trouble", "trouble"),
        ("STRASSE", "strasse"),
    ],
)
def test_normalize_subject(subject: str, expected: str) -> None:
    assert normalize_subject(subject) == expected


def test_strip_reply_prefixes_keeps_case() -> None:
    assert strip_reply_prefixes("RE: AW: Shipping inquiry (Order: 1)") == "Shipping inquiry (Order: 1)"


@pytest.mark.parametrize(
    ("subject", "generic"),
    [
        ("", True),
        ("Hello!", True),
        ("Question?", True),
        ("order", True),
        ("Re: Frage", True),
        ("(no subject)", True),
        ("ok", True),
        ("Shipping inquiry from Amazon customer John (Order: 111-2223334-5556667)", False),
        ("Broken lamp shade", False),
    ],
)
def test_generic_subjects(subject: str, generic: bool) -> None:
    assert is_generic_subject(normalize_subject(subject)) is generic


@given(st.text(max_size=100))
def test_normalize_is_idempotent(subject: str) -> None:
    once = normalize_subject(subject)
    assert normalize_subject(once) == once


# ------------------------------------------------------------------------------------- participants_of
def test_participants_exclude_own_and_canonicalize() -> None:
    result = participants_of(
        "Buyer@Example.com",
        [("Shop", "Sales@Shop.example"), ("", "abc+tag@marketplace.amazon.de")],
        ["cc@example.org", ""],
        own_addresses=["sales@shop.example"],
    )
    assert result == frozenset({"buyer@example.com", "abc@marketplace.amazon.de", "cc@example.org"})


def test_participants_with_no_from() -> None:
    assert participants_of(None, [], [], []) == frozenset()


# ----------------------------------------------------------------------------------------- find_thread
def test_in_reply_to_wins() -> None:
    index = MemoryIndex()
    index.add(1, "a@x", "Lamp broken", {"buyer@example.com"}, T0)
    index.add(2, "b@x", "Other", {"other@example.com"}, T0)
    assert _find(index, in_reply_to="<b@x>", references=["a@x"], subject="Re: Lamp broken") == 2


def test_references_newest_first() -> None:
    index = MemoryIndex()
    index.add(1, "root@x", "x", set(), T0)
    index.add(2, "mid@x", "x", set(), T0)
    found = _find(index, in_reply_to="unknown@x", references=["root@x", "mid@x", "unknown@x"])
    assert found == 2
    assert index.id_queries[-1] == ["mid@x", "root@x"]


def test_own_message_id_already_known() -> None:
    index = MemoryIndex()
    index.add(7, "sent@shop", "Answer", set(), T0)
    assert _find(index, message_id="<sent@shop>") == 7


def test_subject_and_shared_participant_within_window() -> None:
    index = MemoryIndex()
    index.add(3, "a@x", "Lamp shade broken", {"buyer@example.com"}, T0)
    later = T0 + timedelta(days=10)
    assert _find(index, subject="AW: Lamp shade broken", date=later) == 3
    # no shared participant
    assert _find(index, subject="Lamp shade broken", date=later, participants=frozenset({"x@y.z"})) is None
    # outside the window
    assert _find(index, subject="Lamp shade broken", date=T0 + timedelta(days=31)) is None
    assert _find(index, subject="Lamp shade broken", date=later, subject_window=timedelta(days=5)) is None


def test_generic_subject_never_threads_by_subject() -> None:
    index = MemoryIndex()
    index.add(4, "a@x", "Question", {"buyer@example.com"}, T0)
    assert _find(index, subject="Re: Question", date=T0 + timedelta(hours=1)) is None
    index.add(5, "b@x", "", {"buyer@example.com"}, T0)
    assert _find(index, subject="", date=T0 + timedelta(hours=1)) is None


def test_without_date_or_participants_no_subject_threading() -> None:
    index = MemoryIndex()
    index.add(6, "a@x", "Lamp shade broken", {"buyer@example.com"}, T0)
    assert _find(index, subject="Lamp shade broken", date=None) is None
    assert _find(index, subject="Lamp shade broken", participants=frozenset()) is None


def test_amazon_reply_with_plus_alias_threads_by_subject() -> None:
    index = MemoryIndex()
    first = participants_of(
        "abcdefghij12345@marketplace.amazon.com", [("", "sales@shop.example")], [], ["sales@shop.example"]
    )
    index.add(
        9,
        "q@amazon",
        "Shipping inquiry from Amazon customer John (Order: 111-2223334-5556667)",
        set(first),
        T0,
    )
    reply = participants_of(
        "abcdefghij12345+a1b2@marketplace.amazon.com",
        [("", "sales@shop.example")],
        [],
        ["sales@shop.example"],
    )
    found = _find(
        index,
        subject="RE: Shipping inquiry from Amazon customer John (Order: 111-2223334-5556667)",
        participants=reply,
        date=T0 + timedelta(days=1),
    )
    assert found == 9


def test_nothing_known_starts_a_new_thread() -> None:
    assert _find(MemoryIndex(), in_reply_to="x@y", references=["z@y"], subject="Brand new topic here") is None
