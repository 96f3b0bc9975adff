"""Fuzzed mail through the whole ingest (issue 11.10): real Dovecot, the real sync, the real database.

Every mail on the server ends up stored: parsed, or kept raw with a reason in ``problems``; none is dropped,
none stops its batch, and no exception is swallowed on the way (an ERROR log counts as a crash).
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from inbox_app.store.models import Conversation, MailLocation, Message, MessageSource
from tests.fuzz import strategies as s
from tests.fuzz.test_fuzz_parsers import no_logged_errors
from tests.integration.test_mail_sync import mail_account, run
from tests.integration.test_shared_message_id import _sync
from tests.servers.dovecot import DovecotServer

pytestmark = pytest.mark.integration


@settings(
    # INBOX_FUZZ_INGEST_BATCHES: a bigger, random budget by hand (benchmarks/fuzz_parsers.py says how).
    max_examples=int(os.environ.get("INBOX_FUZZ_INGEST_BATCHES", "8")),
    derandomize="INBOX_FUZZ_INGEST_BATCHES" not in os.environ,
    deadline=None,
    database=None,
    phases=[
        Phase.explicit,
        Phase.generate,
    ],  # no shrinking: each step would be a whole sync; the failure shows
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(mails=st.lists(s.raw_mails, min_size=25, max_size=25))
def test_every_fuzzed_mail_is_stored_or_kept_raw_with_a_reason(
    profile: Any, dovecot: DovecotServer, mails: list[bytes]
) -> None:
    user, password = dovecot.new_user("fuzz")
    account = mail_account(dovecot, user, password, name=f"Fuzz {user}")
    # A unique Message-ID line first, so that no two fuzzed mails are copies of each other by chance.
    raws = [f"Message-ID: <fuzz{n}@fuzz.example>\r\n".encode() + raw for n, raw in enumerate(mails)]
    dovecot.bulk_load(user, raws, "INBOX")
    with no_logged_errors():
        run(_sync(account))
    logging.getLogger("inbox_app").debug("fuzz ingest of %d mails done", len(raws))

    messages = list(Message.select().join(Conversation).where(Conversation.account == account.id))
    assert len(messages) == len(raws)
    pending = MailLocation.body_fetched == False  # noqa: E712 - peewee builds SQL from ==
    assert MailLocation.select().where((MailLocation.account == account.id) & pending).count() == 0
    stored_raw = {
        bytes(src.raw)
        for src in MessageSource.select().where(MessageSource.message << [m.id for m in messages])
    }

    # Line endings are the server's business (Dovecot serves CRLF), and IMAP cannot carry NUL (Dovecot sends
    # 0x80 instead); everything else must be kept byte for byte.
    def canon(data: bytes) -> bytes:
        return re.sub(rb"\r\n|\r|\n", b"\n", data).replace(b"\x00", b"\x80")

    assert {canon(r) for r in stored_raw} == {canon(r) for r in raws}
    for message in messages:
        # The body arrived (or its raw text stands in). Not judged by the placeholder text "…": a fuzzed body
        # that is the single byte 0x85 in windows-1252 reads exactly so.
        assert "body_pending" not in message.extra, message.remote_id
        assert message.problems is None or all(isinstance(p, str) and p for p in message.problems)


def test_an_unpaddable_base64_word_in_a_header_does_not_block_the_folder(
    profile: Any, dovecot: DovecotServer
) -> None:
    """Found by the fuzzer: ``=?utf-8?B?c^?=`` made the header phase raise HeaderParseError, which failed the
    FETCH of the whole batch on every sync, so no later mail of the folder ever arrived."""
    user, password = dovecot.new_user("b64")
    account = mail_account(dovecot, user, password)
    poison = (
        b"From: =?utf-8?B?c^?= <buyer@example.net>\r\nTo: seller@shop.example\r\nSubject: =?utf-8?B?c^?= kettle\r\n"
        b"Message-ID: <poison@example.net>\r\n\r\nThe kettle is broken.\r\n"
    )
    dovecot.append(user, password, "INBOX", poison)
    dovecot.append(
        user, password, "INBOX", b"From: a@example.net\r\nSubject: next\r\nMessage-ID: <next@x>\r\n\r\nhi\r\n"
    )
    with no_logged_errors():
        run(_sync(account))
    poisoned = Message.get(Message.remote_id == "<poison@example.net>")
    assert poisoned.subject == "=?utf-8?B?c^?= kettle" and "kettle is broken" in poisoned.text_body
    assert Message.get(Message.remote_id == "<next@x>").subject == "next"


def test_a_header_the_parser_cannot_read_still_gets_the_mail_in(caplog: pytest.LogCaptureFixture) -> None:
    """The safety net under the header parsing: a bug there costs the mail its header fields, not the batch."""
    from datetime import UTC, datetime

    from inbox_app.channels.mail.imap import _guarded

    def broken(uid: int, data: dict[bytes, Any]) -> Any:
        raise RuntimeError("a bug")

    data = {b"FLAGS": (b"\\Seen",), b"INTERNALDATE": datetime(2026, 12, 1, tzinfo=UTC), b"RFC822.SIZE": 123}
    with caplog.at_level(logging.ERROR):
        info = _guarded(broken, 7, data)
    assert (info.uid, info.size, info.flags, info.message_id) == (7, 123, frozenset({"\\Seen"}), None)
    assert info.internaldate == datetime(2026, 12, 1, tzinfo=UTC)
    assert any("UID 7" in r.getMessage() for r in caplog.records)
