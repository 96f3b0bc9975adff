"""Keyboard notation shared by the window, the reply box and the "?" list: what is shown is what works."""

from __future__ import annotations

import sys

from PySide6.QtGui import QKeySequence

from inbox_app.i18n import _

# Shown as the keyboard calls the key: "Enter" on PC keyboards, "Return" (↩) on a Mac. Both keys work.
_ENTER = "Return" if sys.platform == "darwin" else "Enter"
SEND_KEYS = f"Ctrl+{_ENTER}"
SEND_CLOSE_KEYS = f"Ctrl+Shift+{_ENTER}"
OPEN_KEYS = _ENTER
PICKER_KEYS = "Ctrl+Space"


def native_key(keys: QKeySequence | str) -> str:
    """A key sequence in the platform's own notation ("Ctrl+Return" here, "⌘↩" on a Mac)."""
    sequence = keys if isinstance(keys, QKeySequence) else QKeySequence(keys)
    return sequence.toString(QKeySequence.SequenceFormat.NativeText)


def extra_shortcuts() -> list[tuple[str, str]]:
    """Keys handled by the list and the reply box themselves (not window actions), for the "?" list."""
    return [
        (_("Open the conversation and write a reply"), OPEN_KEYS),
        (_("First conversation in the list"), "Home"),
        (_("Last conversation in the list"), "End"),
        (_("Canned responses (typed in the reply)"), "/"),
        (_("Canned responses, anywhere in the reply"), PICKER_KEYS),
        (_("Next blank to fill in (in the reply)"), "Tab"),
        (_("Previous blank to fill in (in the reply)"), "Shift+Tab"),
        (_("Send the reply"), SEND_KEYS),
        (_("Send the reply and close the conversation"), SEND_CLOSE_KEYS),
        (_("Close the canned-response list"), "Esc"),
    ]
