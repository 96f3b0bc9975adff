"""Turning fetched raw mail into what the store keeps, in worker processes: MIME, the buyer's language, hashes.

Why worker processes: parsing is pure-Python CPU work that would otherwise hold the GIL the event loop (the
window's UI thread) and the database worker need. Why a module of its own: workers are started with
``spawn`` and import the module holding the function they run; this one needs only the MIME parser and the
language model, not the store, peewee, the IMAP client or Qt, so a worker starts quickly and stays small.

Attachments are not written to disk here. A worker only hashes their bytes (the id the attachment row keeps)
and sends back a marker instead of the bytes (see :func:`hashed_sha`); the file itself is written from the
raw source, which the store keeps anyway, the first time someone needs it (``store.blob_repair``): a
first sync thus stores every attachment once instead of twice, and skips a file creation per attachment,
which costs 0.5–1 ms of kernel time each on the test machines, far more than parsing the mail.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from inbox_app.channels.mail.mime import ParsedMail, parse_message

log = logging.getLogger("inbox_app.sync")

# --------------------------------------------------------------------------------------------- language
# Languages buyers write in on the marketplaces we serve (EU, UK, US, TR, JP, Middle East). Restricting py3langid
# to them removes its far-fetched guesses: on the demo's inbound mails, "unsure" fell from 101 to 26 of 598, with
# no wrong guess either way.
BUYER_LANGUAGES = [
    "en",
    "de",
    "fr",
    "es",
    "it",
    "pt",
    "nl",
    "pl",
    "cs",
    "sk",
    "sv",
    "da",
    "no",
    "fi",
    "ro",
    "hu",
    "el",
    "bg",
    "hr",
    "sl",
    "lt",
    "lv",
    "et",
    "tr",
    "ja",
    "zh",
    "ar",
    "ru",
    "uk",
    "he",
]
LANGUAGE_SAMPLE = 200  # characters: as good as 400 on real buyer mails, and py3langid costs ~1 µs per byte
LANGUAGE_MIN_CONFIDENCE = 0.9
LANGUAGE_MIN_CHARS = 25

_identifier: Any = None


def _language_identifier() -> Any:
    global _identifier
    if _identifier is None:
        import numpy
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        identifier.set_languages(BUYER_LANGUAGES)
        # The model's table comes as float16, which numpy widens on every product: widened once here, a guess
        # takes about 30 % less time with identical results (checked on the benchmark and demo mails).
        identifier.nb_ptc = numpy.ascontiguousarray(identifier.nb_ptc, dtype=numpy.float32)
        _identifier = identifier
    return _identifier


def guess_language(text: str) -> str | None:
    """ISO 639-1 code of ``text`` when py3langid is confident, else None (short or mixed text)."""
    sample = " ".join(line for line in text[:4000].splitlines() if not line.lstrip().startswith(">"))[
        :LANGUAGE_SAMPLE
    ]
    if len(sample.strip()) < LANGUAGE_MIN_CHARS:
        return None
    try:
        lang, confidence = _language_identifier().classify(sample)
    except Exception:  # language guessing is a nicety: never let it break a sync
        log.exception("language detection failed")
        return None
    return str(lang) if confidence >= LANGUAGE_MIN_CONFIDENCE else None


# --------------------------------------------------------------------------------------------- parsing
Parsed = tuple[ParsedMail | None, str | None, str | None]  # (mail, error text, guessed language)
_HASHED = b"\x00sha256:"


def hashed_sha(data: bytes) -> str | None:
    """The SHA-256 a worker put in place of an attachment's bytes (see :func:`parse_many`), else None."""
    return data[len(_HASHED) :].decode() if data.startswith(_HASHED) else None


def attachment_sha(data: bytes) -> str | None:
    """The blob id of an attachment's data: hashed by a worker already, or hashed now; None without data."""
    if not data:
        return None
    return hashed_sha(data) or hashlib.sha256(data).hexdigest()


def parse_many(
    raws: list[bytes], languages: list[bool] | None = None, *, hash_attachments: bool = False
) -> list[Parsed]:
    """Parse and guess the language of each mail (``languages`` says per mail whether it is wanted; None: all).

    Guessing is a fifth of the parse time, and only an inbound mail of a conversation without a language uses
    it. With ``hash_attachments`` (in a worker) attachment bytes come back as their hash only.
    """
    result: list[Parsed] = []
    for index, raw in enumerate(raws):
        parsed, error = _parse_safely(raw)
        if parsed is not None and hash_attachments and parsed.attachments:
            parsed = dataclasses.replace(
                parsed,
                attachments=tuple(
                    dataclasses.replace(
                        a,
                        data=_HASHED + hashlib.sha256(a.data).hexdigest().encode(),
                        size=a.size or len(a.data),
                    )
                    if a.data
                    else a
                    for a in parsed.attachments
                ),
            )
        wanted = languages is None or languages[index]
        result.append(
            (parsed, error, guess_language(parsed.text_body) if parsed is not None and wanted else None)
        )
    return result


def _parse_safely(raw: bytes) -> tuple[ParsedMail | None, str | None]:
    try:
        return parse_message(raw), None
    except Exception as exc:  # parse_message promises not to raise; a bug must still not stop the batch
        log.exception("parse_message raised")
        return None, f"The message could not be read ({type(exc).__name__}); its raw source is kept."


def _parse_in_worker(raws: list[bytes], languages: list[bool] | None) -> list[Parsed]:
    return parse_many(raws, languages, hash_attachments=True)


# --------------------------------------------------------------------------------------------- the pool
PARSE_WORKERS = max(1, min(4, os.cpu_count() or 1))
_MIN_FOR_POOL = 8  # fewer mails are parsed in a thread: not worth the round trip
_pool: ProcessPoolExecutor | None = None


def _parse_pool() -> ProcessPoolExecutor | None:
    """The worker processes (one per core, at most 4), started on first use and kept for the app's life.

    ``spawn``, never ``fork``: forking a process that runs Qt and I/O threads is unsafe. Each worker watches
    its parent and exits when it is gone, so a sync killed with SIGKILL leaves no orphans behind. Workers run
    at a lower priority (``WORKER_NICENESS``): parsing is background work; the window and the database writer
    come first. Disabled with ``INBOX_APP_PARSE_WORKERS=0`` (or 1).
    """
    global _pool
    workers = int(os.environ.get("INBOX_APP_PARSE_WORKERS", PARSE_WORKERS))
    if workers <= 1:
        return None
    if _pool is None:
        _pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_watch_parent,
            initargs=(os.getpid(),),
        )
    return _pool


WORKER_NICENESS = 5  # below the app's own threads: the window and the database writer come first


def _watch_parent(parent_pid: int) -> None:
    """(In a worker) run at a lower priority, and exit as soon as the process that started us has died."""
    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):  # not allowed here: run at normal priority
            os.nice(WORKER_NICENESS)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)  # a daemon thread in a worker process; nothing to wait on but the parent's death
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _reset_parse_pool() -> None:
    global _pool
    pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


def _chunks(items: list[Any], count: int) -> list[list[Any]]:
    size = max(1, -(-len(items) // count))
    return [items[i : i + size] for i in range(0, len(items), size)]


async def parse_all(raws: Sequence[bytes], languages: list[bool] | None = None) -> list[Parsed]:
    """Parse a batch in the worker processes (a thread when there are none), in order; never blocks the loop."""
    loop = asyncio.get_running_loop()
    pool = _parse_pool()
    if pool is None or len(raws) < _MIN_FOR_POOL:
        return await loop.run_in_executor(None, parse_many, list(raws), languages)
    count = PARSE_WORKERS * 2
    chunks = _chunks(list(raws), count)
    wanted = _chunks(languages, count) if languages is not None else [None] * len(chunks)
    try:
        results = await asyncio.gather(
            *(loop.run_in_executor(pool, _parse_in_worker, c, w) for c, w in zip(chunks, wanted, strict=True))
        )
    except BrokenProcessPool:
        _reset_parse_pool()
        return await loop.run_in_executor(None, parse_many, list(raws), languages)
    return [r for chunk in results for r in chunk]


__all__ = [
    "BUYER_LANGUAGES",
    "Parsed",
    "attachment_sha",
    "guess_language",
    "hashed_sha",
    "parse_all",
    "parse_many",
]
