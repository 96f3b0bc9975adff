"""The seller's preferences (names used in replies, the mark-read delay, notifications, the language)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from inbox_app.store import settings as store_settings
from inbox_app.store.models import Setting

log = logging.getLogger("inbox_app.services")

AGENT_NAME = store_settings.AGENT_NAME
SHOP_NAME = store_settings.SHOP_NAME
MARK_READ_DELAY = store_settings.MARK_READ_DELAY
DEFAULT_MARK_READ_DELAY_S = store_settings.DEFAULT_MARK_READ_DELAY_S
DEFAULT_LANGUAGE = "default_language"
NOTIFY_BEFORE = "notify_before_minutes"
DEFAULT_NOTIFY_BEFORE = timedelta(minutes=30)


def get_setting(key: str, default: Any = None) -> Any:
    """One stored value; ``default`` when it is missing or empty."""
    return store_settings.get_setting(key, default)


def set_setting(key: str, value: Any) -> None:
    """Store ``value`` (None or "" removes the key, so the default applies again)."""
    store_settings.set_setting(key, value)


def mark_read_delay() -> float:
    """Seconds a selected conversation waits before it counts as read (negative: only when opened)."""
    return store_settings.mark_read_delay()


def notify_before() -> timedelta:
    """The Setting "notify_before_minutes" (default 30); a broken value falls back to the default."""
    row = Setting.get_or_none(Setting.key == NOTIFY_BEFORE)
    if row is None:
        return DEFAULT_NOTIFY_BEFORE
    try:
        minutes = float(row.value)
    except (TypeError, ValueError):
        log.warning("ignoring malformed notify_before_minutes setting: %r", row.value)
        return DEFAULT_NOTIFY_BEFORE
    return timedelta(minutes=max(minutes, 0))


def is_set(key: str) -> bool:
    """Whether ``key`` has a stored row (whatever its value)."""
    return Setting.get_or_none(Setting.key == key) is not None


def remember(key: str) -> None:
    """Store ``True`` under ``key`` (a one-time notice was shown)."""
    Setting.insert(key=key, value=True).on_conflict_replace().execute()
