"""The starter library and the JSON/CSV import and export of canned responses."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inbox_app.domain.canned_library import (
    CATEGORIES,
    CannedResponseData,
    export_csv,
    export_json,
    import_csv,
    import_json,
    load_starter_library,
)
from inbox_app.domain.templates import VARIABLES, find_unfilled, pick_variant, render, standard_values

LANGUAGES = {"en", "es", "fr", "de", "it", "pt"}


@pytest.fixture(scope="module")
def starter() -> list[CannedResponseData]:
    return load_starter_library()


def test_starter_library_covers_every_category(starter: list[CannedResponseData]) -> None:
    assert {item.category for item in starter} == set(CATEGORIES)
    assert set(CATEGORIES) == {
        "delivery_late",
        "damaged",
        "wrong_item_or_size",
        "return",
        "refund",
        "out_of_stock",
        "promo_code",
        "invoice",
        "presale_question",
        "order_cancel",
        "thanks_feedback",
    }
    keys = [item.key for item in starter]
    assert len(keys) == len(set(keys))
    assert "delay" in keys


def test_every_starter_response_has_all_six_languages(starter: list[CannedResponseData]) -> None:
    for item in starter:
        assert set(item.variants) == LANGUAGES, item.key
        assert all(len(body.strip()) > 80 for body in item.variants.values()), item.key
        assert item.title.strip()


def test_starter_placeholders_are_known_variables(starter: list[CannedResponseData]) -> None:
    for item in starter:
        for lang, body in item.variants.items():
            result = render(body, {})
            # With no values at all, whatever is still missing must be a known variable.
            for span in result.missing:
                assert span.name in VARIABLES, (item.key, lang, span.name)
            for span in find_unfilled(body):
                assert span.name in VARIABLES, (item.key, lang, span.name)


def test_starter_texts_carry_no_links_or_addresses(starter: list[CannedResponseData]) -> None:
    # Amazon rejects messages with links or e-mail addresses.
    forbidden = re.compile(r"https?://|www\.|@|\.(com|de|es|fr|it)\b", re.IGNORECASE)
    for item in starter:
        for lang, body in item.variants.items():
            assert not forbidden.search(body), (item.key, lang)


def test_starter_texts_render_completely_with_values(starter: list[CannedResponseData]) -> None:
    values = standard_values(
        customer_name="Ana García",
        order_id="402-1234567-7654321",
        tracking_number="JJD0001",
        carrier="DHL",
        agent_name="Tom",
        shop_name="Gadgets GmbH",
        today="23.11.2026",
    )
    for item in starter:
        for lang, body in item.variants.items():
            result = render(body, values)
            assert result.complete, (item.key, lang)
            assert "{" not in result.text and "}" not in result.text
            assert "  " not in result.text, (item.key, lang)


def test_starter_texts_read_well_without_optional_values(starter: list[CannedResponseData]) -> None:
    values = standard_values(order_id="1", tracking_number="T1")
    for item in starter:
        for lang, body in item.variants.items():
            result = render(body, values)
            assert result.complete, (item.key, lang)
            assert "  " not in result.text, (item.key, lang)
            assert " ," not in result.text and " :" not in result.text.replace(" : ", ""), (item.key, lang)
            assert not result.text.endswith("\n\n"), (item.key, lang)


def test_starter_greets_by_name_in_each_language(starter: list[CannedResponseData]) -> None:
    delay = next(item for item in starter if item.key == "delay")
    values = standard_values(customer_name="Ana García", agent_name="Tom", shop_name="Shop")
    first_lines = {lang: render(body, values).text.split("\n", 1)[0] for lang, body in delay.variants.items()}
    assert first_lines == {
        "en": "Hello Ana,",
        "es": "Hola, Ana:",
        "fr": "Bonjour Ana,",
        "de": "Guten Tag Ana García,",
        "it": "Buongiorno Ana,",
        "pt": "Olá Ana,",
    }
    assert pick_variant(delay.variants, "es-MX", "en")[0] == "es"


def test_starter_library_is_a_fresh_copy() -> None:
    first = load_starter_library()
    first[0].variants["en"] = "changed"
    assert load_starter_library()[0].variants["en"] != "changed"


def test_starter_round_trips(starter: list[CannedResponseData]) -> None:
    assert import_json(export_json(starter)) == starter
    assert import_csv(export_csv(starter)) == starter


# ---------------------------------------------------------------------------------------------- JSON/CSV

keys = st.from_regex(r"[a-z][a-z0-9_.-]{0,11}", fullmatch=True)
langs = st.sampled_from(["en", "es", "fr", "de", "it", "pt-BR", "es-MX", "nl"])
texts = st.text(min_size=1, max_size=40).filter(lambda s: s.strip() != "")
single_line = (
    st.text(alphabet=st.characters(blacklist_categories=["Cc", "Cs", "Zl", "Zp"]), min_size=1, max_size=20)
    .map(str.strip)
    .filter(bool)
)


@st.composite
def responses(draw: st.DrawFn) -> list[CannedResponseData]:
    items = []
    for key in draw(st.lists(keys, max_size=5, unique_by=str.casefold)):
        variants = draw(st.dictionaries(langs, texts, min_size=1, max_size=4))
        subject = draw(
            st.one_of(st.none(), st.dictionaries(st.sampled_from(sorted(variants)), single_line, min_size=1))
        )
        items.append(
            CannedResponseData(
                key=key,
                title=draw(single_line),
                category=draw(st.sampled_from(sorted(CATEGORIES))),
                variants=variants,
                subject=subject,
            )
        )
    return items


@settings(max_examples=200, deadline=None)
@given(items=responses())
def test_json_round_trip(items: list[CannedResponseData]) -> None:
    assert import_json(export_json(items)) == items


@settings(max_examples=200, deadline=None)
@given(items=responses())
def test_csv_round_trip(items: list[CannedResponseData]) -> None:
    assert import_csv(export_csv(items)) == items


def test_csv_has_one_row_per_key_and_language() -> None:
    item = CannedResponseData("hi", "Hi", "thanks_feedback", {"en": 'Hello,\n"friend"', "de": "Hallo"})
    text = export_csv([item])
    assert text.splitlines()[0] == "key,title,category,language,body,subject"
    assert text.count("thanks_feedback") == 2
    assert import_csv(text) == [item]


def test_csv_from_a_spreadsheet_with_semicolons_and_bom() -> None:
    text = (
        "\ufeffKey;Title;Category;Language;Body\r\n"
        "hi;Hi;thanks_feedback;en;Hello\r\n;;;;\r\nhi;Hi;x;es;Hola\r\n"
    )
    assert import_csv(text) == [
        CannedResponseData("hi", "Hi", "thanks_feedback", {"en": "Hello", "es": "Hola"}, None)
    ]


def test_bare_json_list_is_accepted() -> None:
    data = [{"key": "a", "title": "A", "category": "refund", "variants": {"en": "x"}}]
    assert import_json(json.dumps(data)) == [CannedResponseData("a", "A", "refund", {"en": "x"}, None)]


GOOD = {"key": "a", "title": "A", "category": "refund", "variants": {"en": "x"}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not a valid JSON"),
        ('{"format": "something.else", "responses": []}', "does not contain canned responses"),
        ('{"format": "inbox_app.canned_responses", "version": 99, "responses": []}', "newer version"),
        ('{"responses": 5}', "list of canned responses"),
        ("[1]", "Response 1: expected an object"),
        (json.dumps([{**GOOD, "key": None}]), "“key” is missing"),
        (json.dumps([{k: v for k, v in GOOD.items() if k != "title"}]), "“title” is missing"),
        (json.dumps([{**GOOD, "title": 3}]), "must be text"),
        (json.dumps([{**GOOD, "category": "  "}]), "“category” is empty"),
        (json.dumps([{**GOOD, "key": "two words"}]), "may only contain"),
        (json.dumps([{**GOOD, "variants": ["x"]}]), "must map language codes"),
        (json.dumps([{**GOOD, "variants": {"english!": "x"}}]), "not a language code"),
        (json.dumps([{**GOOD, "variants": {"en": 1}}]), "must be text"),
        (json.dumps([{**GOOD, "variants": {"en": " "}}]), "no text in any language"),
        (json.dumps([GOOD, {**GOOD, "key": "A"}]), "used by more than one response"),
        (json.dumps([GOOD, {**GOOD, "key": "b", "subject": "x"}]), "Response 2 (“b”)"),
    ],
)
def test_import_json_explains_bad_input(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        import_json(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("key,title,language\r\na,A,en\r\n", "lacks the column(s): category, body"),
        ("", "lacks the column(s)"),
        ("key,title,category,language,body\r\n,A,refund,en,x\r\n", "Line 2: the field “key” is empty"),
        ("key,title,category,language,body\r\na,A,refund,en,\r\n", "Line 2: the field “body” is empty"),
        ("key,title,category,language,body\r\na,A,refund,en,x\r\na,A,refund,en,y\r\n", "already has a text"),
        ("key,title,category,language,body\r\na,A,refund,??,x\r\n", "not a language code"),
        ("key,title,category,language,body\r\na,,refund,en,x\r\n", "“title” is empty"),
    ],
)
def test_import_csv_explains_bad_input(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        import_csv(text)
