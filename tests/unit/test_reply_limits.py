"""Point 7/8 of issue 11: body limits per channel and strict reply addresses, in the one queueing function."""

from __future__ import annotations

from typing import Any

import pytest

from inbox_app.channels.allegro.connector import ALLEGRO_LIMITS
from inbox_app.channels.base import LimitProblem, ReplyLimits, check_reply
from inbox_app.channels.ebay.connector import EBAY_LIMITS
from inbox_app.channels.kaufland.connector import KAUFLAND_LIMITS
from inbox_app.channels.mirakl.connector import MIRAKL_LIMITS
from inbox_app.domain.addresses import is_reply_address, printable
from inbox_app.domain.channel_limits import (
    MAX_BODY_CHARS,
    MAX_MAIL_MESSAGE_BYTES,
    MB,
    BodyProblem,
    check_body,
    limits_for,
)
from inbox_app.store import outbox
from inbox_app.store.models import OutboxItem
from inbox_app.store.replies import ReplyError, queue_reply_for, recipient_problem
from tests.unit.test_replies import _conversation

GOOD = [
    "anna@example.net",
    "anna.b+shop@mail.example.co.uk",
    "q7w2e9r4t1y6u3i@marketplace.amazon.de",
    "o'brien@example.ie",
    "kunde@müller.example",  # internationalised domain
    "x@xn--mller-kva.de",
]
BAD = [
    "_victim2@evil.example=0D=0AX-Injected",  # the decoded malformed encoded word of the issue
    "victim@evil.example\r\nBcc: all@example.com",
    "victim@evil.example\nX: y",
    "a@b@example.com",
    "noatsign",
    "@example.com",
    "anna@",
    "anna@localhost",  # one label: not a plausible domain
    "anna@example.c0m",
    "anna@-example.com",
    "anna@exa_mple.com",
    "anna..b@example.com",
    ".anna@example.com",
    '"anna b"@example.com',
    "anna b@example.com",
    "anna@[192.0.2.1]",
    "anna\x00@example.com",
    "Anna <anna@example.net>",
    "ännä@example.net",
    "a" * 65 + "@example.com",
    "anna@" + "a" * 64 + ".com",
    "",
]


@pytest.mark.parametrize("address", GOOD)
def test_plain_addresses_are_usable(address: str) -> None:
    assert is_reply_address(address)


@pytest.mark.parametrize("address", BAD)
def test_garbage_addresses_are_refused(address: str) -> None:
    assert not is_reply_address(address)


def test_printable_shows_control_characters_as_escapes() -> None:
    assert printable("a@b.example\r\nX: y") == "a@b.example\\r\\nX: y"
    assert len(printable("x" * 500)) == 80


def test_body_limits_come_from_the_channel() -> None:
    assert check_body("ebay", "x" * 2000) is None
    assert check_body("ebay", "x" * 2001) == (BodyProblem.TOO_LONG, 2000)
    assert check_body("email", "x" * MAX_BODY_CHARS) is None
    assert check_body("email", "x" * (MAX_BODY_CHARS + 1)) == (BodyProblem.TOO_LONG, MAX_BODY_CHARS)
    assert check_body("email", "Hello\x00\x00") == (BodyProblem.NOT_TEXT, 0)
    assert check_body("email", "Tab\there\r\nand\fpage") is None
    # The whole mail: 500k characters of text with 18 MB of files is over 25 MB once encoded.
    assert check_body("email", "x" * 500_000, [9 * MB, 9 * MB]) == (
        BodyProblem.MESSAGE_TOO_BIG,
        MAX_MAIL_MESSAGE_BYTES,
    )
    assert check_body("amazon", "hello", [8 * MB]) == (BodyProblem.MESSAGE_TOO_BIG, 10 * MB)


@pytest.mark.parametrize(
    ("kind", "limits"),
    [
        ("ebay", EBAY_LIMITS),
        ("allegro", ALLEGRO_LIMITS),
        ("kaufland", KAUFLAND_LIMITS),
        ("mirakl", MIRAKL_LIMITS),
    ],
)
def test_connector_limits_agree_with_the_table(kind: str, limits: ReplyLimits) -> None:
    assert limits.max_chars == limits_for(kind).max_body_chars


def test_check_reply_applies_the_mail_maximum_without_a_channel_figure() -> None:
    limits = ReplyLimits(attachments=limits_for("email"))
    check = check_reply("E-mail", limits, "x" * (MAX_BODY_CHARS + 1))
    assert [code for code, _text in check.problems] == [LimitProblem.TOO_LONG]


def test_a_100_mb_body_is_refused_and_nothing_is_queued(profile: Any) -> None:
    conv = _conversation()
    with pytest.raises(ReplyError, match="too long"):
        queue_reply_for(conv.id, "x" * (100 * MB))
    with pytest.raises(ReplyError, match="control characters"):
        queue_reply_for(conv.id, "\x00" * 100)
    assert OutboxItem.select().count() == 0


def test_the_outbox_itself_refuses_what_the_callers_should_have(profile: Any) -> None:
    """The last line of defence: outbox.queue_reply checks limits and recipients whoever calls it."""
    conv = _conversation()
    common: dict[str, Any] = {"message_id": "<a@shop.example>", "subject": "Re: x"}
    with pytest.raises(outbox.QueueRefused, match="too long"):
        outbox.queue_reply(conv, body="x" * (MAX_BODY_CHARS + 1), recipients=["anna@example.net"], **common)
    with pytest.raises(outbox.QueueRefused, match="not a usable e-mail address"):
        outbox.queue_reply(conv, body="Hi", recipients=["_victim2@evil.example=0D=0AX-Injected"], **common)
    with pytest.raises(outbox.QueueRefused, match="unknown"):
        outbox.queue_reply(conv, body="Hi", recipients=[], **common)
    assert OutboxItem.select().count() == 0
    assert outbox.queue_reply(conv, body="Hi", recipients=["anna@example.net"], **common).id


def test_garbage_reply_to_is_not_replied_to_nor_passed_over_for_from(profile: Any) -> None:
    conv = _conversation(extra={"reply_to": [["", "_victim2@evil.example=0D=0AX-Injected"]]})
    problem = recipient_problem(conv.id)
    assert problem is not None and "No usable reply address" in problem
    assert "_victim2@evil.example=0D=0AX-Injected" in problem
    with pytest.raises(ReplyError, match="No usable reply address"):
        queue_reply_for(conv.id, "Hi")
    assert OutboxItem.select().count() == 0


def test_garbage_from_without_reply_to_is_refused(profile: Any) -> None:
    conv = _conversation(author="victim@evil.example\r\nX-Injected: 1")
    with pytest.raises(ReplyError, match="No usable reply address"):
        queue_reply_for(conv.id, "Hi")
    assert OutboxItem.select().count() == 0


def test_a_usable_reply_to_after_a_garbage_one_is_used(profile: Any) -> None:
    conv = _conversation(extra={"reply_to": [["", "x@evil=0D"], ["Anna", "anna.replies@example.net"]]})
    assert recipient_problem(conv.id) is None
    assert queue_reply_for(conv.id, "Hi").recipients == ["anna.replies@example.net"]


def test_send_again_of_a_row_queued_by_an_older_version_to_garbage_is_refused(profile: Any) -> None:
    """A sent-but-unconfirmed row written before these checks existed cannot be copied to the same garbage."""
    conv = _conversation()
    old = OutboxItem.create(
        conversation=conv,
        account=conv.account_id,
        body="Hi",
        subject="Re: x",
        recipients=["_victim2@evil.example=0D=0AX-Injected"],
        message_id="<old@shop.example>",
        state="sent",
        last_error="delivery not confirmed",
    )
    with pytest.raises(outbox.QueueRefused, match="not a usable e-mail address"):
        outbox.send_again(old.id)
    assert OutboxItem.select().count() == 1
