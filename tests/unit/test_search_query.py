"""The search box's language: what is understood, and what is refused with a sentence instead of SQL errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inbox_app.domain.search_query import Filter, SearchQueryError, parse_query


def test_words_phrases_and_filters() -> None:
    q = parse_query('paquete "no ha llegado" channel:amazon -status:closed status:open')
    assert q.terms == (("paquete",), ("no", "ha", "llegado"))
    assert q.filters == (
        Filter("channel", "amazon"),
        Filter("status", "closed", negated=True),
        Filter("status", "open"),
    )
    assert q.text == "paquete no ha llegado"


def test_values_are_case_folded_but_order_ids_kept() -> None:
    q = parse_query("Channel:AMAZON lang:ES order:302-12 from:Lucía")
    assert [(f.key, f.value) for f in q.filters] == [
        ("channel", "amazon"),
        ("lang", "es"),
        ("order", "302-12"),
        ("from", "lucía"),
    ]


def test_quoted_filter_value_and_negated_words() -> None:
    q = parse_query('account:"Demo shop" -refund -"gift card" -e-mail')
    assert q.filters == (Filter("account", "demo shop"),)
    assert q.terms == ()
    assert q.excluded_terms == (("refund",), ("gift", "card"), ("e", "mail"))


def test_is_filters() -> None:
    q = parse_query("is:unread -is:overdue is:due-soon")
    assert [(f.value, f.negated) for f in q.filters] == [
        ("unread", False),
        ("overdue", True),
        ("due-soon", False),
    ]


def test_dates_are_days_in_the_users_zone() -> None:
    madrid = ZoneInfo("Europe/Madrid")
    q = parse_query("after:2026-03-29 before:2026-11-02", madrid)
    after, before = q.filters
    assert after.moment == datetime(2026, 3, 29, tzinfo=madrid)
    assert after.moment.utcoffset() == timedelta(hours=1)  # the morning DST started: midnight was still CET
    assert before.moment is not None and before.moment.astimezone(UTC) == datetime(
        2026, 11, 1, 23, tzinfo=UTC
    )
    fixed = parse_query("after:2026-01-01", timezone(timedelta(hours=-5))).filters[0]
    assert fixed.moment is not None and fixed.moment.astimezone(UTC) == datetime(2026, 1, 1, 5, tzinfo=UTC)


def test_text_with_colons_that_is_not_a_filter() -> None:
    q = parse_query("10:30 https://shop.example/p/1")
    assert q.filters == ()
    assert ("10",) in q.terms and ("https",) in q.terms


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("colour:red", "Unknown filter “colour:”"),
        ("status:lost", "Unknown status “lost”"),
        ("category:weather", "Unknown category “weather”"),
        ("is:starred", "Unknown is:starred"),
        ("before:yesterday", "“yesterday” is not a date for before:"),
        ("after:2026-13-01", "is not a date for after:"),
        ('"no ha llegado', "A quote is not closed"),
        ("tag:", "tag: needs a value"),
        ('from:""', "from: needs a value"),
    ],
)
def test_malformed_queries_say_why(text: str, expected: str) -> None:
    with pytest.raises(SearchQueryError) as info:
        parse_query(text)
    assert expected in info.value.message


def test_messages_are_translated() -> None:
    from inbox_app import i18n

    i18n.setup("es")
    try:
        with pytest.raises(SearchQueryError) as info:
            parse_query('"abc')
        # The catalog may not have this new string yet; the message must at least come through gettext intact.
        assert info.value.message == i18n._(
            'A quote is not closed: add the closing " or remove the opening one.'
        )
    finally:
        i18n.setup("en")


def test_empty_and_blank() -> None:
    assert parse_query("").is_empty
    assert parse_query("   - -- ").is_empty


@given(st.text(max_size=60))
def test_any_text_parses_or_says_why(text: str) -> None:
    try:
        q = parse_query(text)
    except SearchQueryError as exc:
        assert exc.message
    else:
        assert all(words and all(words) for words in q.terms + q.excluded_terms)
