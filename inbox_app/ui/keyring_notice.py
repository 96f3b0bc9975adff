"""The one-time notice that passwords are kept in a plain text file (no keyring service on this machine).

Shown when the window opens on a profile with accounts, or right after an account was saved, until the user
has seen it once (remembered in the profile's settings). It is a non-modal box shown without taking the focus:
the seller can keep working and read it when they look.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from inbox_app.i18n import _
from inbox_app.services.accounts import plaintext_keyring_notice_due, plaintext_warning


def maybe_show_plaintext_keyring_notice(parent: QWidget) -> QMessageBox | None:
    """Show the notice if passwords go to a plain file, there is an account, and it was not shown before."""
    if not plaintext_keyring_notice_due():  # remembered as shown from here on
        return None
    box = QMessageBox(
        QMessageBox.Icon.Warning, _("Passwords in a plain file"), plaintext_warning(), parent=parent
    )
    box.setObjectName("plaintext_keyring_notice")
    box.setWindowModality(Qt.WindowModality.NonModal)
    box.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.show()
    return box
