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
