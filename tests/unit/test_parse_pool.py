"""The parse workers: same results as parsing in-process, and they run below the app's priority."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest

from inbox_app.sync import mail_parsing


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("INBOX_APP_PARSE_WORKERS", "2")
    mail_parsing._reset_parse_pool()
    yield
    mail_parsing._reset_parse_pool()


def _mail(n: int) -> bytes:
    return (
        f"From: Käufer {n} <k{n}@example.de>\r\nTo: shop@example.com\r\nSubject: Bestellung {n}\r\n"
        f"Message-ID: <p{n}@example.de>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Guten Tag, meine Bestellung {n} ist leider noch nicht angekommen. Können Sie bitte nachsehen?\r\n"
    ).encode()


def test_workers_parse_like_the_app_and_run_at_a_lower_priority(pool: None) -> None:
    raws = [_mail(n) for n in range(12)]  # above the size parse_all sends to the workers
    in_process = mail_parsing.parse_many(raws)
    in_workers = asyncio.run(mail_parsing.parse_all(raws))
    assert [(p.subject, p.text_body, lang) for p, _e, lang in in_workers if p] == [
        (p.subject, p.text_body, lang) for p, _e, lang in in_process if p
    ]
    assert {lang for _p, _e, lang in in_workers} == {"de"}
    worker_pool = mail_parsing._parse_pool()
    assert worker_pool is not None
    expected = min(os.nice(0) + mail_parsing.WORKER_NICENESS, 19)
    assert worker_pool.submit(os.nice, 0).result(timeout=60) == expected
