"""A push button that says what it does when hovered and acts when clicked, made in one call.

The panels and dialogs build many of these; one helper keeps each a single line where the text, the tooltip
and the action sit together."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import SignalInstance
from PySide6.QtWidgets import QPushButton, QWidget


def action_button(
    parent: QWidget, text: str, tooltip: str, on_click: Callable[..., Any] | SignalInstance
) -> QPushButton:
    """A button labelled ``text`` with ``tooltip``, its ``clicked`` connected to ``on_click``."""
    button = QPushButton(text, parent)
    button.setToolTip(tooltip)
    button.clicked.connect(on_click)
    return button
