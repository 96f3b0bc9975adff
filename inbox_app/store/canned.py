"""Canned responses in the database: the library the "/" picker searches and the manager edits."""

from __future__ import annotations

from collections.abc import Iterable

from inbox_app.domain.canned_library import CannedResponseData
from inbox_app.store.db import database_proxy
from inbox_app.store.models import CannedResponse, CannedVariant, utcnow


def all_responses() -> list[CannedResponseData]:
    variants: dict[int, dict[str, str]] = {}
    subjects: dict[int, dict[str, str]] = {}
    for v in CannedVariant.select():
        variants.setdefault(v.response_id, {})[v.language] = v.body
        if v.subject:
            subjects.setdefault(v.response_id, {})[v.language] = v.subject
    return [
        CannedResponseData(
            key=r.key,
            title=r.title,
            category=r.category,
            variants=variants.get(r.id, {}),
            subject=subjects.get(r.id) or None,
        )
        for r in CannedResponse.select().order_by(CannedResponse.category, CannedResponse.title)
    ]


def usage_counts() -> dict[str, int]:
    return {
        r.key: r.usage_count for r in CannedResponse.select(CannedResponse.key, CannedResponse.usage_count)
    }


def upsert(items: Iterable[CannedResponseData]) -> int:
    """Insert or replace responses by key (variants replaced as a whole). Returns how many were written."""
    count = 0
    with database_proxy.obj.atomic():
        for item in items:
            row = CannedResponse.get_or_none(CannedResponse.key == item.key)
            if row is None:
                row = CannedResponse.create(key=item.key, title=item.title, category=item.category)
            else:
                row.title = item.title
                row.category = item.category
                row.updated_at = utcnow()
                row.save()
            CannedVariant.delete().where(CannedVariant.response == row).execute()
            for lang, body in item.variants.items():
                subject = (item.subject or {}).get(lang)
                CannedVariant.create(response=row, language=lang, body=body, subject=subject)
            count += 1
    return count


def delete(key: str) -> None:
    CannedResponse.delete().where(CannedResponse.key == key).execute()


def record_use(key: str) -> None:
    CannedResponse.update(usage_count=CannedResponse.usage_count + 1).where(
        CannedResponse.key == key
    ).execute()
