"""The app's own SVG icons (channels, urgency, the app), loaded once and cached.

SVG keeps them sharp on high-DPI screens; they live under ``resources/icons`` so packagers can ship them as
files (the .desktop icon is the same file). Urgency icons exist so that urgency never depends on colour
alone: a colour-blind seller, or a grey-scale printout, still sees ok / due soon / overdue.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon

from inbox_app.domain.deadlines import Urgency

ICONS_DIR = Path(__file__).resolve().parents[2] / "resources" / "icons"
APP_ICON_NAME = "io.github.inbox_app.InboxApp.svg"

_CHANNEL_FILES = {"amazon", "ebay", "mirakl", "kaufland", "allegro", "email"}
_URGENCY_FILES = {
    Urgency.OK: "ok",
    Urgency.DUE_SOON: "due-soon",
    Urgency.OVERDUE: "overdue",
    Urgency.NONE: "none",
}


def icon_path(relative: str) -> Path:
    return ICONS_DIR / relative


@cache
def _load(relative: str) -> QIcon:
    path = icon_path(relative)
    return QIcon(str(path)) if path.exists() else QIcon()


def channel_icon(kind: str) -> QIcon:
    """The icon of a channel kind (``amazon``, ``ebay``…); a neutral one for kinds we have no icon for."""
    name = kind.casefold() if kind.casefold() in _CHANNEL_FILES else "other"
    return _load(f"channels/{name}.svg")


def urgency_icon(level: Urgency | str) -> QIcon:
    return _load(f"urgency/{_URGENCY_FILES[Urgency(level)]}.svg")


def app_icon() -> QIcon:
    return _load(APP_ICON_NAME)
