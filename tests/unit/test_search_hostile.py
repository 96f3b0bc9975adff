"""What sellers (and their cats) type into the search box never reaches them as a database error: each query
below either answers (list and count) or raises ``SearchQueryError`` with a sentence, over a real demo profile.

FTS5 syntax (AND/OR/NOT/NEAR, parentheses, ``^``, ``*``, column filters), SQL-looking text, quotes, stray
dashes and colons, dates at the calendar's edges (``before:0001-01-01`` once raised "year 0 is out of range"
while the window parsed the box on every keystroke)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from inbox_app.demo.generator import generate
from inbox_app.domain.search_query import parse_query
from inbox_app.profile import Profile, open_profile
from inbox_app.services import search
from inbox_app.services.search import SearchQueryError

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

HOSTILE = [
    "-", "--", '""', '" "', "*", "a*", "*a", "AND", "OR", "NOT", "a OR", "(", ")", "a AND (b", "NEAR(a b)",
    "^a", ":", "'", "a'b", "e-mail", "user@x", "{a}", "[a]", "a-", "-a", "--status:closed", "- status:closed",
    'status:"open"', 'tag:"a b"', "x" * 2000, "\x00", "é*", "https://x.com/a?b=c", "100%", "%", "_",
    "a;drop table conversation", "subject:hola", "message_fts:a", "after:2026-01-01 before:2025-01-01",
    "after:9999-12-31", "before:9999-12-31", "lang:xx", "order:'", "from:%", "assignee:_", "-is:unread",
    "Größe", "ÑANDÚ", "paquete\tno\nllegó", "🙂", "a" + "\u0301",
]  # fmt: skip

MALFORMED = [
    ("after:99999-01-01", "is not a date for after:"),
    ("before:2026-02-30", "is not a date for before:"),
    ("a:b", "Unknown filter “a:”"),
    ('from:"', "A quote is not closed"),
    ("status:", "status: needs a value"),
    ("is:starred", "Unknown is:starred"),
]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile") / "profile"
    prof = open_profile(folder)
    generate(prof, count=60, seed=2, now=NOW)
    prof.close()
    return folder


@pytest.fixture
def demo(demo_dir: Path) -> Iterator[Profile]:
    prof = open_profile(demo_dir)
    yield prof
    prof.close()


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_answers_or_explains(demo: Profile, text: str) -> None:
    try:
        found = search.search_ids(text, now=NOW)
        counted = search.count(text, now=NOW)
    except SearchQueryError as exc:
        assert exc.message and "sqlite" not in exc.message.lower()
    else:
        assert len(set(found)) == len(found)
        assert counted >= 0


@pytest.mark.parametrize(("text", "expected"), MALFORMED)
@pytest.mark.parametrize("zone", [None, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))])
def test_malformed_text_says_why_in_any_zone(
    demo: Profile, text: str, expected: str, zone: timezone | None
) -> None:
    with pytest.raises(SearchQueryError) as info:
        parse_query(text, zone)
    assert expected in info.value.message
    with pytest.raises(SearchQueryError):
        search.search_ids(text, now=NOW, tz=zone)


ZONES = [None, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))]


@pytest.mark.parametrize(
    "text", ["before:0001-01-01", "after:0001-01-02", "after:9999-12-31", "before:9999-12-31"]
)
@pytest.mark.parametrize("zone", ZONES)
def test_days_at_the_calendars_edges_answer_or_explain_in_any_zone(
    demo: Profile, text: str, zone: timezone | None
) -> None:
    try:
        search.search_ids(text, now=NOW, tz=zone)
        search.count(text, now=NOW, tz=zone)
    except SearchQueryError as exc:
        assert "is not a date for" in exc.message


def test_a_day_before_year_one_in_utc_is_not_a_date() -> None:
    with pytest.raises(SearchQueryError) as info:
        parse_query("before:0001-01-01", timezone(timedelta(hours=14)))
    assert "“0001-01-01” is not a date for before:" in info.value.message
