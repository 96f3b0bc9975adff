"""Full-text search over messages (SQLite FTS5), answering with conversations, best first.

User input is never passed to MATCH as syntax: each word becomes a quoted prefix term, so "e-mail", "user@x"
or a stray quote cannot raise a syntax error. An order id is looked up directly (exact match on an index).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import peewee

from inbox_app.domain.search_query import NOBODY, Filter, SearchQuery
from inbox_app.domain.views import DUE_SOON_WINDOW
from inbox_app.store import db as store_db
from inbox_app.store.db import database_proxy
from inbox_app.store.models import Conversation, to_db_time
from inbox_app.store.search_index import index_pending

_WORD_RE = re.compile(r"\w+", re.UNICODE)
_ORDER_ID_RE = re.compile(r"^\s*(\d{3}-\d{7}-\d{7}|[A-Z0-9][A-Z0-9-]{5,})\s*$", re.IGNORECASE)
MAX_RESULTS = 500
RANK_WINDOW = 5000


def fts_query(text: str) -> str | None:
    """Turn free text into a safe FTS5 query: every word must match, the last one as a prefix."""
    words = _WORD_RE.findall(text)
    if not words:
        return None
    terms = [f'"{w}"' for w in words[:-1]] + [f'"{words[-1]}"*']
    return " AND ".join(terms)


def search_conversation_ids(text: str, limit: int = MAX_RESULTS) -> list[int]:
    """Conversation ids matching ``text``, best (bm25) first; order-id matches come before anything else."""
    ids: list[int] = []
    seen: set[int] = set()
    if _ORDER_ID_RE.match(text):
        rows = Conversation.select(Conversation.id).where(Conversation.order_id == text.strip()).tuples()
        for row in rows:
            cid = int(row[0])
            ids.append(cid)
            seen.add(cid)
    query = fts_query(text)
    if query is None:
        return ids
    if not store_db.is_read_only():  # a read-only profile is searched as it was last indexed
        index_pending()  # messages stored since the last indexing run must be found too (see search_index)
    db = database_proxy.obj
    # bm25 is computed for every row it sorts: a word found in half of 300,000 messages costs ~170 ms to rank
    # whole. Rank only the newest RANK_WINDOW matches (rowid follows arrival), which answers common words in
    # ~20 ms and leaves rarer words, whose matches all fit in the window, ranked exactly.
    sql = (
        "SELECT m.conversation_id FROM ("
        "  SELECT rowid AS id, rank FROM message_fts WHERE message_fts MATCH ? ORDER BY rowid DESC LIMIT ?"
        ") f JOIN message m ON m.id = f.id ORDER BY f.rank LIMIT ?"
    )
    for (cid,) in db.execute_sql(sql, (query, RANK_WINDOW, limit * 4)).fetchall():
        if cid not in seen:
            seen.add(cid)
            ids.append(cid)
            if len(ids) >= limit:
                break
    return ids


# ------------------------------------------------------------------------------- the search box's filters
#
# A parsed query (``domain.search_query``) becomes one WHERE clause over ``conversation c``. Small tables
# (channel, account, tag) are matched in Python, so names compare Unicode-aware, and enter the SQL as ids.
# Text is matched with FTS5 and combined with the filters in the same SQL statement.

#: Words matching more messages than this, with filters that leave at most one conversation in FEW_SHARE,
#: make the search start from the filtered conversations' messages; otherwise it streams the index matches.
MANY_MATCHES = 5000
FEW_SHARE = 10
#: Newest matching messages that pass the filters and are ranked (as RANK_WINDOW, for filtered text).
FILTERED_RANK_WINDOW = 1000
_PREFIX_END = "\U0010ffff"


def _fts_expression(terms: Sequence[tuple[str, ...]], *, prefix_last: bool) -> str:
    """Quoted FTS5 terms, all required; a phrase keeps its words in order; the last word may be a prefix."""
    parts = ['"' + " ".join(words) + '"' for words in terms]
    if prefix_last and terms and len(terms[-1]) == 1:
        parts[-1] += "*"
    return " AND ".join(parts)


_ASCII_WORD_RE = re.compile(r"[a-z0-9]+")


def _only_completion(prefix: str) -> str | None:
    """The one indexed word starting with ``prefix`` when there is exactly one (else None).

    FTS5 answers a prefix query by merging the doclists of every word with that prefix into one buffer before
    its first row (~6 ms for a word in 145,000 messages at 100,000 conversations, ten times that at 1,000,000),
    and bm25 over the merged list costs ~3x more a row. A finished word is usually the only indexed word that
    starts with itself: searched as that word, it finds the same messages with the same rank, without the
    merge. The vocabulary is read with fts5vocab's 'instance' table, which seeks to a term (the 'row' table
    counts every document of each term it passes). ASCII words only: there the indexed word is the word as
    typed (the tokenizer folds diacritics, which this does not repeat)."""
    if not _ASCII_WORD_RE.fullmatch(prefix):
        return None
    db = database_proxy.obj
    sql = "SELECT term FROM temp.message_fts_terms WHERE term >= ? AND term < ? LIMIT 1"
    try:
        db.execute_sql(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.message_fts_terms "
            "USING fts5vocab(main, message_fts, 'instance')"
        )
        first = db.execute_sql(sql, (prefix, prefix + _PREFIX_END)).fetchone()
        if first is None:
            return None
        # "\x01" sorts before any character a term can hold: the next term after ``first``, found by a seek.
        second = db.execute_sql(sql, (str(first[0]) + "\x01", prefix + _PREFIX_END)).fetchone()
    except (
        peewee.OperationalError
    ):  # no temp schema to write (e.g. a locked read-only handle): the prefix stays
        return None
    return str(first[0]) if second is None else None


def _match_expression(terms: Sequence[tuple[str, ...]]) -> str:
    """The FTS5 query of the search words, the last one a prefix unless it can only complete to one word."""
    if terms and len(terms[-1]) == 1:
        only = _only_completion(terms[-1][0])
        if only is not None:
            return _fts_expression([*terms[:-1], (only,)], prefix_last=False)
    return _fts_expression(terms, prefix_last=True)


def _ids_sql(ids: Iterable[int]) -> str:
    values = sorted({int(i) for i in ids})
    return (
        "(" + ",".join(str(v) for v in values) + ")" if values else "(-1)"
    )  # never NULL: NOT (x IN (NULL)) would drop every row


def _channel_ids(value: str) -> list[int]:
    db = database_proxy.obj
    rows = db.execute_sql("SELECT id, kind, name, coalesce(marketplace, '') FROM channel").fetchall()
    return [
        int(cid)
        for cid, kind, name, market in rows
        if kind == value or str(name).lower().startswith(value) or str(market).lower().startswith(value)
    ]


def _account_ids(value: str) -> list[int]:
    rows = database_proxy.obj.execute_sql("SELECT id, name FROM account").fetchall()
    return [int(aid) for aid, name in rows if value in str(name).lower()]


def _tag_ids(value: str) -> list[int]:
    rows = database_proxy.obj.execute_sql("SELECT id, name FROM tag").fetchall()
    return [int(tid) for tid, name in rows if str(name).lower() == value]


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _has_name_trigrams() -> bool:
    """Whether the profile has the names' trigram indexes (a read-only profile may predate them)."""
    sql = "SELECT 1 FROM sqlite_master WHERE name = 'customer_identity_trigram'"
    return database_proxy.obj.execute_sql(sql).fetchone() is not None


def _condition(flt: Filter, now: datetime) -> tuple[str, list[Any]]:
    """One filter as SQL over ``conversation c``; bare comparisons so that SQLite can use its indexes (the
    caller wraps a negation in ``coalesce``: NOT of a NULL comparison must keep rows without a value)."""
    key, value = flt.key, flt.value
    if key == "channel":
        return f"c.channel_id IN {_ids_sql(_channel_ids(value))}", []
    if key == "account":
        return f"c.account_id IN {_ids_sql(_account_ids(value))}", []
    if key == "status":
        return "c.status = ?", [value]
    if key in ("category", "assignee"):
        if key == "assignee" and value == NOBODY:
            return "(c.assignee IS NULL OR c.assignee = '')", []
        if key == "assignee":
            # lower() on both sides, not ``= ? COLLATE NOCASE``: SQLite 3.40 turns two such terms joined by OR
            # into a lookup of the (binary) assignee index and finds nothing for "assignee:ana assignee:ana".
            return "lower(c.assignee) = lower(?)", [value]
        return "c.category = ?", [value]
    if key == "tag":
        return (
            f"c.id IN (SELECT conversation_id FROM conversation_tag WHERE tag_id IN {_ids_sql(_tag_ids(value))})",
            [],
        )
    if key == "order":
        ranges = [value] if value == value.upper() else [value, value.upper()]
        sql = " OR ".join("(c.order_id >= ? AND c.order_id < ?)" for _r in ranges)
        return f"({sql})", [p for r in ranges for p in (r, r + _PREFIX_END)]
    if key == "from":
        if len(value) >= 3 and not any(ch in value for ch in "%_\\") and _has_name_trigrams():
            # A phrase of the trigram index is the substring match ``LIKE '%value%'`` asks for, answered from the
            # index alone: LIKE re-read every candidate (a long, common domain such as
            # "marketplace.amazon.it" took 28 ms at 100,000 conversations, the phrase 13 ms; a name 0.2 ms).
            phrase = '"' + value.replace('"', '""') + '"'
            return (
                "(c.id IN (SELECT rowid FROM conversation_name_trigram WHERE conversation_name_trigram MATCH ?) "
                "OR c.customer_id IN (SELECT customer_id FROM customer_identity WHERE id IN ("
                "SELECT rowid FROM customer_identity_trigram WHERE customer_identity_trigram MATCH ?)))",
                [phrase, phrase],
            )
        like = _like(value)
        return (
            "(c.customer_name LIKE ? ESCAPE '\\' OR c.customer_id IN (SELECT customer_id FROM "
            "customer_identity WHERE value LIKE ? ESCAPE '\\'))",
            [like, like],
        )
    if key == "lang":
        return "c.language = ?", [value]
    if key in ("before", "after"):
        assert flt.moment is not None
        operator = "<" if key == "before" else ">="
        return f"c.last_message_at {operator} ?", [to_db_time(flt.moment)]
    # key == "is"
    if value == "unread":
        return "c.unread = 1", []
    open_like = "c.status IN ('open', 'snoozed')"
    if value == "overdue":
        return f"({open_like} AND c.deadline_at <= ?)", [to_db_time(now)]
    return (
        f"({open_like} AND c.deadline_at > ? AND c.deadline_at <= ?)",
        [to_db_time(now), to_db_time(now + DUE_SOON_WINDOW)],
    )


def filter_clause(query: SearchQuery, now: datetime) -> tuple[str, list[Any]]:
    """The WHERE clause (over ``conversation c``) of a query's filters and excluded words: values of one filter
    are alternatives, different filters must all hold, a negated filter or word excludes."""
    clauses: list[str] = []
    params: list[Any] = []
    positive: dict[str, list[Filter]] = {}
    for flt in query.filters:
        if flt.negated:
            sql, values = _condition(flt, now)
            clauses.append(f"NOT coalesce(({sql}), 0)")
            params.extend(values)
        else:
            positive.setdefault(flt.key, []).append(flt)
    for alternatives in positive.values():
        parts = [_condition(flt, now) for flt in alternatives]
        clauses.append("(" + " OR ".join(sql for sql, _v in parts) + ")")
        params.extend(value for _sql, values in parts for value in values)
    for words in query.excluded_terms:
        clauses.append(
            "c.id NOT IN (SELECT m.conversation_id FROM message_fts f JOIN message m ON m.id = f.rowid "
            "WHERE message_fts MATCH ?)"
        )
        params.append(_fts_expression([words], prefix_last=False))
    return (" AND ".join(clauses) or "1"), params


def _many_matches(match: str) -> bool:
    """Whether the words match more than MANY_MATCHES messages (counting stops there: ~0.3 µs a match)."""
    sql = "SELECT count(*) FROM (SELECT 1 FROM message_fts WHERE message_fts MATCH ? LIMIT ?)"
    return int(database_proxy.obj.execute_sql(sql, (match, MANY_MATCHES + 1)).fetchone()[0]) > MANY_MATCHES


def _few_ids(where: str, params: Sequence[Any]) -> list[int] | None:
    """The conversations passing the filters when they are at most 1/FEW_SHARE of all (else None).

    Not fewer at 1,000,000 (a cap of sqrt(750 × conversations) was tried): a filter that the words seldom
    meet streams every index match either way, at ~0.3 µs a match checked against these conversations'
    messages but ~2.5 µs a match looked up (2.2 s instead of 0.6 s for a 50 % word with ``channel:kaufland``)."""
    db = database_proxy.obj
    total = int(db.execute_sql("SELECT coalesce(max(id), 0) FROM conversation").fetchone()[0])
    cap = max(total // FEW_SHARE, 1)
    sql = f"SELECT c.id FROM conversation c WHERE {where} LIMIT ?"
    ids = [int(row[0]) for row in db.execute_sql(sql, (*params, cap + 1)).fetchall()]
    return ids if len(ids) <= cap else None


_LIST_ORDER = "ORDER BY (c.deadline_at IS NULL), c.deadline_at, c.last_message_at DESC, c.id DESC"


#: Conversations at the head of the list order that a first page of a filter is looked for in.
FIRST_PAGE_WINDOW = 5000
#: The list order across statuses, holding every column the filters of ``_COVERED_KEYS`` test (see the
#: migration ``_search_covering_order``): walking it yields a filter's matches in list order without a sort.
_ANY_ORDER_INDEX = "conversation_any_status_order"
_COVERED_KEYS = frozenset({"channel", "account", "status", "category", "assignee", "tag", "lang", "before",
                           "after", "is"})  # fmt: skip
_COVERED_COLUMNS = (
    "id, deadline_at, last_message_at, status, channel_id, account_id, language, unread, category, assignee"
)
#: Reading a row of that index costs ~1/25 of fetching and sorting a match found by a filter's own index
#: (measured at 100,000: walking 100,000 rows 13 ms; sorting 33,000 ``channel:`` matches 127 ms).
WALK_COST_RATIO = 25


def _first_in_list_order(where: str, params: Sequence[Any], limit: int) -> list[int] | None:
    """The first ``limit`` matches in list order when they lie among the FIRST_PAGE_WINDOW conversations that
    head the list (else None: the caller runs the full query).

    A broad filter (``channel:amazon``, ``before:``, half of the profile) sorted whole costs 100-250 ms at
    100,000 conversations; its first page is found by reading the head of the list-order index and filtering
    those few rows (~1 ms: the index holds the columns the filters test). The head is a prefix of the order,
    so the answer is exactly the full query's first ``limit``; a narrow filter, with too few matches at the
    head, falls back to the full query."""
    if limit * 2 > FIRST_PAGE_WINDOW:
        return None
    db = database_proxy.obj
    sql = (
        f"SELECT c.id FROM (SELECT {_COVERED_COLUMNS} FROM conversation INDEXED BY {_ANY_ORDER_INDEX} "
        f"{_LIST_ORDER.replace('c.', '')} LIMIT ?) c WHERE {where} {_LIST_ORDER} LIMIT ?"
    )
    try:
        rows = db.execute_sql(sql, (FIRST_PAGE_WINDOW, *params, limit)).fetchall()
    except peewee.OperationalError:  # a profile not migrated yet (read-only, opened by an older schema)
        return None
    return [int(r[0]) for r in rows] if len(rows) >= limit else None


def _walk_pays(where: str, params: Sequence[Any], limit: int) -> bool:
    """Whether walking the list-order index beats letting the filter's own index find the matches and sorting
    them: true when the matches are many (counted with that index, stopping at the break-even number).

    The whole list costs ``total`` index rows walked against ``matches × WALK_COST_RATIO``; a first page of
    ``limit`` walks about ``limit × total / matches`` rows (matches spread over the order)."""
    db = database_proxy.obj
    total = int(db.execute_sql("SELECT coalesce(max(id), 0) FROM conversation").fetchone()[0])
    if limit >= total:
        cap = total // WALK_COST_RATIO
    else:
        cap = min(total // WALK_COST_RATIO, math.isqrt(limit * total // WALK_COST_RATIO))
    sql = f"SELECT count(*) FROM (SELECT 1 FROM conversation c WHERE {where} LIMIT ?)"
    return int(db.execute_sql(sql, (*params, cap + 1)).fetchone()[0]) > cap


def _in_list_order(query: SearchQuery, where: str, params: Sequence[Any], limit: int) -> list[int]:
    """A filter-only search: the first ``limit`` matches in list order (a view's order)."""
    db = database_proxy.obj
    covered = all(flt.key in _COVERED_KEYS for flt in query.filters)
    if covered:
        first = _first_in_list_order(where, params, limit)
        if first is not None:
            return first
    sql = f"SELECT c.id FROM conversation c WHERE {where} {_LIST_ORDER} LIMIT ?"
    plan = db.execute_sql(f"EXPLAIN QUERY PLAN {sql}", (*params, limit)).fetchall()
    if covered and any("ORDER BY" in str(row[-1]) for row in plan) and _walk_pays(where, params, limit):
        # Left to itself SQLite reads the filter's index and sorts every match: 100-400 ms for half the profile.
        walk = f"SELECT c.id FROM conversation c INDEXED BY {_ANY_ORDER_INDEX} WHERE {where} {_LIST_ORDER} LIMIT ?"
        try:
            return [int(r[0]) for r in db.execute_sql(walk, (*params, limit)).fetchall()]
        except peewee.OperationalError:  # a read-only profile older than that index
            pass
    return [int(r[0]) for r in db.execute_sql(sql, (*params, limit)).fetchall()]


def query_conversation_ids(query: SearchQuery, now: datetime, limit: int = MAX_RESULTS) -> list[int]:
    """Conversation ids matching a parsed query. With words: best (bm25) first, an order id typed as text
    first of all; with filters only: in the list's order (deadline first)."""
    where, params = filter_clause(query, now)
    db = database_proxy.obj
    if not query.terms:
        return _in_list_order(query, where, params, limit)
    if not store_db.is_read_only():
        index_pending()
    ids: list[int] = []
    seen: set[int] = set()
    if _ORDER_ID_RE.match(query.text):
        # The order id's index first, then each found row by rowid (CROSS JOIN fixes that order): given
        # ``c.id IN (…)``, SQLite walked a filter's index instead and tested every row (85 ms for
        # ``account:`` at 1,000,000, paid by any word of six letters or more, which looks like an order id).
        sql = (
            "SELECT c.id FROM (SELECT id FROM conversation WHERE order_id = ?) o "
            f"CROSS JOIN conversation c ON c.id = o.id WHERE {where}"
        )
        for (cid,) in db.execute_sql(sql, (query.text.strip(), *params)).fetchall():
            ids.append(int(cid))
            seen.add(int(cid))
    match = _match_expression(query.terms)
    window = FILTERED_RANK_WINDOW if query.filters or query.excluded_terms else RANK_WINDOW
    filtered = bool(query.filters or query.excluded_terms)
    few = _few_ids(where, params) if filtered and _many_matches(match) else None
    if few is not None:
        # Few conversations pass the filters: their message ids are gathered once, and each index match is
        # only checked against that set (the unary + keeps SQLite from probing the index once per id, which
        # FTS5 answers by re-running the whole MATCH: measured 100-1000x slower).
        sql = (
            "SELECT cid FROM (SELECT m.conversation_id AS cid, f.rank AS r FROM message_fts f "
            "CROSS JOIN message m ON m.id = f.rowid WHERE message_fts MATCH ? AND +f.rowid IN ("
            f"SELECT fm.id FROM message fm WHERE fm.conversation_id IN {_ids_sql(few)}) "
            "ORDER BY f.rowid DESC LIMIT ?) ORDER BY r"
        )
        params = []
    else:
        # Newest matches first, each joined to its conversation and filtered as it streams; only the first
        # ``window`` that pass are ranked (bm25 costs ~8 µs a row), so common filters stop early. CROSS JOIN
        # keeps the index outermost: left free, SQLite drove an indexed filter (status, language) and probed
        # FTS5 once per conversation, 80 ms of CPU for a word found in 200 messages.
        sql = (
            "SELECT cid FROM (SELECT m.conversation_id AS cid, f.rank AS r FROM message_fts f "
            "CROSS JOIN message m ON m.id = f.rowid CROSS JOIN conversation c ON c.id = m.conversation_id "
            f"WHERE message_fts MATCH ? AND {where} ORDER BY f.rowid DESC LIMIT ?) ORDER BY r"
        )
    rows = db.execute_sql(sql, (match, *params, window)).fetchall()
    for (cid,) in rows:
        if cid not in seen:
            seen.add(cid)
            ids.append(int(cid))
            if len(ids) >= limit:
                break
    return ids


def count_matches(query: SearchQuery, now: datetime, cap: int) -> int:
    """How many conversations match (at most ``cap``: a saved search shows "10,000+" beyond it)."""
    where, params = filter_clause(query, now)
    db = database_proxy.obj
    if not query.terms:
        sql = f"SELECT count(*) FROM (SELECT 1 FROM conversation c WHERE {where} LIMIT ?)"
        return int(db.execute_sql(sql, (*params, cap)).fetchone()[0])
    if not store_db.is_read_only():
        index_pending()
    # The same matches as the list (``query_conversation_ids``): the last word a prefix, and an order id typed
    # as text; a saved search's count once treated the last word exactly and disagreed with its own list.
    matches = (
        "SELECT m.conversation_id FROM message_fts f "
        "CROSS JOIN message m ON m.id = f.rowid CROSS JOIN conversation c ON c.id = m.conversation_id "
        f"WHERE message_fts MATCH ? AND {where}"
    )
    args: list[Any] = [_match_expression(query.terms), *params]
    if _ORDER_ID_RE.match(query.text):
        matches += (
            " UNION SELECT c.id FROM (SELECT id FROM conversation WHERE order_id = ?) o "
            f"CROSS JOIN conversation c ON c.id = o.id WHERE {where}"
        )
        args += [query.text.strip(), *params]
    else:
        matches = matches.replace("SELECT m.conversation_id", "SELECT DISTINCT m.conversation_id", 1)
    sql = f"SELECT count(*) FROM ({matches} LIMIT ?)"
    return int(db.execute_sql(sql, (*args, cap)).fetchone()[0])
