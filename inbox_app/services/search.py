"""Search with filters, and the seller's saved searches (kept in the profile, shown in the sidebar).

``parse`` is what the window calls on every keystroke (pure and fast, on the UI thread) so a malformed query
is explained under the box at once; ``search_ids`` and ``counts`` do the reading and belong on a worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from inbox_app.domain.search_query import SearchQuery, SearchQueryError, parse_query
from inbox_app.i18n import _
from inbox_app.store import search as store_search
from inbox_app.store import settings as store_settings

MAX_RESULTS = store_search.MAX_RESULTS
#: A saved search's count stops here; the sidebar shows "10,000+" (counting every match of a common word
#: would cost more than the count is worth).
COUNT_CAP = 10_000
ALL_RESULTS = 10_000_000
SAVED_SEARCHES = "saved_searches"  # Setting key: [{"name": …, "query": …}, …] in the seller's order

__all__ = [
    "COUNT_CAP",
    "MAX_RESULTS",
    "SavedSearch",
    "SearchQueryError",
    "count",
    "delete_saved",
    "parse",
    "rename_saved",
    "save_search",
    "saved_counts",
    "saved_searches",
    "search_ids",
]


@dataclass(frozen=True)
class SavedSearch:
    name: str
    query: str


def parse(text: str, tz: tzinfo | None = None) -> SearchQuery:
    """The parsed query; raises :class:`SearchQueryError` (translated ``message``) when it is malformed. Quick:
    the window calls it on the UI thread before handing the search to its worker, so a bad query is told at
    once."""
    return parse_query(text, tz)


def search_ids(
    text: str, *, now: datetime | None = None, limit: int | None = None, tz: tzinfo | None = None
) -> list[int]:
    """Conversations matching ``text`` (words, phrases, filters), best first; raises SearchQueryError.

    Without ``limit``: the best :data:`MAX_RESULTS` when there are words to rank, every match when there
    are only filters (a saved "channel:amazon is:overdue" is a view, and its count must match its list).
    """
    query = parse_query(text, tz)
    if query.is_empty:
        return []
    if limit is None:
        limit = MAX_RESULTS if query.terms else ALL_RESULTS
    return store_search.query_conversation_ids(query, now or datetime.now(UTC), limit)


def count(text: str, *, now: datetime | None = None, cap: int = COUNT_CAP, tz: tzinfo | None = None) -> int:
    """How many conversations match ``text``, at most ``cap``; raises SearchQueryError."""
    query = parse_query(text, tz)
    if query.is_empty:
        return 0
    return store_search.count_matches(query, now or datetime.now(UTC), cap)


# ------------------------------------------------------------------------------------- saved searches


def saved_searches() -> list[SavedSearch]:
    """The saved searches in the seller's order (a damaged entry is skipped, not fatal)."""
    raw = store_settings.get_setting(SAVED_SEARCHES, [])
    found: list[SavedSearch] = []
    for entry in raw if isinstance(raw, list) else []:
        if (
            isinstance(entry, dict)
            and isinstance(entry.get("name"), str)
            and isinstance(entry.get("query"), str)
        ):
            found.append(SavedSearch(entry["name"], entry["query"]))
    return found


def _store(searches: Sequence[SavedSearch]) -> None:
    store_settings.set_setting(SAVED_SEARCHES, [{"name": s.name, "query": s.query} for s in searches] or None)


def save_search(name: str, query: str) -> SavedSearch:
    """Save (or replace, by name) a search; raises SearchQueryError for a malformed query or an empty name."""
    name = name.strip()
    if not name:
        raise SearchQueryError(_("A saved search needs a name."))
    parse_query(query)
    saved = SavedSearch(name, query.strip())
    searches = [s for s in saved_searches() if s.name != name] + [saved]
    _store(searches)
    return saved


def rename_saved(old: str, new: str) -> None:
    """Give a saved search another name; raises SearchQueryError when the new name is empty or taken."""
    new = new.strip()
    if not new:
        raise SearchQueryError(_("A saved search needs a name."))
    searches = saved_searches()
    if new != old and any(s.name == new for s in searches):
        raise SearchQueryError(_("A saved search named “{name}” exists already.").format(name=new))
    _store([SavedSearch(new, s.query) if s.name == old else s for s in searches])


def delete_saved(name: str) -> None:
    _store([s for s in saved_searches() if s.name != name])


def saved_counts(now: datetime | None = None, cap: int = COUNT_CAP) -> dict[str, int]:
    """Saved search name → its count (at most ``cap``); a search that no longer parses counts 0."""
    moment = now or datetime.now(UTC)
    counts: dict[str, int] = {}
    for saved in saved_searches():
        try:
            counts[saved.name] = count(saved.query, now=moment, cap=cap)
        except SearchQueryError:
            counts[saved.name] = 0
    return counts
