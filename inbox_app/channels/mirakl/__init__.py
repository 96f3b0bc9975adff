"""Mirakl seller connector (M10–M13 inbox APIs)."""

from inbox_app.channels.mirakl.connector import MIRAKL_LIMITS, MiraklChannel, MiraklSettings

__all__ = ["MIRAKL_LIMITS", "MiraklChannel", "MiraklSettings"]
