"""Canned-response rendering: fill ``{customer.first_name}``-style variables, safely.

Why not ``str.format``: a template is user data (imported, shared between colleagues), and ``format`` would
follow ``{customer.__class__}`` into Python attributes and raise on anything unknown. Here a placeholder is
only ever looked up by its exact name among :data:`VARIABLES`; anything else is reported as missing and left
in the text, so the editor can highlight it and sending can be blocked until the agent fills it in.

Syntax:

* ``{order.id}`` – a variable; left as is (and reported in :attr:`Rendered.missing`) when there is no value.
* ``{customer.first_name|there}`` – with a fallback used when the value is missing (``{name|}``: empty).
  When an empty fallback leaves a space before punctuation or another space ("Hola {customer.first_name|},")
  that space goes too ("Hola,"), and a line that held only empty placeholders (a signature line) is dropped.
* ``{{`` and ``}}`` – literal braces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from inbox_app.i18n import N_

__all__ = [
    "VARIABLES",
    "VARIABLE_DESCRIPTIONS",
    "MissingSpan",
    "Rendered",
    "find_unfilled",
    "first_name_of",
    "pick_variant",
    "render",
    "standard_values",
]

#: Description of each known variable (English source text, translate where shown).
VARIABLE_DESCRIPTIONS: dict[str, str] = {
    "customer.first_name": N_("Customer's first name"),
    "customer.name": N_("Customer's full name"),
    "order.id": N_("Order number"),
    "order.tracking_number": N_("Tracking number of the shipment"),
    "order.carrier": N_("Shipping carrier"),
    "agent.name": N_("Your name (the agent answering)"),
    "shop.name": N_("Shop name"),
    "today": N_("Today's date"),
}

#: The variable names a template may use, in the order the editor offers them.
VARIABLES: tuple[str, ...] = tuple(VARIABLE_DESCRIPTIONS)

_NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_NAME_RE = re.compile(_NAME)
# In a template: escaped braces, or a brace pair without braces or line breaks inside.
_TOKEN_RE = re.compile(r"\{\{|\}\}|\{([^{}\n]*)\}")
# In finished text: anything that still looks like a placeholder.
_UNFILLED_RE = re.compile(r"\{(" + _NAME + r")(?:\|[^{}\n]*)?\}")
# An empty substitution followed by one of these swallows the space before it.
_CLOSING_PUNCTUATION = frozenset(",.;:!?)»\n")


@dataclass(frozen=True)
class MissingSpan:
    """A placeholder left in the text: ``text[start:end]`` is e.g. ``{order.tracking_number}``."""

    name: str
    start: int
    end: int


@dataclass(frozen=True)
class Rendered:
    """A rendered template and the placeholders that could not be filled."""

    text: str
    missing: tuple[MissingSpan, ...]

    @property
    def complete(self) -> bool:
        return not self.missing


def _value_for(name: str, values: Mapping[str, str | None]) -> str | None:
    if name not in VARIABLE_DESCRIPTIONS:
        return None
    value = values.get(name)
    if value is None or not value.strip():
        return None
    return value


def _split_lines(body: str) -> list[str]:
    """Lines with their ``\\n`` kept (``str.splitlines`` would also split on other characters)."""
    parts = body.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def render(body: str, values: Mapping[str, str | None]) -> Rendered:
    """Fill ``body``'s placeholders from ``values`` (keyed by variable name); never raises on bad input."""
    out: list[str] = []
    offset = 0
    missing: list[MissingSpan] = []
    for line in _split_lines(body):
        text = ""
        line_missing: list[MissingSpan] = []
        placeholders = 0
        emptied = 0
        pos = 0
        for match in _TOKEN_RE.finditer(line):
            text += line[pos : match.start()]
            pos = match.end()
            token = match.group(0)
            if token in ("{{", "}}"):
                text += token[0]
                continue
            raw_name, sep, fallback = (match.group(1) or "").partition("|")
            name = raw_name.strip()
            if not _NAME_RE.fullmatch(name):
                text += token  # not a placeholder, e.g. "{ :) }": keep it verbatim
                continue
            placeholders += 1
            value = _value_for(name, values)
            if value is None and sep:
                value = fallback
            if value is None:
                line_missing.append(MissingSpan(name, offset + len(text), offset + len(text) + len(token)))
                text += token
                continue
            if value == "":
                emptied += 1
                following = line[pos : pos + 1]
                if text.endswith(" ") and (following in ("", " ") or following in _CLOSING_PUNCTUATION):
                    text = text[:-1]
            text += value
        text += line[pos:]
        if placeholders and emptied == placeholders and not text.strip():
            continue  # e.g. a signature line "{agent.name|}" with no agent name: drop the blank line
        out.append(text)
        missing.extend(line_missing)
        offset += len(text)
    return Rendered("".join(out), tuple(missing))


def find_unfilled(text: str) -> list[MissingSpan]:
    """Placeholders still present in (edited) text, to highlight them and block sending.

    Any ``{name}`` or ``{name|fallback}`` counts, known or not. A literal ``{order.id}`` written as
    ``{{order.id}}`` in a template also shows up here: the agent should not send what looks unfilled.
    """
    return [MissingSpan(m.group(1), m.start(), m.end()) for m in _UNFILLED_RE.finditer(text)]


def first_name_of(full_name: str | None) -> str | None:
    """A best guess at the first name: "Max Mustermann" → "Max", "Mustermann, Max" → "Max"."""
    if not full_name or not full_name.strip():
        return None
    name = full_name.strip()
    if "," in name:
        after = name.split(",", 1)[1].strip()
        if after:
            return after.split()[0]
    return name.split()[0]


def standard_values(
    *,
    customer_name: str | None = None,
    customer_first_name: str | None = None,
    order_id: str | None = None,
    tracking_number: str | None = None,
    carrier: str | None = None,
    agent_name: str | None = None,
    shop_name: str | None = None,
    today: str | None = None,
) -> dict[str, str | None]:
    """The values mapping for :func:`render`, deriving the first name from the full name when needed.

    ``today`` is passed in already formatted (``inbox_app.i18n.format_date``) so this module stays pure.
    """
    return {
        "customer.first_name": customer_first_name or first_name_of(customer_name),
        "customer.name": customer_name,
        "order.id": order_id,
        "order.tracking_number": tracking_number,
        "order.carrier": carrier,
        "agent.name": agent_name,
        "shop.name": shop_name,
        "today": today,
    }


def _norm_lang(code: str) -> str:
    return code.strip().replace("_", "-").casefold()


def _base_lang(code: str) -> str:
    return _norm_lang(code).split("-", 1)[0]


def pick_variant(variants: Mapping[str, str], language: str | None, default_language: str) -> tuple[str, str]:
    """Choose the body in the customer's language: ``(language_key, body)``.

    Order: exact language ("es-MX"), its base language ("es", then any "es-…"), the shop's default language
    (same two steps), English, then any variant. Empty bodies do not count. Raises ``ValueError`` when there
    is no non-empty variant at all.
    """
    available = [(lang, body) for lang, body in variants.items() if body.strip()]
    if not available:
        raise ValueError("the response has no text in any language")

    def find(code: str) -> tuple[str, str] | None:
        wanted = _norm_lang(code)
        base = _base_lang(code)
        for exact in (wanted, base):
            for lang, body in available:
                if _norm_lang(lang) == exact:
                    return lang, body
        for lang, body in available:
            if _base_lang(lang) == base:
                return lang, body
        return None

    for candidate in (language, default_language, "en"):
        if candidate and candidate.strip():
            found = find(candidate)
            if found is not None:
                return found
    return available[0]
