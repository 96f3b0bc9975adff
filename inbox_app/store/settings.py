"""The seller's preferences in the ``Setting`` table (key → JSON value): read and written by key.

Known keys: ``agent_name`` and ``shop_name`` (canned responses' ``{agent.name}``/``{shop.name}``),
``mark_read_delay_seconds`` (a selected conversation counts as read after this long; negative: only when opened),
``default_language``.
"""

from __future__ import annotations

from typing import Any

from inbox_app.store.models import Setting

AGENT_NAME = "agent_name"
SHOP_NAME = "shop_name"
MARK_READ_DELAY = "mark_read_delay_seconds"
DEFAULT_MARK_READ_DELAY_S = 2.0


def get_setting(key: str, default: Any = None) -> Any:
    row = Setting.get_or_none(Setting.key == key)
    if row is None or row.value in (None, ""):
        return default
    return row.value


def set_setting(key: str, value: Any) -> None:
    """Store ``value`` (None or "" removes the key, so the default applies again)."""
    if value in (None, ""):
        Setting.delete().where(Setting.key == key).execute()
    else:
        Setting.replace(key=key, value=value).execute()


def mark_read_delay() -> float:
    """Seconds a selected conversation waits before it counts as read (negative: only when opened)."""
    value = get_setting(MARK_READ_DELAY, DEFAULT_MARK_READ_DELAY_S)
    try:
        return float(value)
    except (TypeError, ValueError):
        return DEFAULT_MARK_READ_DELAY_S
