"""Translations keep the source's placeholders, compile, and are actually used at run time."""

from __future__ import annotations

import re
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from inbox_app import i18n

PLACEHOLDER = re.compile(r"\{[^{}]*\}")
CATALOGS = sorted(i18n.TRANSLATIONS_DIR.glob("*/LC_MESSAGES/messages.po"))


def test_there_is_a_spanish_catalog() -> None:
    assert any(p.parts[-3] == "es" for p in CATALOGS)


@pytest.mark.parametrize("po_path", CATALOGS, ids=lambda p: p.parts[-3])
def test_translations_keep_placeholders_and_compile(po_path: Path) -> None:
    with po_path.open("rb") as fh:
        catalog = read_po(fh)
    translated = 0
    for message in catalog:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = set(PLACEHOLDER.findall(ids[0]))
        for text in strings:
            if text:
                translated += 1
                assert set(PLACEHOLDER.findall(text)) == expected, (
                    f"{po_path.parts[-3]}: {ids[0]!r} → {text!r}"
                )
    assert translated > 0
    write_mo(BytesIO(), catalog)


def test_the_interface_language_is_applied() -> None:
    try:
        i18n.setup("es")
        assert i18n._("Overdue") != "Overdue"
        assert i18n.format_duration(timedelta(hours=3, minutes=20)) == "3 h 20 min"
        i18n.setup("de")
        assert "Std." in i18n.format_duration(timedelta(hours=3))
    finally:
        i18n.setup("en")
    assert i18n._("Overdue") == "Overdue"


COMPLETE_LANGUAGES = ("it", "pt")


@pytest.mark.parametrize("lang", COMPLETE_LANGUAGES)
def test_italian_and_portuguese_translate_every_entry_of_the_template(lang: str) -> None:
    with (i18n.TRANSLATIONS_DIR / "messages.pot").open("rb") as fh:
        template = read_po(fh)
    po_path = i18n.TRANSLATIONS_DIR / lang / "LC_MESSAGES" / "messages.po"
    assert po_path.exists(), f"no {lang} catalog"
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    assert catalog.num_plurals == 2
    missing = []
    for entry in template:
        if not entry.id:
            continue
        message = catalog.get(entry.id, entry.context)
        strings = () if message is None else message.string
        strings = strings if isinstance(strings, tuple) else (strings,)
        if (
            message is None
            or message.fuzzy
            or not all(strings)
            or len(strings) != (2 if entry.pluralizable else 1)
        ):
            missing.append(entry.id)
    assert missing == [], f"{lang}: {len(missing)} entries not translated, e.g. {missing[:5]}"


def test_italian_and_portuguese_are_used_with_their_plurals() -> None:
    try:
        i18n.setup("it")
        assert i18n._("Overdue") == "In ritardo"
        assert i18n.ngettext("{n} new message", "{n} new messages", 1).format(n=1) == "1 nuovo messaggio"
        assert i18n.ngettext("{n} new message", "{n} new messages", 3).format(n=3) == "3 nuovi messaggi"
        i18n.setup("pt_BR")  # a regional variant finds the language's catalog
        assert i18n._("Overdue") == "Atrasadas"
        assert i18n.ngettext("{n} reply sent", "{n} replies sent", 2).format(n=2) == "2 respostas enviadas"
    finally:
        i18n.setup("en")


def test_available_languages_list_every_catalog_and_english() -> None:
    assert i18n.available_languages() == ["de", "en", "es", "fr", "it", "pt"]
    assert i18n.language_is_available("it_IT") and i18n.language_is_available("pt-BR")
    assert not i18n.language_is_available("xx") and not i18n.language_is_available("ja")


def test_no_translated_message_hides_inside_an_f_string() -> None:
    """Babel's extractor (on Python 3.11) does not see ``_('…')`` inside an f-string: such a text stays English."""
    import ast
    from pathlib import Path

    package = Path(__file__).resolve().parents[2] / "inbox_app"
    hidden: list[str] = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.JoinedStr):
                continue
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.Call)
                    and isinstance(inner.func, ast.Name)
                    and inner.func.id in {"_", "N_", "ngettext", "pgettext"}
                    and inner.args
                    and isinstance(inner.args[0], ast.Constant)
                ):
                    hidden.append(f"{path.relative_to(package)}:{inner.lineno} {inner.args[0].value!r}")
    assert hidden == []
