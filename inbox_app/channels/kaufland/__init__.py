"""Kaufland Seller API v2 connector (tickets)."""

from inbox_app.channels.kaufland.connector import (
    DEADLINE,
    DEFAULT_BASE_URL,
    KAUFLAND_LIMITS,
    KauflandChannel,
    KauflandSettings,
)
from inbox_app.channels.kaufland.parse import category_for
from inbox_app.channels.kaufland.signing import KauflandAuth, sign

__all__ = [
    "DEADLINE",
    "DEFAULT_BASE_URL",
    "KAUFLAND_LIMITS",
    "KauflandAuth",
    "KauflandChannel",
    "KauflandSettings",
    "category_for",
    "sign",
]
