"""Canned-response rendering: variables, fallbacks, escapes, missing spans and language choice."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inbox_app.domain.templates import (
    VARIABLE_DESCRIPTIONS,
    VARIABLES,
    MissingSpan,
    find_unfilled,
    first_name_of,
    pick_variant,
    render,
    standard_values,
)

FULL = {
    "customer.first_name": "Ana",
    "customer.name": "Ana García",
    "order.id": "402-1234567-7654321",
    "order.tracking_number": "JJD0001",
    "order.carrier": "DHL",
    "agent.name": "Tom",
    "shop.name": "Gadgets GmbH",
    "today": "23.11.2026",
}


def test_variables_have_descriptions() -> None:
    assert set(VARIABLES) == set(VARIABLE_DESCRIPTIONS)
    for name in (
        "customer.first_name",
        "customer.name",
        "order.id",
        "order.tracking_number",
        "order.carrier",
        "agent.name",
        "shop.name",
        "today",
    ):
        assert name in VARIABLES
        assert VARIABLE_DESCRIPTIONS[name]


def test_all_variables_are_filled() -> None:
    body = " ".join("{" + name + "}" for name in VARIABLES)
    result = render(body, FULL)
    assert result.text == " ".join(FULL[name] for name in VARIABLES)
    assert result.complete
    assert result.missing == ()


def test_missing_variable_stays_and_is_located() -> None:
    body = "Hi {customer.first_name}, your parcel {order.tracking_number} ships with {order.carrier}."
    result = render(body, {"customer.first_name": "Ana", "order.carrier": None})
    assert result.text == "Hi Ana, your parcel {order.tracking_number} ships with {order.carrier}."
    assert not result.complete
    assert [m.name for m in result.missing] == ["order.tracking_number", "order.carrier"]
    for span in result.missing:
        assert result.text[span.start : span.end] == "{" + span.name + "}"


def test_empty_or_blank_values_count_as_missing() -> None:
    result = render("{order.id}/{shop.name}", {"order.id": "", "shop.name": "   "})
    assert [m.name for m in result.missing] == ["order.id", "shop.name"]


def test_fallback() -> None:
    assert render("Hello {customer.first_name|there},", {}).text == "Hello there,"
    assert render("Hello {customer.first_name|there},", {"customer.first_name": "Ana"}).text == "Hello Ana,"
    assert render("Hello {customer.first_name|there}", {"customer.first_name": None}).complete
    # A fallback may itself contain the separator.
    assert render("{order.carrier|DHL|UPS}", {}).text == "DHL|UPS"


def test_empty_fallback_takes_the_space_before_punctuation() -> None:
    assert render("Hola {customer.first_name|},", {}).text == "Hola,"
    assert render("Bonjour {customer.first_name|}", {}).text == "Bonjour"
    assert render("Hallo {customer.first_name|}\nDanke", {}).text == "Hallo\nDanke"
    assert render("Hola {customer.first_name|},", {"customer.first_name": "Ana"}).text == "Hola Ana,"
    assert render("a {customer.first_name|} b", {}).text == "a b"
    assert render("a {customer.first_name|}b", {}).text == "a b"


def test_line_with_only_empty_placeholders_is_dropped() -> None:
    body = "Kind regards,\n{agent.name|}\n{shop.name|}"
    assert render(body, {}).text == "Kind regards,\n"
    assert render(body, {"agent.name": "Tom"}).text == "Kind regards,\nTom\n"
    assert render(body, {"agent.name": "Tom", "shop.name": "Shop"}).text == "Kind regards,\nTom\nShop"
    # Blank lines the author wrote stay.
    assert render("a\n\nb", {}).text == "a\n\nb"


def test_offsets_after_dropped_lines_and_collapsed_spaces() -> None:
    body = "Hi {customer.first_name|},\n{agent.name|}\nOrder {order.id}: {order.tracking_number}"
    result = render(body, {})
    assert result.text == "Hi,\nOrder {order.id}: {order.tracking_number}"
    assert [result.text[m.start : m.end] for m in result.missing] == ["{order.id}", "{order.tracking_number}"]


def test_brace_escapes() -> None:
    assert render("{{order.id}}", FULL).text == "{order.id}"
    assert render("{{{order.id}}}", FULL).text == "{402-1234567-7654321}"
    assert render("a }} b {{ c", {}).text == "a } b { c"
    assert render("{{", {}).missing == ()


def test_text_that_is_not_a_placeholder_is_kept() -> None:
    for body in ("{ :) }", "{}", "{1abc}", "a { b", "a } b", "{a-b}", "{order.id", "order.id}", "{x\ny}"):
        result = render(body, FULL)
        assert result.text == body
        assert result.complete


def test_unknown_names_are_missing_and_never_evaluated() -> None:
    values = {"customer.__class__": "LEAK", "customer": "x", **FULL}
    for body in ("{customer.__class__}", "{__import__}", "{customer.name.__class__.__mro__}", "{customer}"):
        result = render(body, values)
        assert result.text == body
        assert [m.name for m in result.missing] == [body[1:-1]]
    assert render("{customer.__class__|friend}", values).text == "friend"
    assert render("{0}{order.id!r}{order.id:>10}", FULL).text == "{0}{order.id!r}{order.id:>10}"


def test_values_are_inserted_verbatim() -> None:
    result = render("Hi {customer.name}", {"customer.name": "{order.id} {{x}}"})
    assert result.text == "Hi {order.id} {{x}}"
    assert result.complete


def test_find_unfilled() -> None:
    text = "Dear {customer.first_name}, tracking {order.tracking_number|n/a}. Price {5} {ok"
    spans = find_unfilled(text)
    assert [(s.name, text[s.start : s.end]) for s in spans] == [
        ("customer.first_name", "{customer.first_name}"),
        ("order.tracking_number", "{order.tracking_number|n/a}"),
    ]
    assert find_unfilled("All good, thanks!") == []
    assert find_unfilled("{customer.__class__}") == [MissingSpan("customer.__class__", 0, 20)]


def test_first_name_and_standard_values() -> None:
    assert first_name_of("Max Mustermann") == "Max"
    assert first_name_of("Mustermann, Max") == "Max"
    assert first_name_of("  ") is None
    assert first_name_of(None) is None
    values = standard_values(customer_name="Ana García", order_id="1")
    assert values["customer.first_name"] == "Ana"
    assert set(values) == set(VARIABLES)
    assert standard_values(customer_name="Ana", customer_first_name="Anita")["customer.first_name"] == "Anita"
    assert render("Hola {customer.first_name|}, pedido {order.id}", values).text == "Hola Ana, pedido 1"


# ------------------------------------------------------------------------------------------- properties

names = st.sampled_from([*VARIABLES, "customer.__class__", "foo", "order.total"])
literal = st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=12)


@st.composite
def templates(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["text", "var", "fallback", "escape"]))
        if kind == "text":
            parts.append(draw(literal))
        elif kind == "var":
            parts.append("{" + draw(names) + "}")
        elif kind == "fallback":
            fallback = draw(st.text(alphabet=st.characters(blacklist_characters="{}\n"), max_size=6))
            parts.append("{" + draw(names) + "|" + fallback + "}")
        else:
            parts.append(draw(st.sampled_from(["{{", "}}"])))
    return "".join(parts)


value_maps = st.dictionaries(
    names, st.one_of(st.none(), st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=8))
)


@settings(max_examples=200, deadline=None)
@given(body=templates(), values=value_maps)
def test_missing_spans_point_exactly_at_placeholders(body: str, values: dict[str, str | None]) -> None:
    result = render(body, values)
    previous_end = 0
    for span in result.missing:
        assert span.start >= previous_end
        assert result.text[span.start : span.end] == "{" + span.name + "}"
        assert span.name not in VARIABLES or not (values.get(span.name) or "").strip()
        previous_end = span.end
    assert result.complete == (result.missing == ())


@settings(max_examples=200, deadline=None)
@given(body=templates(), values=value_maps)
def test_find_unfilled_sees_every_missing_placeholder(body: str, values: dict[str, str | None]) -> None:
    result = render(body, values)
    found = {(s.start, s.end) for s in find_unfilled(result.text)}
    assert {(s.start, s.end) for s in result.missing} <= found


@settings(max_examples=200, deadline=None)
@given(body=st.text(max_size=60), values=value_maps)
def test_render_never_raises(body: str, values: dict[str, str | None]) -> None:
    result = render(body, values)
    assert isinstance(result.text, str)


@settings(max_examples=200, deadline=None)
@given(body=literal)
def test_text_without_braces_is_unchanged(body: str) -> None:
    assert render(body, FULL).text == body


# ---------------------------------------------------------------------------------------- pick_variant

VARIANTS = {"en": "Hello", "es": "Hola", "fr": "Bonjour", "de-AT": "Servus", "pt-BR": "Olá"}


@pytest.mark.parametrize(
    ("language", "default", "expected"),
    [
        ("es", "de", ("es", "Hola")),
        ("ES", "de", ("es", "Hola")),
        ("es-MX", "de", ("es", "Hola")),
        ("es_MX", "de", ("es", "Hola")),
        ("de", "en", ("de-AT", "Servus")),
        ("de-AT", "en", ("de-AT", "Servus")),
        ("pt", "en", ("pt-BR", "Olá")),
        ("it", "fr", ("fr", "Bonjour")),
        ("it", "fr-CA", ("fr", "Bonjour")),
        ("it", "nl", ("en", "Hello")),
        (None, "fr", ("fr", "Bonjour")),
        ("", "xx", ("en", "Hello")),
    ],
)
def test_pick_variant(language: str | None, default: str, expected: tuple[str, str]) -> None:
    assert pick_variant(VARIANTS, language, default) == expected


def test_pick_variant_exact_region_beats_base() -> None:
    variants = {"es": "Hola", "es-MX": "Qué tal"}
    assert pick_variant(variants, "es-MX", "en") == ("es-MX", "Qué tal")
    assert pick_variant(variants, "es-AR", "en") == ("es", "Hola")


def test_pick_variant_falls_back_to_any_and_skips_empty_bodies() -> None:
    assert pick_variant({"nl": "Hallo", "en": "  "}, "it", "fr") == ("nl", "Hallo")
    with pytest.raises(ValueError):
        pick_variant({"en": ""}, "en", "en")
    with pytest.raises(ValueError):
        pick_variant({}, "en", "en")
