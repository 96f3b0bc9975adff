"""A lean reader for ``UID FETCH`` responses, for the two hot paths of a first sync (headers and bodies).

Why not imapclient's ``fetch()``: for every response it goes through imaplib's generic untagged-response
bookkeeping (a regex per line, lists of every literal) and then imapclient's pure-Python lexer, which together
cost about 0.3 ms per mail here, as much as parsing the MIME itself, and they run on the app's main process
where they compete with the database writes for the GIL. The FETCH grammar we ask for is small (numbers,
atoms, quoted strings, literals, parenthesized lists), so this module reads it straight from the connection
in about a tenth of that. imapclient still opens, secures and logs in the connection, and does everything else.

The result has the same shape as imapclient's (``{uid: {b"FLAGS": (b"\\\\Seen",), b"BODY[]": b"...", ...}}``) so
callers do not care which reader produced it. Anything unexpected raises ``imaplib.IMAP4.abort`` (the
connection is then in an unknown state and must be dropped), a ``NO``/``BAD`` answer ``imaplib.IMAP4.error``.
"""

from __future__ import annotations

import bisect
import imaplib
import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from imapclient.datetime_util import parse_to_datetime

__all__ = ["UidRanges", "format_uid_set", "read_fetch", "send_uid_fetch", "vanished_uids"]

_MAX_LINE = 1_000_000  # a response line (not a literal) longer than this is garbage, not mail
_FETCH_START = re.compile(rb"\* (\d+) FETCH \(")
_LITERAL_END = re.compile(rb"~?\{(\d+)\}\r\n$")
# One token: a parenthesis, a quoted string, a literal marker at the end of the line, or an atom. An atom may
# carry a section with spaces and parentheses (``BODY[HEADER.FIELDS (FROM TO)]``) and a partial ``<0>``.
_TOKEN = re.compile(
    rb'[ ]*(?:(?P<open>\()|(?P<close>\))|"(?P<quoted>(?:[^"\\\r\n]|\\.)*)"|(?P<literal>~?\{\d+\}\r\n$)'
    rb'|(?P<atom>(?:[^\s()"\[\]{]+|\[[^\]\r\n]*\])+)|(?P<eol>\r?\n$))'
)
_UNQUOTE = re.compile(rb"\\(.)")
_tags = itertools.count(1)


class _Stream:
    """The connection's remaining bytes, one line (plus its literals) at a time."""

    def __init__(self, readline: Callable[[], bytes], read: Callable[[int], bytes]) -> None:
        self.readline = readline
        self.read = read
        self.line = b""
        self.pos = 0

    def next_line(self) -> bytes:
        line = self.readline()
        if not line:
            raise imaplib.IMAP4.abort("the server closed the connection during FETCH")
        if len(line) > _MAX_LINE:
            raise imaplib.IMAP4.abort("response line too long")
        self.line, self.pos = line, 0
        return line

    def literal(self, marker: bytes) -> bytes:
        size = int(marker[marker.index(b"{") + 1 : marker.index(b"}")])
        data = self.read(size)
        if len(data) != size:
            raise imaplib.IMAP4.abort("the server closed the connection inside a literal")
        self.next_line()  # the response goes on after the literal, on what is read as a new line
        return data


def _value(stream: _Stream) -> Any:
    """One value (atom, number, NIL, quoted, literal or list) starting at the stream's position."""
    match = _TOKEN.match(stream.line, stream.pos)
    if match is None or match.lastgroup in (None, "close", "eol"):
        raise imaplib.IMAP4.abort(f"unexpected FETCH data: {stream.line[stream.pos : stream.pos + 80]!r}")
    stream.pos = match.end()
    kind = match.lastgroup
    if kind == "open":
        return _list(stream)
    if kind == "quoted":
        text = match.group("quoted")
        return _UNQUOTE.sub(rb"\1", text) if b"\\" in text else text
    if kind == "literal":
        return stream.literal(match.group("literal"))
    atom = match.group("atom")
    if atom.isdigit():
        return int(atom)
    return None if atom.upper() == b"NIL" else atom


def _list(stream: _Stream) -> tuple[Any, ...]:
    items: list[Any] = []
    while True:
        match = _TOKEN.match(stream.line, stream.pos)
        if match is not None and match.lastgroup == "close":
            stream.pos = match.end()
            return tuple(items)
        items.append(_value(stream))


def _internaldate(value: Any) -> datetime | None:
    if not isinstance(value, bytes):
        return None
    try:
        return datetime.strptime(value.decode("ascii").strip(), "%d-%b-%Y %H:%M:%S %z")
    except (UnicodeDecodeError, ValueError):
        try:
            parsed: datetime = parse_to_datetime(value, normalise=False)
        except ValueError:
            return None
        return parsed


def _fetch_items(stream: _Stream) -> dict[bytes, Any]:
    """The key/value pairs of one ``* n FETCH (...)`` response, with imapclient's key and value forms."""
    data: dict[bytes, Any] = {}
    while True:
        match = _TOKEN.match(stream.line, stream.pos)
        if match is None:
            raise imaplib.IMAP4.abort(f"unexpected FETCH data: {stream.line[stream.pos : stream.pos + 80]!r}")
        stream.pos = match.end()
        if match.lastgroup == "close":
            return data
        if match.lastgroup != "atom":
            raise imaplib.IMAP4.abort(f"FETCH item name expected, got {match.group(0)[:80]!r}")
        key = match.group("atom").upper()
        if key.startswith(b"BODY.PEEK["):  # servers answer BODY[...] but be lenient
            key = b"BODY" + key[9:]
        value = _value(stream)
        if key == b"INTERNALDATE":
            value = _internaldate(value)
        data[key] = value


def format_uid_set(uids: Sequence[int]) -> str:
    """``1:3,7,9:12`` for [1, 2, 3, 7, 9, 10, 11, 12]: short command lines even for thousands of UIDs."""
    parts: list[str] = []
    ordered = sorted(set(uids))
    start = prev = None
    for uid in ordered:
        if prev is not None and uid == prev + 1:
            prev = uid
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}:{prev}")
        start = prev = uid
    if start is not None:
        parts.append(str(start) if start == prev else f"{start}:{prev}")
    return ",".join(parts)


class UidRanges:
    """A set of UIDs kept as ranges (``1:3,7``): a server may name millions of expunged UIDs in a few bytes,
    so they are never expanded; ``uid in ranges`` is a binary search."""

    def __init__(self, ranges: Iterable[tuple[int, int]] = ()) -> None:
        merged: list[tuple[int, int]] = []
        for low, high in sorted(ranges):
            if merged and low <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], high))
            else:
                merged.append((low, high))
        self._ranges = merged
        self._starts = [low for low, _high in merged]

    @classmethod
    def parse(cls, text: str) -> UidRanges:
        """From an IMAP sequence set of UIDs (``1:3,7``; either end of a range may come first)."""
        ranges = []
        for part in text.split(","):
            first, _sep, last = part.partition(":")
            low, high = int(first), int(last or first)
            ranges.append((min(low, high), max(low, high)))
        return cls(ranges)

    def __or__(self, other: UidRanges) -> UidRanges:
        return UidRanges([*self._ranges, *other._ranges])

    def __contains__(self, uid: object) -> bool:
        if not isinstance(uid, int):
            return False
        at = bisect.bisect_right(self._starts, uid) - 1
        return at >= 0 and uid <= self._ranges[at][1]

    def __bool__(self) -> bool:
        return bool(self._ranges)

    def __repr__(self) -> str:
        return f"UidRanges({self._ranges!r})"


_VANISHED = re.compile(rb"\* VANISHED (?:\(EARLIER\) )?([0-9:,]+)\s*$", re.IGNORECASE)


def vanished_uids(line: bytes) -> UidRanges:
    """The UIDs of a ``* VANISHED [(EARLIER)] uid-set`` line (QRESYNC); empty for any other line."""
    match = _VANISHED.match(line)
    return UidRanges.parse(match.group(1).decode("ascii")) if match else UidRanges()


def send_uid_fetch(
    send: Callable[[bytes], None],
    uids: Sequence[int] | str,
    items: Sequence[str],
    modifiers: Sequence[str] = (),
) -> bytes:
    """Send ``UID FETCH`` and return its tag (ours, so it never collides with imaplib's own tags).

    ``uids`` is a list, or a ready sequence set such as ``"1:*"``.
    """
    tag = f"IA{next(_tags)}".encode()
    uid_set = uids if isinstance(uids, str) else format_uid_set(uids)
    command = f"UID FETCH {uid_set} ({' '.join(items)})"
    if modifiers:
        command += f" ({' '.join(modifiers)})"
    send(tag + b" " + command.encode("ascii") + b"\r\n")
    return tag


def read_fetch(
    readline: Callable[[], bytes], read: Callable[[int], bytes], tag: bytes
) -> tuple[dict[int, dict[bytes, Any]], list[bytes]]:
    """Read until ``tag``'s completion: (FETCH data by UID, other untagged lines such as EXISTS/VANISHED).

    Responses without a UID (unsolicited flag updates of other messages) are left out, like imapclient does.
    """
    stream = _Stream(readline, read)
    rows: dict[int, dict[bytes, Any]] = {}
    others: list[bytes] = []
    done = tag + b" "
    while True:
        line = stream.next_line()
        if line.startswith(done):
            status = (line[len(done) :].split(None, 1) or [b""])[0].upper()
            if status != b"OK":
                raise imaplib.IMAP4.error(line.decode("utf-8", "replace").strip())
            return rows, others
        match = _FETCH_START.match(line)
        if match is not None:
            stream.pos = match.end()
            data = _fetch_items(stream)
            uid = data.pop(b"UID", None)
            if isinstance(uid, int):
                data[b"SEQ"] = int(match.group(1))
                rows.setdefault(uid, {}).update(data)
            continue
        if line.startswith(b"* "):
            literal = _LITERAL_END.search(line)
            others.append(line)
            while literal is not None:  # some other untagged response carrying a literal: skip it whole
                stream.literal(literal.group(0))
                literal = _LITERAL_END.search(stream.line)
                others.append(stream.line)
            continue
        raise imaplib.IMAP4.abort(f"unexpected response during FETCH: {line[:80]!r}")
