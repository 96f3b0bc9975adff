"""Settings → Categories and team: the keyword rules per category and language, and the team's names.

The rules table has one row per category and one column per language; a cell holds that language's keywords,
comma-separated (``*`` at the end of a word: any ending). Saving re-applies the rules to the conversations the
rules categorised (never to those set by hand or by the marketplace), on the controller's worker.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from inbox_app.i18n import _
from inbox_app.services import triage
from inbox_app.services.triage import RULE_LANGUAGES

RULED = tuple(c for c in triage.CATEGORIES if c != "other")


class TriageSettingsDialog(QDialog):
    """Edits the team list and the category rules. ``on_saved(rules_changed)`` runs after a save."""

    def __init__(self, parent: QWidget | None = None, on_saved: Callable[[bool], None] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("triageSettingsDialog")
        self.setWindowTitle(_("Categories and team"))
        self._on_saved = on_saved
        self.team = QPlainTextEdit(self)
        self.team.setObjectName("teamNames")
        self.team.setPlaceholderText(_("One name per line"))
        self.team.setPlainText("\n".join(triage.team()))
        self.team.setMaximumHeight(110)
        self.rules = QTableWidget(len(RULED), len(RULE_LANGUAGES), self)
        self.rules.setObjectName("categoryRules")
        self.rules.setHorizontalHeaderLabels(list(RULE_LANGUAGES))
        self.rules.setVerticalHeaderLabels([triage.category_label(c) for c in RULED])
        self.rules.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self._fill(triage.category_rules())
        self._loaded = self.current_rules()
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults,
            self,
        )
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(self.restore_defaults)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(_("Team (names to assign conversations to):"), self))
        layout.addWidget(self.team)
        layout.addWidget(
            QLabel(
                _(
                    "Keywords per category and language, comma-separated; case and accents do not matter, "
                    "a * at the end of a word matches any ending. The marketplace's own reason and a category "
                    "chosen by hand always win."
                ),
                self,
            )
        )
        layout.addWidget(self.rules)
        layout.addWidget(buttons)
        self.resize(900, 560)

    def _fill(self, rules: dict[str, dict[str, tuple[str, ...]]]) -> None:
        for row, category in enumerate(RULED):
            for column, language in enumerate(RULE_LANGUAGES):
                words = rules.get(category, {}).get(language, ())
                self.rules.setItem(row, column, QTableWidgetItem(", ".join(words)))

    def current_rules(self) -> dict[str, dict[str, list[str]]]:
        from inbox_app.domain.categories import parse_keywords

        result: dict[str, dict[str, list[str]]] = {}
        for row, category in enumerate(RULED):
            for column, language in enumerate(RULE_LANGUAGES):
                item = self.rules.item(row, column)
                result.setdefault(category, {})[language] = list(parse_keywords(item.text() if item else ""))
        return result

    def restore_defaults(self) -> None:
        from inbox_app.domain.categories import DEFAULT_RULES

        self._fill(DEFAULT_RULES)

    def save(self) -> None:
        triage.save_team(self.team.toPlainText().splitlines())
        rules = self.current_rules()
        changed = rules != self._loaded
        if changed:
            triage.save_category_rules(rules, reapply=False)  # re-applied by the caller, off the UI thread
        self.accept()
        if self._on_saved is not None:
            self._on_saved(changed)
