"""Tools ▸ Settings…: who answers (``{agent.name}``), for which shop (``{shop.name}``), and when a conversation
counts as read. Stored in the profile (``store.settings``) when the seller presses OK."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from inbox_app.i18n import _
from inbox_app.services import settings


class PreferencesDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("preferencesDialog")
        self.setWindowTitle(_("Settings"))
        self.agent_edit = QLineEdit(str(settings.get_setting(settings.AGENT_NAME, "")))
        self.agent_edit.setObjectName("agentName")
        self.agent_edit.setPlaceholderText(_("for example: Lucía"))
        self.shop_edit = QLineEdit(str(settings.get_setting(settings.SHOP_NAME, "")))
        self.shop_edit.setObjectName("shopName")
        self.shop_edit.setPlaceholderText(_("for example: Shop Example"))
        delay = settings.mark_read_delay()
        self.read_on_open = QCheckBox(_("Only when I open it (Enter or a click)"))
        self.read_on_open.setObjectName("readOnOpen")
        self.read_on_open.setChecked(delay < 0)
        self.delay_spin = QDoubleSpinBox()
        self.delay_spin.setObjectName("markReadDelay")
        self.delay_spin.setRange(0, 60)
        self.delay_spin.setDecimals(1)
        self.delay_spin.setSingleStep(0.5)
        self.delay_spin.setSuffix(" " + _("s"))
        self.delay_spin.setValue(max(delay, 0) if delay >= 0 else settings.DEFAULT_MARK_READ_DELAY_S)
        self.delay_spin.setEnabled(delay >= 0)
        self.read_on_open.toggled.connect(lambda on: self.delay_spin.setEnabled(not on))
        note = QLabel(_("Canned responses fill {agent.name} and {shop.name} with these names."))
        note.setWordWrap(True)
        note.setEnabled(False)
        form = QFormLayout()
        form.addRow(_("Your name:"), self.agent_edit)
        form.addRow(_("Shop name:"), self.shop_edit)
        form.addRow("", note)
        form.addRow(_("Mark as read after being selected for:"), self.delay_spin)
        form.addRow("", self.read_on_open)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def accept(self) -> None:
        settings.set_setting(settings.AGENT_NAME, self.agent_edit.text().strip())
        settings.set_setting(settings.SHOP_NAME, self.shop_edit.text().strip())
        delay = -1.0 if self.read_on_open.isChecked() else float(self.delay_spin.value())
        settings.set_setting(settings.MARK_READ_DELAY, delay)
        super().accept()
