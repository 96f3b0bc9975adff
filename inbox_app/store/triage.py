"""Triage writes: categories from the rules, statuses that wake and reopen by themselves, bulk changes with undo.

Every bulk change runs in one transaction with one statement per kind of row (``executemany``), so closing or
tagging 1,000 conversations is one commit, not 1,000; it returns what it replaced (:class:`Undo`), and
:func:`undo` puts exactly that back, also in one transaction. Nothing here knows about keys or windows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import peewee

from inbox_app.domain.categories import (
    CATEGORY_LABELS,
    CategoryMatcher,
    CategorySource,
    categorise,
    merge_rules,
)
from inbox_app.domain.conversations import Status
from inbox_app.store.db import database_proxy
from inbox_app.store.events import EventKind
from inbox_app.store.mail_models import MailStore
from inbox_app.store.models import Tag, from_db_time, to_db_time, utcnow
from inbox_app.store.settings import get_setting, set_setting

log = logging.getLogger("inbox_app.store")

CATEGORY_RULES = (
    "category_rules"  # Setting: the seller's edits of the keyword rules (category → lang → words)
)
TEAM = "team_members"  # Setting: the names the workstation's team picks assignees from
TEXT_READ = 500  # characters of the first inbound message the rules read (the problem is named early)
_CHUNK = 500
_STOPPED = frozenset({Status.PENDING.value, Status.CLOSED.value})  # statuses without a deadline

_matcher_cache: tuple[str, CategoryMatcher] | None = None


def _db() -> peewee.SqliteDatabase:
    db: peewee.SqliteDatabase = database_proxy.obj
    return db


def _marks(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


def _chunks(values: Sequence[int]) -> Iterable[list[int]]:
    for start in range(0, len(values), _CHUNK):
        yield list(values[start : start + _CHUNK])


# ---------------------------------------------------------------------------------------------- settings
def stored_rules() -> Any:
    return get_setting(CATEGORY_RULES)


def category_rules() -> dict[str, dict[str, tuple[str, ...]]]:
    """The rules in force: the defaults with the seller's edits over them."""
    return merge_rules(stored_rules())


def save_category_rules(rules: dict[str, dict[str, list[str]]] | None) -> None:
    """Store the seller's rules (None: back to the defaults)."""
    set_setting(CATEGORY_RULES, rules or None)


def matcher() -> CategoryMatcher:
    """The compiled rules, rebuilt only when the stored rules changed (compiling costs ~10 ms)."""
    global _matcher_cache
    key = json.dumps(stored_rules(), sort_keys=True)
    if _matcher_cache is None or _matcher_cache[0] != key:
        _matcher_cache = (key, CategoryMatcher(merge_rules(json.loads(key))))
    return _matcher_cache[1]


def team() -> list[str]:
    value = get_setting(TEAM, [])
    return [str(v) for v in value if isinstance(v, str) and v.strip()] if isinstance(value, list) else []


def save_team(names: Sequence[str]) -> None:
    unique = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    set_setting(TEAM, unique or None)


# ---------------------------------------------------------------------------------------------- ingest hooks
def categorise_conversations(ids: Iterable[int]) -> int:
    """Categorise the conversations that the rules may still decide; return how many got a category.

    Called by the one writer's ``inbound_stored`` hook whenever a customer's text is stored (mail bodies,
    marketplace batches, the demo), inside its transaction. A category set by hand is never touched; one set by the rules is revisited only
    while it is ``other`` (a mail's body arrives after its headers, and the first words may say nothing).
    """
    todo = sorted(set(ids))
    if not todo:
        return 0
    rules = matcher()
    db = _db()
    updates: list[tuple[str, str, int]] = []
    for chunk in _chunks(todo):
        rows = db.execute_sql(
            "SELECT c.id, c.subject, json_extract(c.extra, '$.category_hint'), "
            "json_extract(c.extra, '$.marketplace_reason'), "
            f"(SELECT substr(m.text_body, 1, {TEXT_READ}) FROM message m WHERE m.conversation_id = c.id "
            "AND m.direction = 'in' ORDER BY m.sent_at, m.id LIMIT 1), c.category "
            f"FROM conversation c WHERE c.id IN ({_marks(chunk)}) AND (c.category_source IS NULL "
            "OR (c.category_source = 'rule' AND c.category = 'other'))",
            chunk,
        )
        for conv_id, subject, hint, reason, text, old in rows:
            found = categorise(
                rules,
                str(subject or ""),
                str(text or ""),
                marketplace_category=str(hint) if hint else None,
                marketplace_reason=str(reason) if reason else None,
            )
            if found.category.value != old or old is None:
                updates.append((found.category.value, found.source.value, int(conv_id)))
    if updates:
        db.cursor().executemany(
            "UPDATE conversation SET category = ?, category_source = ? WHERE id = ?", updates
        )
    return len(updates)


def categorise_uncategorised() -> int:
    """Categorise every conversation that has no category yet (profiles from before categories existed)."""
    ids = [int(r[0]) for r in _db().execute_sql("SELECT id FROM conversation WHERE category IS NULL")]
    done = 0
    for chunk in _chunks(ids):
        with _db().atomic():
            done += categorise_conversations(chunk)
    return done


def recategorise_by_rules() -> int:
    """Apply edited rules to every conversation the rules (not a person, not the marketplace) categorised."""
    with _db().atomic():
        _db().execute_sql(
            "UPDATE conversation SET category = NULL, category_source = NULL WHERE category_source = 'rule'"
        )
    return categorise_uncategorised()


def reopen_on_inbound(message_ids: Iterable[int]) -> set[int]:
    """New messages were stored: a customer's message reopens a closed, pending or snoozed conversation.

    Only a message written after the conversation's last status change counts (an old mail found by a
    later sync of another folder must not undo today's "closed"). Returns the reopened conversation ids.
    """
    ids = sorted(set(message_ids))
    reopened: set[int] = set()
    db = _db()
    for chunk in _chunks(ids):
        rows = db.execute_sql(
            "SELECT c.id, c.status FROM conversation c WHERE c.status IN ('pending', 'snoozed', 'closed') "
            "AND c.id IN (SELECT m.conversation_id FROM message m WHERE m.id IN "
            f"({_marks(chunk)}) AND m.direction = 'in' AND m.is_auto_reply = 0 AND m.sent_at > "
            "COALESCE((SELECT MAX(e.at) FROM event e WHERE e.conversation = m.conversation_id "
            "AND e.kind = 'status_changed'), ''))",
            chunk,
        )
        found = [(int(r[0]), str(r[1])) for r in rows]
        if found:
            _write_statuses([(cid, Status.OPEN.value, None) for cid, _old in found], old=dict(found))
            _log(
                [(EventKind.STATUS_CHANGED.value, cid, {"old": old, "new": "open"}) for cid, old in found],
                "customer",
            )
            reopened.update(cid for cid, _old in found)
    return reopened


def wake_snoozed(now: datetime | None = None) -> list[int]:
    """Snoozed conversations whose time has come go back to open; returns their ids."""
    moment = to_db_time(now or utcnow())
    db = _db()
    with db.atomic():
        ids = [
            int(r[0])
            for r in db.execute_sql(
                "SELECT id FROM conversation WHERE snoozed_until IS NOT NULL AND snoozed_until <= ? "
                "AND status = 'snoozed'",
                (moment,),
            )
        ]
        if ids:
            _write_statuses(
                [(cid, Status.OPEN.value, None) for cid in ids], old=dict.fromkeys(ids, "snoozed")
            )
            _log(
                [(EventKind.STATUS_CHANGED.value, cid, {"old": "snoozed", "new": "open"}) for cid in ids],
                "snooze",
            )
    return ids


def next_wake() -> datetime | None:
    """When the next snoozed conversation wakes (None: none is snoozed)."""
    row = (
        _db()
        .execute_sql(
            "SELECT MIN(snoozed_until) FROM conversation WHERE status = 'snoozed' AND snoozed_until IS NOT NULL"
        )
        .fetchone()
    )
    if row is None or row[0] is None:
        return None
    return from_db_time(str(row[0]))


# ---------------------------------------------------------------------------------------------- bulk + undo
@dataclass(frozen=True)
class Change:
    """What a bulk action sets; None fields are left alone. ``assignee=""`` unassigns."""

    status: Status | None = None
    snoozed_until: datetime | None = None
    category: str | None = None
    assignee: str | None = None
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()


@dataclass
class Undo:
    """What a bulk action replaced, enough to put it back (and how many conversations it changed)."""

    ids: tuple[int, ...] = ()
    # id, status, snoozed_until, deadline_started_at, deadline_at (as stored: undo writes them back as they were)
    statuses: list[tuple[int, str, str | None, str | None, str | None]] = field(default_factory=list)
    categories: list[tuple[int, str | None, str | None]] = field(default_factory=list)  # id, category, source
    assignees: list[tuple[int, str | None]] = field(default_factory=list)
    added_links: list[tuple[int, int]] = field(default_factory=list)  # (conversation, tag) created
    removed_links: list[tuple[int, int]] = field(default_factory=list)  # (conversation, tag) deleted

    @property
    def changed(self) -> int:
        touched = (
            {r[0] for r in self.statuses} | {r[0] for r in self.categories} | {r[0] for r in self.assignees}
        )
        touched |= {c for c, _t in self.added_links} | {c for c, _t in self.removed_links}
        return len(touched)


class UnknownCategoryError(ValueError):
    """The category is not one of the fixed vocabulary."""


def apply_change(ids: Sequence[int], change: Change, *, actor: str = "") -> Undo:
    """Apply ``change`` to the existing conversations among ``ids`` in one transaction; return its undo."""
    if change.category is not None and change.category not in CATEGORY_LABELS:
        raise UnknownCategoryError(change.category)
    db = _db()
    undo = Undo()
    with db.atomic("IMMEDIATE") if not db.in_transaction() else db.atomic():
        rows = _current(ids)
        undo.ids = tuple(rows)
        events: list[tuple[str, int, dict[str, Any]]] = []
        if change.status is not None:
            new_status = change.status.value
            until = to_db_time(change.snoozed_until) if change.snoozed_until is not None else None
            if change.status is not Status.SNOOZED:
                until = None
            targets = [
                cid for cid, r in rows.items() if (r["status"], r["snoozed_until"]) != (new_status, until)
            ]
            undo.statuses = [
                (
                    cid,
                    rows[cid]["status"],
                    rows[cid]["snoozed_until"],
                    rows[cid]["started"],
                    rows[cid]["deadline"],
                )
                for cid in targets
            ]
            _write_statuses(
                [(cid, new_status, until) for cid in targets],
                old={cid: rows[cid]["status"] for cid in targets},
            )
            events += [
                (EventKind.STATUS_CHANGED.value, cid, {"old": rows[cid]["status"], "new": new_status})
                for cid in targets
                if rows[cid]["status"] != new_status
            ]
        if change.category is not None:
            targets = [
                cid
                for cid, r in rows.items()
                if (r["category"], r["category_source"]) != (change.category, CategorySource.MANUAL.value)
            ]
            undo.categories = [(cid, rows[cid]["category"], rows[cid]["category_source"]) for cid in targets]
            db.cursor().executemany(
                "UPDATE conversation SET category = ?, category_source = 'manual' WHERE id = ?",
                [(change.category, cid) for cid in targets],
            )
            events += [("categorised", cid, {"category": change.category}) for cid in targets]
        if change.assignee is not None:
            assignee = change.assignee.strip() or None
            targets = [cid for cid, r in rows.items() if r["assignee"] != assignee]
            undo.assignees = [(cid, rows[cid]["assignee"]) for cid in targets]
            db.cursor().executemany(
                "UPDATE conversation SET assignee = ? WHERE id = ?", [(assignee, cid) for cid in targets]
            )
            events += [("assigned", cid, {"assignee": assignee}) for cid in targets]
        if change.add_tags:
            undo.added_links = _add_tags(list(rows), change.add_tags)
            events += [(EventKind.TAGGED.value, c, {"tag_id": t}) for c, t in undo.added_links]
        if change.remove_tags:
            undo.removed_links = _remove_tags(list(rows), change.remove_tags)
            events += [(EventKind.UNTAGGED.value, c, {"tag_id": t}) for c, t in undo.removed_links]
        _log(events, actor)
    return undo


def undo(record: Undo, *, actor: str = "") -> None:
    """Put back what :func:`apply_change` replaced (one transaction)."""
    db = _db()
    with db.atomic():
        if record.statuses:
            current = _current([r[0] for r in record.statuses])
            db.cursor().executemany(
                "UPDATE conversation SET status = ?, snoozed_until = ?, deadline_started_at = ?, deadline_at = ? "
                "WHERE id = ?",
                [
                    (status, until, started, deadline, cid)
                    for cid, status, until, started, deadline in record.statuses
                ],
            )
            _log(
                [
                    (EventKind.STATUS_CHANGED.value, cid, {"old": current[cid]["status"], "new": old})
                    for cid, old, _until, _started, _deadline in record.statuses
                    if cid in current and current[cid]["status"] != old
                ],
                actor,
            )
        db.cursor().executemany(
            "UPDATE conversation SET category = ?, category_source = ? WHERE id = ?",
            [(cat, src, cid) for cid, cat, src in record.categories],
        )
        db.cursor().executemany(
            "UPDATE conversation SET assignee = ? WHERE id = ?", [(a, cid) for cid, a in record.assignees]
        )
        db.cursor().executemany(
            "DELETE FROM conversation_tag WHERE conversation_id = ? AND tag_id = ?", record.added_links
        )
        db.cursor().executemany(
            "INSERT OR IGNORE INTO conversation_tag (conversation_id, tag_id) SELECT ?, ? "
            "WHERE EXISTS (SELECT 1 FROM conversation WHERE id = ?)",
            [(c, t, c) for c, t in record.removed_links],
        )


def add_note(conversation_id: int, text: str, *, author: str = "") -> int | None:
    """An internal note on one conversation; None when the conversation does not exist."""
    db = _db()
    with db.atomic():
        if db.execute_sql("SELECT 1 FROM conversation WHERE id = ?", (conversation_id,)).fetchone() is None:
            return None
        cursor = db.execute_sql(
            "INSERT INTO note (conversation_id, author, body, created_at) VALUES (?, ?, ?, ?)",
            (conversation_id, author, text, to_db_time(utcnow())),
        )
        note_id = int(cursor.lastrowid)
        _log([(EventKind.NOTE_ADDED.value, conversation_id, {"note": note_id})], author)
    return note_id


def existing_ids(ids: Sequence[int]) -> list[int]:
    """The ids among ``ids`` that exist, in the given order."""
    return [i for i in ids if i in _current(ids)]


# ---------------------------------------------------------------------------------------------- helpers
def _current(ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(sorted(set(ids))):
        for cid, status, until, category, source, assignee, started, deadline in _db().execute_sql(
            "SELECT id, status, snoozed_until, category, category_source, assignee, deadline_started_at, "
            "deadline_at FROM conversation "
            f"WHERE id IN ({_marks(chunk)})",
            chunk,
        ):
            out[int(cid)] = {
                "status": str(status),
                "snoozed_until": until,
                "category": category,
                "category_source": source,
                "assignee": assignee,
                "started": started,
                "deadline": deadline,
            }
    return out


def _write_statuses(
    rows: Sequence[tuple[int, str, str | None]], *, old: dict[int, str] | None = None
) -> None:
    """Set statuses and snooze times and keep the deadline in step, as ``ingest.set_status`` does for one.

    Pending and closed have no deadline (``deadlines.compute_deadline``), open and snoozed the same one: so
    only a conversation coming back from pending or closed needs its deadline derived from its messages
    again (the bulk writer's refresh); the others are one UPDATE each. ``old``: id → status before (read
    here when not given).
    """
    if not rows:
        return
    db = _db()
    before = (
        old if old is not None else {cid: r["status"] for cid, r in _current([r[0] for r in rows]).items()}
    )
    db.cursor().executemany(
        "UPDATE conversation SET status = ?, snoozed_until = ?, "
        "deadline_started_at = CASE WHEN ? THEN NULL ELSE deadline_started_at END, "
        "deadline_at = CASE WHEN ? THEN NULL ELSE deadline_at END WHERE id = ?",
        [
            (status, until if status == Status.SNOOZED.value else None, stop, stop, cid)
            for cid, status, until in rows
            for stop in (int(status in _STOPPED),)
        ],
    )
    ids = sorted({cid for cid, status, _u in rows if status not in _STOPPED and before.get(cid) in _STOPPED})
    if not ids:
        return
    MailStore(0).refresh(ids)
    for chunk in _chunks(ids):
        # A marketplace that runs the clock itself (store.channel_threads.VENDOR_CLOCK): no reply awaited
        # without its reply_needed_since, as ``ingest.refresh_conversation`` derives it.
        db.execute_sql(
            "UPDATE conversation SET deadline_started_at = NULL, deadline_at = NULL "
            "WHERE reply_needed_since IS NULL AND json_extract(extra, '$.vendor_clock') "
            f"AND id IN ({_marks(chunk)})",
            chunk,
        )


def _log(events: Sequence[tuple[str, int, dict[str, Any]]], actor: str) -> None:
    if not events:
        return
    now = to_db_time(utcnow())
    _db().cursor().executemany(
        "INSERT INTO event (at, kind, conversation, actor, data) VALUES (?, ?, ?, ?, ?)",
        [(now, kind, cid, actor, json.dumps(data, sort_keys=True)) for kind, cid, data in events],
    )


def _tag_ids(names: Sequence[str], *, create: bool) -> list[int]:
    ids: list[int] = []
    for name in dict.fromkeys(n.strip() for n in names if n.strip()):
        tag = Tag.get_or_none(Tag.name == name)
        if tag is None and create:
            tag = Tag.create(name=name)
        if tag is not None:
            ids.append(int(tag.id))
    return ids


def _add_tags(conversations: Sequence[int], names: Sequence[str]) -> list[tuple[int, int]]:
    created: list[tuple[int, int]] = []
    for tag_id in _tag_ids(names, create=True):
        for chunk in _chunks(sorted(conversations)):
            have = {
                int(r[0])
                for r in _db().execute_sql(
                    "SELECT conversation_id FROM conversation_tag WHERE tag_id = ? AND conversation_id IN "
                    f"({_marks(chunk)})",
                    [tag_id, *chunk],
                )
            }
            created += [(cid, tag_id) for cid in chunk if cid not in have]
    _db().cursor().executemany(
        "INSERT INTO conversation_tag (conversation_id, tag_id) VALUES (?, ?)", created
    )
    return created


def _remove_tags(conversations: Sequence[int], names: Sequence[str]) -> list[tuple[int, int]]:
    removed: list[tuple[int, int]] = []
    for tag_id in _tag_ids(names, create=False):
        for chunk in _chunks(sorted(conversations)):
            removed += [
                (int(r[0]), tag_id)
                for r in _db().execute_sql(
                    "SELECT conversation_id FROM conversation_tag WHERE tag_id = ? AND conversation_id IN "
                    f"({_marks(chunk)})",
                    [tag_id, *chunk],
                )
            ]
    _db().cursor().executemany(
        "DELETE FROM conversation_tag WHERE conversation_id = ? AND tag_id = ?", removed
    )
    return removed


def triage_fields(
    ids: Sequence[int],
) -> dict[int, tuple[str | None, str | None, str | None, datetime | None, tuple[str, ...]]]:
    """id → (category, category_source, assignee, snoozed_until, tags) for the existing ids."""
    out: dict[int, tuple[str | None, str | None, str | None, datetime | None, tuple[str, ...]]] = {}
    db = _db()
    for chunk in _chunks(sorted(set(ids))):
        tags: dict[int, list[str]] = {}
        for cid, name in db.execute_sql(
            "SELECT ct.conversation_id, t.name FROM conversation_tag ct JOIN tag t ON t.id = ct.tag_id "
            f"WHERE ct.conversation_id IN ({_marks(chunk)}) ORDER BY t.name",
            chunk,
        ):
            tags.setdefault(int(cid), []).append(str(name))
        for cid, category, source, assignee, until in db.execute_sql(
            "SELECT id, category, category_source, assignee, snoozed_until FROM conversation "
            f"WHERE id IN ({_marks(chunk)})",
            chunk,
        ):
            out[int(cid)] = (
                category,
                source,
                assignee,
                from_db_time(until) if until else None,
                tuple(tags.get(int(cid), ())),
            )
    return out


def unanswered_on_marketplaces(ids: Sequence[int]) -> int:
    """How many of ``ids`` await an answer on a marketplace (its clock keeps running there if we close them)."""
    from inbox_app.domain.deadlines import MARKETPLACE_KINDS

    kinds = sorted(MARKETPLACE_KINDS)
    total = 0
    for chunk in _chunks(sorted(set(ids))):
        row = (
            _db()
            .execute_sql(
                "SELECT COUNT(*) FROM conversation c JOIN channel ch ON ch.id = c.channel_id "
                f"WHERE c.id IN ({_marks(chunk)}) AND c.deadline_at IS NOT NULL AND ch.kind IN ({_marks(kinds)})",
                [*chunk, *kinds],
            )
            .fetchone()
        )
        total += int(row[0]) if row else 0
    return total
