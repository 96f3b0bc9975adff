"""The channel interface's pure parts: reply limits, body normalization, the shared errors and defaults."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inbox_app import i18n
from inbox_app.channels.base import (
    AttachmentContent,
    AuthFailed,
    Channel,
    ChannelCapabilities,
    ChannelError,
    LimitProblem,
    OutgoingReply,
    ParticipantKind,
    RateLimited,
    RejectedInput,
    RemoteAttachment,
    RemoteThread,
    ReplyCheck,
    ReplyLimits,
    SentLookup,
    SentReceipt,
    TemporarilyUnavailable,
    ThreadBatch,
    Unsupported,
    check_reply,
    normalize_body,
)
from inbox_app.channels.mirakl import MIRAKL_LIMITS
from inbox_app.domain.channel_limits import MB, limits_for


def codes(check: ReplyCheck) -> list[LimitProblem]:
    return [code for code, _message in check.problems]


def test_mirakl_limits_are_the_documented_ones() -> None:
    assert (MIRAKL_LIMITS.min_chars, MIRAKL_LIMITS.max_chars) == (3, 50_000)
    assert MIRAKL_LIMITS.max_messages_per_thread == 1000
    assert MIRAKL_LIMITS.max_attachments_per_entity == 50
    assert MIRAKL_LIMITS.attachments == limits_for("mirakl")


def test_a_valid_reply_passes() -> None:
    check = check_reply("Fnac ES", MIRAKL_LIMITS, "Your parcel left today.", [("invoice.pdf", 200_000)])
    assert check.ok and check.attachments is not None and len(check.attachments.accepted) == 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("ok", [LimitProblem.TOO_SHORT]),
        ("  a  ", [LimitProblem.TOO_SHORT]),
        ("x" * 50_001, [LimitProblem.TOO_LONG]),
    ],
)
def test_body_length_is_checked(body: str, expected: list[LimitProblem]) -> None:
    check = check_reply("Fnac ES", MIRAKL_LIMITS, body)
    assert codes(check) == expected
    assert "Fnac ES" in check.problems[0][1]


def test_a_full_thread_and_too_big_files_are_named() -> None:
    check = check_reply(
        "Fnac ES",
        MIRAKL_LIMITS,
        "Here you go.",
        [("huge.zip", 11 * MB), ("photo.jpg", 1000)],
        thread_message_count=1000,
    )
    assert codes(check) == [LimitProblem.THREAD_FULL, LimitProblem.FILE_REFUSED]
    assert check.problems[1][1] == "huge.zip cannot be sent through Fnac ES: it is larger than 10 MB."
    assert check.attachments is not None and check.attachments.accepted == (("photo.jpg", 1000),)


def test_links_addresses_and_file_types_when_a_channel_forbids_them() -> None:
    limits = ReplyLimits(
        limits_for("amazon"),
        links_forbidden=True,
        addresses_forbidden=True,
        allowed_extensions=frozenset({"pdf"}),
    )
    check = check_reply(
        "Amazon", limits, "See www.example.com or write to me@shop.example", [("a.exe", 10), ("b.PDF", 10)]
    )
    assert codes(check) == [LimitProblem.LINK, LimitProblem.ADDRESS, LimitProblem.FILE_TYPE]
    assert "a.exe" in check.problems[2][1]


def test_normalize_body_ignores_line_endings_spacing_and_composition() -> None:
    composed = "Grüße,\r\n  bis  bald \n"
    decomposed = "Gru\u0308ße, bis bald"
    assert normalize_body(composed) == normalize_body(decomposed) == "Grüße, bis bald"
    assert normalize_body("Hello") != normalize_body("hello")


@given(st.text())
def test_normalize_body_is_idempotent(text: str) -> None:
    once = normalize_body(text)
    assert normalize_body(once) == once


def test_errors_carry_a_user_message_and_keep_details_for_the_log() -> None:
    auth = AuthFailed("Fnac ES", detail="HTTP 401")
    assert "Reconnect this account" in auth.user_message and auth.what == "key"
    assert "shop id" in AuthFailed("Fnac ES", what="shop").user_message
    limited = RateLimited("Fnac ES", 90)
    assert limited.retry_after == 90 and limited.retryable
    assert limited.user_message == "Fnac ES asks to slow down. Trying again in 1 min."
    down = TemporarilyUnavailable("Fnac ES", maybe_delivered=True, raw_body=b"<html>")
    assert down.retryable and down.maybe_delivered and down.raw_body == b"<html>"
    refused = RejectedInput("Fnac ES", "The body is too long", status=400)
    assert refused.vendor_message in refused.user_message and not refused.retryable
    assert "no reason given" in RejectedInput("Fnac ES", "  ").user_message
    assert all(isinstance(e, ChannelError) for e in (auth, limited, down, refused))


class _ReadOnly(Channel):
    """The least a channel must implement; marking read and closing stay unsupported."""

    kind = "test"

    @property
    def name(self) -> str:
        return "Test"

    @property
    def limits(self) -> ReplyLimits:
        return MIRAKL_LIMITS

    async def test_connection(self) -> None:
        return None

    async def list_threads(self, cursor: str | None) -> AsyncIterator[ThreadBatch]:
        yield ThreadBatch((), cursor or "c1", last=True)

    async def fetch_thread(self, thread_id: str) -> RemoteThread:
        raise NotImplementedError

    async def download_attachment(self, attachment: RemoteAttachment) -> AttachmentContent:
        raise NotImplementedError

    async def send_reply(self, reply: OutgoingReply) -> SentReceipt:
        raise NotImplementedError

    async def find_sent(
        self, reply: OutgoingReply, *, claimed_at: datetime, known_message_ids: Collection[str] = ()
    ) -> SentLookup:
        raise NotImplementedError


def test_the_wait_is_written_in_the_users_language() -> None:
    try:
        i18n.setup("de")
        assert "2 Std." in RateLimited("Fnac ES", 7200).user_message
    finally:
        i18n.setup("en")


def test_actions_a_channel_does_not_offer_raise_unsupported() -> None:
    async def main() -> list[str]:
        async with _ReadOnly() as channel:
            assert channel.capabilities == ChannelCapabilities()
            messages = []
            for action in (channel.mark_read, channel.close_thread):
                with pytest.raises(Unsupported) as refused:
                    await action("t1")
                messages.append(refused.value.user_message)
            return messages

    messages = asyncio.run(main())
    assert messages == [
        "Test does not offer this action: mark read",
        "Test does not offer this action: close",
    ]


def test_reply_defaults_to_the_customer() -> None:
    reply = OutgoingReply("ref", "t1", "Hello")
    assert [t.kind for t in reply.to] == [ParticipantKind.CUSTOMER]
