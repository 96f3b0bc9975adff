"""Canned responses: the library the "/" picker searches and the manager edits (returns domain dataclasses)."""

from __future__ import annotations

from collections.abc import Iterable

from inbox_app.domain.canned_library import CannedResponseData
from inbox_app.store import canned as store_canned


def all_responses() -> list[CannedResponseData]:
    return store_canned.all_responses()


def usage_counts() -> dict[str, int]:
    """Response key → how often it was inserted."""
    return store_canned.usage_counts()


def upsert(items: Iterable[CannedResponseData]) -> int:
    """Insert or replace responses by key (variants replaced as a whole). Returns how many were written."""
    return store_canned.upsert(items)


def delete(key: str) -> None:
    store_canned.delete(key)


def record_use(key: str) -> None:
    store_canned.record_use(key)
