"""The search box's language: free words, "quoted phrases", ``key:value`` filters and ``-`` negation.

Parsed here, in plain Python, so that whatever the seller types is either understood or refused with a sentence
in their language *before* anything reaches SQLite: an unknown filter, a date that is not a date or an
unclosed quote never becomes a database error. The store turns a :class:`SearchQuery` into SQL.

Meaning of the filters (the same in the window, ``inbox-app search`` and the saved searches):

* ``channel:`` a channel kind (``amazon``, ``ebay``, ``email``…) or the start of a channel's name or
  marketplace (``channel:fnac``); ``account:`` part of an account's name; ``status:`` one of the statuses;
  ``category:`` one of the fixed categories; ``tag:`` a tag's name; ``assignee:`` an agent's name (``none``:
  nobody); ``order:`` the start of an order id; ``from:`` part of the customer's name or address;
  ``lang:`` the conversation's language code.
* ``after:DATE`` keeps conversations whose last message is on or after that day, ``before:DATE`` those before
  it; days are ``YYYY-MM-DD`` in the user's time zone.
* ``is:unread``, ``is:overdue``, ``is:due-soon``.
* The same filter given twice means either value (``channel:ebay channel:amazon``); different filters must
  all hold; ``-`` in front of a filter, a word or a phrase excludes what it matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, tzinfo

from inbox_app.domain.conversations import Status
from inbox_app.i18n import _

FILTER_KEYS: tuple[str, ...] = (
    "channel",
    "account",
    "status",
    "category",
    "tag",
    "assignee",
    "order",
    "from",
    "lang",
    "before",
    "after",
    "is",
)
IS_VALUES: tuple[str, ...] = ("unread", "overdue", "due-soon")
#: The issue's fixed vocabulary (``domain.categories`` owns the labels; the names are the stored values).
CATEGORY_NAMES: tuple[str, ...] = (
    "delivery",
    "damaged",
    "wrong_item",
    "return",
    "refund",
    "stock",
    "promo_code",
    "payment",
    "invoice",
    "pre_sale",
    "other",
)
STATUS_NAMES: tuple[str, ...] = tuple(s.value for s in Status)
NOBODY = "none"  # ``assignee:none``: conversations nobody is assigned to

_FILTER_RE = re.compile(r"([A-Za-z][A-Za-z_-]*):(.*)", re.DOTALL)
_WORD_RE = re.compile(r"\w+", re.UNICODE)


class SearchQueryError(ValueError):
    """The query cannot be understood; ``message`` says why, translated, ready to show under the box."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Filter:
    """One ``key:value`` (``negated`` for ``-key:value``); dates are already resolved to aware datetimes."""

    key: str
    value: str
    negated: bool = False
    moment: datetime | None = None  # before/after: the start of that day in the user's time zone


@dataclass(frozen=True)
class SearchQuery:
    """What the seller asked for. ``terms`` are free words and phrases (each a tuple of words: one word, or a
    phrase's words in order); the ``excluded_terms`` must not appear anywhere in the conversation."""

    terms: tuple[tuple[str, ...], ...] = ()
    excluded_terms: tuple[tuple[str, ...], ...] = ()
    filters: tuple[Filter, ...] = field(default_factory=tuple)
    text: str = ""  # the free text as typed (without the filters), for the order-id shortcut

    @property
    def is_empty(self) -> bool:
        return not (self.terms or self.excluded_terms or self.filters)

    def filters_for(self, key: str, *, negated: bool = False) -> list[Filter]:
        return [f for f in self.filters if f.key == key and f.negated == negated]


def _tokens(text: str) -> list[tuple[str, bool]]:
    """Split on blanks, keeping quoted stretches whole; each token comes with "had a quote in it"."""
    tokens: list[tuple[str, bool]] = []
    current: list[str] = []
    quoted = False
    in_quote = False
    for char in text:
        if char == '"':
            in_quote = not in_quote
            quoted = True
            current.append(char)
        elif char.isspace() and not in_quote:
            if current:
                tokens.append(("".join(current), quoted))
            current, quoted = [], False
        else:
            current.append(char)
    if in_quote:
        raise SearchQueryError(_('A quote is not closed: add the closing " or remove the opening one.'))
    if current:
        tokens.append(("".join(current), quoted))
    return tokens


def _parse_day(key: str, value: str, tz: tzinfo | None) -> datetime:
    try:
        day = date.fromisoformat(value)
        start = datetime.combine(day, time())
        # No zone given: the system's local zone for *that* day (DST included), as the seller's clock shows it.
        moment = start.replace(tzinfo=tz) if tz is not None else start.astimezone()
        moment.astimezone(UTC)  # the store compares in UTC: 0001-01-01 or 9999-12-31 may not get there
    except (ValueError, OverflowError):
        raise SearchQueryError(
            _("“{value}” is not a date for {key}: — write it as YYYY-MM-DD, e.g. {key}:2026-11-02.").format(
                value=value, key=key
            )
        ) from None
    return moment


def _filter(key: str, raw_value: str, negated: bool, tz: tzinfo | None) -> Filter:
    value = raw_value.replace('"', "").strip()
    if not value:
        raise SearchQueryError(
            _("{key}: needs a value, e.g. {example}.").format(key=key, example=_EXAMPLES[key])
        )
    lowered = value.lower()
    if key == "status" and lowered not in STATUS_NAMES:
        raise SearchQueryError(
            _("Unknown status “{value}”: use one of {choices}.").format(
                value=value, choices=", ".join(STATUS_NAMES)
            )
        )
    if key == "category" and lowered not in CATEGORY_NAMES:
        raise SearchQueryError(
            _("Unknown category “{value}”: use one of {choices}.").format(
                value=value, choices=", ".join(CATEGORY_NAMES)
            )
        )
    if key == "is" and lowered not in IS_VALUES:
        raise SearchQueryError(
            _("Unknown is:{value}: use is:unread, is:overdue or is:due-soon.").format(value=value)
        )
    if key in ("before", "after"):
        return Filter(key, value, negated, _parse_day(key, value, tz))
    if key == "order":
        return Filter(key, value, negated)  # order ids are compared as written (case matters to some)
    return Filter(key, lowered, negated)


_EXAMPLES = {
    "channel": "channel:amazon",
    "account": 'account:"Demo shop"',
    "status": "status:open",
    "category": "category:delivery",
    "tag": "tag:vip",
    "assignee": "assignee:ana",
    "order": "order:302-",
    "from": "from:lucia",
    "lang": "lang:es",
    "before": "before:2026-11-02",
    "after": "after:2026-11-02",
    "is": "is:unread",
}


def parse_query(text: str, tz: tzinfo | None = None) -> SearchQuery:
    """Parse what the seller typed; raise :class:`SearchQueryError` with a translated message if malformed.

    ``tz`` is the user's time zone for ``before:``/``after:`` (None: the system's local zone).
    """
    terms: list[tuple[str, ...]] = []
    excluded: list[tuple[str, ...]] = []
    filters: list[Filter] = []
    free_text: list[str] = []
    for token, quoted in _tokens(text):
        negated = token.startswith("-") and len(token) > 1
        body = token[1:] if negated else token
        match = _FILTER_RE.fullmatch(body)
        if match is not None and not match.group(2).startswith("//"):  # "https://…" is text, not a filter
            key = match.group(1).lower()
            if key not in FILTER_KEYS:
                raise SearchQueryError(
                    _("Unknown filter “{key}:”. Filters: {filters}.").format(
                        key=match.group(1), filters=" ".join(f"{k}:" for k in FILTER_KEYS)
                    )
                )
            filters.append(_filter(key, match.group(2), negated, tz))
            continue
        words = tuple(w.lower() for w in _WORD_RE.findall(body))
        if not words:
            continue
        if negated:
            excluded.append(words)  # "-e-mail" leaves out the phrase "e mail", not every "e" and every "mail"
        elif quoted:
            terms.append(words)
        else:
            terms.extend((w,) for w in words)  # "user@x": each word must be there (as the index splits it)
        if not negated:
            free_text.append(body.replace('"', ""))
    return SearchQuery(tuple(terms), tuple(excluded), tuple(filters), " ".join(free_text))


__all__ = [
    "CATEGORY_NAMES",
    "FILTER_KEYS",
    "IS_VALUES",
    "NOBODY",
    "STATUS_NAMES",
    "Filter",
    "SearchQuery",
    "SearchQueryError",
    "parse_query",
]
