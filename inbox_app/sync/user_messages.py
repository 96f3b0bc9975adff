"""What the seller is told about sync problems that are not the mail server's (those are ``MailError``s).

Shared by the one-shot engine (``sync --once``, the window's "Sync now") and the continuous loop of each
account, so the same trouble always reads the same way.
"""

from __future__ import annotations

from inbox_app.i18n import _


def disk_full_message(account_name: str) -> str:
    """The disk (or quota) is full: nothing is lost, the sync resumes from where it stopped once there is room."""
    return _(
        "The disk is full, so the sync of “{name}” stopped. Free some space: nothing is lost, and the sync "
        "goes on from where it stopped."
    ).format(name=account_name)
