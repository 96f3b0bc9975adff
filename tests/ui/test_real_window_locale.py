"""Qt's own texts and number formats follow the app's language in the real window (not only our catalogs)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialogButtonBox, QDoubleSpinBox

from inbox_app.app import Gui
from tests.ui.real_app import run_real_app


@pytest.mark.parametrize(
    ("lang", "cancel", "two"),
    [
        ("de", "Abbrechen", "2,00"),
        ("pt", "Cancelar", "2,00"),
        ("fr", "Annuler", "2,00"),
        ("en", "Cancel", "2.00"),
    ],
)
def test_standard_buttons_and_decimal_numbers_speak_the_chosen_language(  # type: ignore[no-untyped-def]
    qtbot, tmp_path: Path, lang: str, cancel: str, two: str
) -> None:
    seen: dict[str, str] = {}

    def scenario(gui: Gui) -> None:
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, gui.window)
        spin = QDoubleSpinBox(gui.window)
        spin.setValue(2.0)
        seen.update(cancel=buttons.buttons()[0].text().replace("&", ""), two=spin.text())

    run_real_app(tmp_path / "profile", scenario, lang=lang)
    assert seen == {"cancel": cancel, "two": two}
