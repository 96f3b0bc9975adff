"""Full-text search over messages (SQLite FTS5), answering with conversations, best first.

User input is never passed to MATCH as syntax: each word becomes a quoted prefix term, so "e-mail", "user@x"
or a stray quote cannot raise a syntax error. An order id is looked up directly (exact match on an index).
"""

from __future__ import annotations

import re

from inbox_app.store import db as store_db
from inbox_app.store.db import database_proxy
from inbox_app.store.models import Conversation
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
