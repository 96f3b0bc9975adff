"""The lean FETCH reader against hand-written server answers, and against imapclient's parser on the same bytes."""

from __future__ import annotations

import imaplib
import io
from datetime import UTC, datetime

import pytest
from imapclient.response_parser import parse_fetch_response

from inbox_app.channels.mail.fetch_stream import (
    UidRanges,
    format_uid_set,
    read_fetch,
    send_uid_fetch,
    vanished_uids,
)


def _read(data: bytes, tag: bytes = b"IA1") -> tuple[dict[int, dict[bytes, object]], list[bytes]]:
    buffer = io.BytesIO(data)
    return read_fetch(buffer.readline, buffer.read, tag)


def test_bodies_with_literals_flags_and_dates() -> None:
    body = b"Subject: hi\r\n\r\nline one\r\n) not the end {3}\r\n"
    rows, others = _read(
        b'* 1 FETCH (UID 7 FLAGS (\\Seen $Label) INTERNALDATE " 2-Nov-2026 10:11:12 +0100" '
        b"RFC822.SIZE 42 MODSEQ (99) BODY[] {" + str(len(body)).encode() + b"}\r\n" + body + b")\r\n"
        b"* 2 FETCH (UID 9 BODY[] NIL)\r\n"
        b"IA1 OK Fetch completed.\r\n"
    )
    assert others == []
    assert rows[7][b"BODY[]"] == body
    assert rows[7][b"FLAGS"] == (b"\\Seen", b"$Label")
    assert rows[7][b"INTERNALDATE"] == datetime(2026, 11, 2, 9, 11, 12, tzinfo=UTC)
    assert rows[7][b"RFC822.SIZE"] == 42
    assert rows[7][b"MODSEQ"] == (99,)
    assert rows[7][b"SEQ"] == 1
    assert rows[9][b"BODY[]"] is None


def test_section_keys_with_parentheses_and_quoted_escapes() -> None:
    header = b"From: a@b.example\r\n\r\n"
    rows, _ = _read(
        b"* 3 FETCH (UID 11 BODY[HEADER.FIELDS (FROM TO)] {"
        + str(len(header)).encode()
        + b"}\r\n"
        + header
        + b' X-GM-LABELS ("a \\"quoted\\" one" foo))\r\n'
        b"IA1 OK done\r\n"
    )
    assert rows[11][b"BODY[HEADER.FIELDS (FROM TO)]"] == header
    assert rows[11][b"X-GM-LABELS"] == (b'a "quoted" one', b"foo")


def test_untagged_other_responses_are_returned_and_literal_skipped() -> None:
    rows, others = _read(
        b"* 5 EXISTS\r\n* VANISHED (EARLIER) 3:4\r\n* OK [ALERT] {5}\r\nhello\r\n"
        b"* 4 FETCH (FLAGS (\\Deleted))\r\n"  # no UID: an unsolicited update, left out
        b"IA1 OK done\r\n"
    )
    assert rows == {}
    assert others[:2] == [b"* 5 EXISTS\r\n", b"* VANISHED (EARLIER) 3:4\r\n"]


@pytest.mark.parametrize(
    "data",
    [
        b"* 1 FETCH (UID 1 BODY[] {10}\r\nshort",  # connection closed inside a literal
        b"* 1 FETCH (UID 1 FLAGS (\\Seen)\r\n",  # line ends before the closing parenthesis
        b"",  # closed before any answer
        b"+ go ahead\r\n",  # a continuation we never asked for
        b"* 1 FETCH (UID 1 FLAGS (\\Seen)) garbage\r\n* 1 FETCH (UID \r\nIA1 OK\r\n",
    ],
)
def test_broken_answers_abort_the_connection(data: bytes) -> None:
    with pytest.raises(imaplib.IMAP4.abort):
        _read(data)


def test_no_and_bad_are_errors_not_aborts() -> None:
    with pytest.raises(imaplib.IMAP4.error) as raised:
        _read(b"IA1 NO [SERVERBUG] Internal error\r\n")
    assert not isinstance(raised.value, imaplib.IMAP4.abort)
    assert "SERVERBUG" in str(raised.value)


def test_same_result_as_imapclient_on_the_same_bytes() -> None:
    literal = "Grüße\r\n".encode()
    lines = [
        b'* 1 FETCH (UID 21 FLAGS (\\Answered) RFC822.SIZE 8 INTERNALDATE "01-Jan-2026 00:00:00 +0000" '
        b"BODY[] {" + str(len(literal)).encode() + b"}",
        literal + b")",
        b"* 2 FETCH (UID 22 FLAGS () RFC822.SIZE 0 MODSEQ (5))",
    ]
    ours, _ = _read(b"\r\n".join(lines) + b"\r\nIA1 OK\r\n")

    # imapclient gets imaplib's form: "* n FETCH " dropped, (line-with-literal-marker, literal) tuples.
    def bare(line: bytes) -> bytes:
        return line.replace(b"* ", b"", 1).replace(b"FETCH ", b"", 1)

    theirs = parse_fetch_response(
        [(bare(lines[0]), literal), lines[1][len(literal) :], bare(lines[2])], False, True
    )
    assert ours == {uid: dict(data) for uid, data in theirs.items()}


def test_uid_sets_are_compressed_and_commands_tagged_uniquely() -> None:
    assert format_uid_set([9, 1, 2, 3, 7, 10, 11, 12, 3]) == "1:3,7,9:12"
    assert format_uid_set([5]) == "5"
    sent: list[bytes] = []
    first = send_uid_fetch(sent.append, [1, 2], ["UID", "BODY.PEEK[]"])
    second = send_uid_fetch(sent.append, [4], ["FLAGS"], ["CHANGEDSINCE 7"])
    assert first != second
    assert sent[0] == first + b" UID FETCH 1:2 (UID BODY.PEEK[])\r\n"
    assert sent[1] == second + b" UID FETCH 4 (FLAGS) (CHANGEDSINCE 7)\r\n"


# ------------------------------------------------------------------------------------------ VANISHED (QRESYNC)
def test_vanished_lines_become_uid_ranges() -> None:
    earlier = vanished_uids(b"* VANISHED (EARLIER) 3:5,9,12:10\r\n")
    assert [uid for uid in range(1, 14) if uid in earlier] == [3, 4, 5, 9, 10, 11, 12]
    live = vanished_uids(b"* VANISHED 40\r\n")
    assert 40 in live and 39 not in live
    assert 40 in (earlier | live) and 4 in (earlier | live)
    assert not vanished_uids(b"* 3 EXISTS\r\n") and not vanished_uids(b"* VANISHED garbage\r\n")


def test_a_huge_vanished_range_is_never_expanded() -> None:
    """A server (or a hostile one) may name four billion UIDs in a few bytes: membership stays a lookup."""
    ranges = UidRanges.parse("1:4294967295")
    assert 4294967295 in ranges and 0 not in ranges and "7" not in ranges
    assert repr(ranges) == "UidRanges([(1, 4294967295)])"


def test_vanished_answer_to_a_changedsince_fetch_is_kept_for_the_caller() -> None:
    rows, others = _read(
        b"* VANISHED (EARLIER) 1:2\r\n"
        b"* 1 FETCH (UID 3 FLAGS (\\Seen) MODSEQ (12))\r\n"
        b"IA1 OK Fetch completed.\r\n"
    )
    assert rows == {3: {b"FLAGS": (b"\\Seen",), b"MODSEQ": (12,), b"SEQ": 1}}
    assert [uid for uid in range(5) if uid in vanished_uids(others[0])] == [1, 2]


def test_a_ready_sequence_set_is_sent_as_is() -> None:
    sent: list[bytes] = []
    tag = send_uid_fetch(sent.append, "1:*", ["UID", "FLAGS"], ["CHANGEDSINCE 7", "VANISHED"])
    assert sent == [tag + b" UID FETCH 1:* (UID FLAGS) (CHANGEDSINCE 7 VANISHED)\r\n"]
