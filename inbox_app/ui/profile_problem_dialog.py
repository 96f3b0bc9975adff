"""The dialog shown before the main window when the profile cannot be opened normally.

It explains what is wrong (:class:`~inbox_app.services.profiles.ProfileProblem`'s message) and offers the ways
out that exist for that problem: Restore newest backup (damaged file, a backup exists), Open read-only (the file
can still be read), Quit. The buttons carry object names (``restore``, ``read_only``, ``quit``) so a test can
answer the dialog as a user would.
"""

from __future__ import annotations

from typing import Literal

from PySide6.QtWidgets import QMessageBox, QPushButton, QWidget

from inbox_app.i18n import _
from inbox_app.services.profiles import ProfileProblem

Choice = Literal["restore", "read_only", "quit"]


def ask_about_profile_problem(problem: ProfileProblem, parent: QWidget | None = None) -> Choice:
    box = QMessageBox(parent)
    box.setObjectName("profile_problem")
    box.setIcon(QMessageBox.Icon.Critical if problem.is_damaged else QMessageBox.Icon.Warning)
    box.setWindowTitle(_("Inbox App"))
    box.setText(_("The profile cannot be opened normally."))
    box.setInformativeText(problem.message)
    choices: dict[QPushButton, Choice] = {}
    if problem.is_damaged and problem.newest_backup is not None:
        restore = box.addButton(_("Restore newest backup"), QMessageBox.ButtonRole.AcceptRole)
        restore.setObjectName("restore")
        choices[restore] = "restore"
    if problem.can_open_read_only:
        read_only = box.addButton(_("Open read-only"), QMessageBox.ButtonRole.AcceptRole)
        read_only.setObjectName("read_only")
        choices[read_only] = "read_only"
    quit_button = box.addButton(_("Quit"), QMessageBox.ButtonRole.RejectRole)
    quit_button.setObjectName("quit")
    choices[quit_button] = "quit"
    box.setDefaultButton(next(iter(choices)))
    box.setEscapeButton(quit_button)
    box.exec()
    clicked = box.clickedButton()
    return choices.get(clicked, "quit") if isinstance(clicked, QPushButton) else "quit"


def show_restore_failed(error: str, parent: QWidget | None = None) -> None:
    QMessageBox.critical(
        parent, _("Inbox App"), _("The backup could not be restored: {error}").format(error=error)
    )
