"""The database handle: one SQLite file per profile, opened with the pragmas the product relies on.

WAL lets the UI read while the sync engine writes; foreign keys keep the graph honest; ``synchronous=FULL``
is used because outbox rows and drafts must survive a power cut (≈ 0.5 ms per commit here, measured). No
connection checkpoints inside its own commits: a thread of the database's own does it (``wal_checkpoint``).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import peewee

from inbox_app.store.wal_checkpoint import WalCheckpointer

log = logging.getLogger("inbox_app.store")

database_proxy = peewee.DatabaseProxy()

PRAGMAS: dict[str, object] = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": "full",
    "cache_size": -64 * 1024,  # 64 MiB page cache
    "busy_timeout": 10_000,
    "temp_store": "memory",
    "wal_autocheckpoint": 0,  # see store.wal_checkpoint: the checkpoint thread copies the log back
    "journal_size_limit": 64 * 1024 * 1024,  # a log that grew during a big sync is trimmed when it restarts
}


class BaseModel(peewee.Model):
    # Declared for the type checker only: peewee's metaclass creates the ``id`` primary key at run time.
    id: int

    class Meta:
        database = database_proxy
        legacy_table_names = False


READ_ONLY_PRAGMAS: dict[str, object] = {
    "query_only": 1,
    "foreign_keys": 1,
    "cache_size": -64 * 1024,
    "busy_timeout": 10_000,
    "temp_store": "memory",
}


def _open_read_only(path: Path) -> peewee.SqliteDatabase:
    """A connection that cannot write: ``mode=ro``, or ``immutable=1`` when SQLite cannot even create its
    shared-memory file next to the database (a folder without write access)."""
    base = path.resolve().as_uri()
    last: Exception | None = None
    for query in ("mode=ro", "mode=ro&immutable=1"):
        db = peewee.SqliteDatabase(
            f"{base}?{query}", uri=True, pragmas=READ_ONLY_PRAGMAS, thread_safe=True, check_same_thread=False
        )
        try:
            db.connect(reuse_if_open=True)
            db.execute_sql("SELECT count(*) FROM sqlite_master").fetchone()
        except peewee.OperationalError as exc:  # unable to open: try the next way
            last = exc
            if not db.is_closed():
                db.close()
            continue
        return db
    assert last is not None
    raise last


def open_database(path: Path, *, read_only: bool = False) -> peewee.SqliteDatabase:
    """Open (creating if needed) the profile database and bind every model to it.

    ``read_only``: open an existing file without ever writing to it (no checkpoint thread either); used for a
    read-only file or folder, where the user chose to look without changing anything.
    """
    global _read_only
    _read_only = read_only
    if read_only:
        _stop_checkpointer()
        ro = _open_read_only(path)
        database_proxy.initialize(ro)
        return ro
    path.parent.mkdir(parents=True, exist_ok=True)
    # IMMEDIATE: a transaction takes the write lock when it begins, so a read-then-write transaction on the UI
    # thread cannot fail with "database is locked" because a sync batch committed in between.
    db = peewee.SqliteDatabase(
        str(path), pragmas=PRAGMAS, thread_safe=True, check_same_thread=False, lock_type="IMMEDIATE"
    )
    db.connect(reuse_if_open=True)
    _stop_checkpointer()  # the previously bound database's, if it was not closed
    global _checkpointer
    _checkpointer = WalCheckpointer(path)
    _checkpointer.start()
    database_proxy.initialize(db)
    return db


_read_only = False


def is_read_only() -> bool:
    """True while the bound database was opened read-only: work that would write (indexing) is skipped."""
    return _read_only


def close_database() -> None:
    _stop_checkpointer()
    db = database_proxy.obj
    if db is not None and not db.is_closed():
        db.close()


@contextlib.contextmanager
def relaxed_transaction(*, poke: bool = True) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` with ``PRAGMA synchronous=NORMAL``, for rows that can be made again.

    Why: ``synchronous=FULL`` (above) fsyncs the log at every commit, for the outbox and the drafts. Rows
    that are a copy of what a server holds (the mail sync's batches, with their cursor) or a cache computed
    from the database (the report's episodes, with their dirty marks) do not need it: in WAL mode NORMAL stays
    consistent after any crash, and a power cut can only lose the last commits whole — their cursor or their
    marks with them, so the work is simply done again. The pragma is set on this thread's connection before
    BEGIN (SQLite ignores changes inside a transaction) and put back right after COMMIT; the next FULL commit's
    fsync also makes these frames durable. IMMEDIATE: the transaction reads before it writes next to other
    connections; a deferred BEGIN could fail with SQLITE_BUSY on its first write when another connection
    committed since its read, IMMEDIATE waits for the lock (busy_timeout). Nested in an outer transaction it is
    a plain savepoint and leaves the pragma alone.

    ``poke``: have the checkpoint thread copy the log back right after the commit (a sync batch is megabytes).
    Many short commits in a row (the report's catch-up) pass False and leave it to the thread's periodic look:
    poked after each of its 200 transactions, the pages they all rewrite were copied back 200 times, and the
    catch-up of 100,000 conversations took a quarter more CPU (15.5 s instead of 12.4 s).
    """
    db = database_proxy.obj
    if db.in_transaction():
        with db.atomic():
            yield
        return
    previous = db.execute_sql("PRAGMA synchronous").fetchone()[0]
    db.execute_sql("PRAGMA synchronous = NORMAL")
    try:
        with db.atomic("IMMEDIATE"):
            yield
    finally:
        db.execute_sql(f"PRAGMA synchronous = {int(previous)}")
    if poke:
        wal_written()


def wal_written() -> None:
    """Tell the checkpoint thread that a big transaction was just committed (sync batches, indexing)."""
    if _checkpointer is not None:
        _checkpointer.poke()


_checkpointer: WalCheckpointer | None = None


def _stop_checkpointer() -> None:
    global _checkpointer
    checkpointer, _checkpointer = _checkpointer, None
    if checkpointer is not None:
        checkpointer.stop()


def is_disk_full(exc: BaseException | None) -> bool:
    """True when ``exc`` (or what caused it) says the disk or a quota is full: SQLite's SQLITE_FULL, or
    ENOSPC/EDQUOT from the OS (``store.blobs.DiskFullError`` is raised from one). An environment problem the
    user can fix, never a reason to flag data as bad."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(exc, sqlite3.Error) and getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
            return True
        if isinstance(exc, sqlite3.Error | peewee.DatabaseError) and "database or disk is full" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
