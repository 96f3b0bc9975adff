"""One thread for the sync's database work, so the event loop never waits on SQLite.

In the window the asyncio loop *is* the Qt UI thread (qasync), and a batch of 500 headers or 250 bodies is
tens to hundreds of milliseconds of SQLite work (plus fsyncs). The mail sync therefore runs its batch
transactions and heavy reads as plain synchronous functions on this worker (``await run_db(fn, *args)``).

Why a single worker: writes stay serialized, so two batch transactions never interleave and the crash/resume
guarantees of ``mail_sync`` (rows and cursor in one transaction) hold unchanged. A function handed to the
worker runs to its end even when the awaiting task is cancelled, so a transaction is always committed or
rolled back, never left open.

Connections: the store's peewee database is ``thread_safe`` (one connection per thread), so the worker has
its own connection. It looks the database up through ``database_proxy`` at call time, never a captured one:
opening another profile re-binds the proxy, and the worker then closes its connection to the old database
before it touches the new one. :func:`close_db_connection` closes the worker's connection on shutdown.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import peewee

from inbox_app.store.db import database_proxy

THREAD_NAME_PREFIX = "inbox-db"

T = TypeVar("T")

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
_bound: peewee.Database | None = None  # the database the worker last used; touched on the worker only


def _get_executor() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_NAME_PREFIX)
        return _executor


def _close_stale() -> peewee.Database | None:
    """(worker) Close our connection to a database that is no longer bound; return the bound one."""
    global _bound
    db: peewee.Database | None = database_proxy.obj
    if _bound is not None and _bound is not db and not _bound.is_closed():
        _bound.close()
    _bound = db
    return db


def _call(fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    _close_stale()
    return fn(*args)


def _close_current() -> None:
    """(worker) Close the worker's connection(s)."""
    global _bound
    db = _close_stale()
    if db is not None and not db.is_closed():
        db.close()
    _bound = None


async def run_db(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` on the database worker thread and return its result (or raise its exception)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_get_executor(), functools.partial(_call, fn, args))


def in_db_worker() -> bool:
    """Whether the caller runs on the database worker (for assertions and tests)."""
    return threading.current_thread().name.startswith(THREAD_NAME_PREFIX)


async def close_db_connection() -> None:
    """Close the worker thread's database connection (on shutdown; harmless when it has none).

    Queued behind any work still running, so it never closes a connection inside a transaction.
    """
    if _executor is None:
        return
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(_executor, _close_current)


__all__ = ["THREAD_NAME_PREFIX", "close_db_connection", "in_db_worker", "run_db"]
