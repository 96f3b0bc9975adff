"""Make a big profile fast: copy a filled profile and repeat its conversations and messages N times in SQL.

The demo generator writes ≈ 50–190 conversations/s here (2 cores, shared), so 1,000,000 would take hours;
for measuring search and the window at that size, ten copies of a 100,000-conversation profile have the
right shape (same mix of channels, statuses, languages, deadlines and words). Copies get new ids, remote ids
suffixed ``#k`` (unique per account) and the same texts; the full-text index is rebuilt once at the end.

Usage: ``python benchmarks/replicate_profile.py SOURCE_DIR TARGET_DIR --times 10``.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import time
from pathlib import Path


def columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--times", type=int, default=10)
    args = parser.parse_args()
    if args.target.exists():
        shutil.rmtree(args.target)
    args.target.mkdir(parents=True)
    started = time.perf_counter()
    src = sqlite3.connect(args.source / "inbox.sqlite3")
    dst = sqlite3.connect(args.target / "inbox.sqlite3")
    src.backup(dst)
    src.close()
    db = dst
    db.execute("PRAGMA journal_mode=wal")
    db.execute("PRAGMA synchronous=off")
    db.execute("PRAGMA cache_size=-400000")
    conv_step = int(db.execute("SELECT max(id) FROM conversation").fetchone()[0])
    msg_step = int(db.execute("SELECT max(id) FROM message").fetchone()[0])
    triggers = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'message'"
    ).fetchall()
    for name, _sql in triggers:
        db.execute(f"DROP TRIGGER {name}")
    conv_cols = columns(db, "conversation")
    msg_cols = columns(db, "message")

    def expr(col: str, table: str, k: int) -> str:
        if col == "id":
            return f"id + {k * (conv_step if table == 'conversation' else msg_step)}"
        if col == "conversation_id":
            return f"conversation_id + {k * conv_step}"
        if col == "remote_id":
            return f"CASE WHEN remote_id IS NULL THEN NULL ELSE remote_id || '#{k}' END"
        return f'"{col}"'

    for k in range(1, args.times):
        with db:
            for table, cols, limit in (
                ("conversation", conv_cols, conv_step),
                ("message", msg_cols, msg_step),
            ):
                select = ", ".join(expr(c, table, k) for c in cols)
                db.execute(
                    f"INSERT INTO {table} ({', '.join(f'{chr(34)}{c}{chr(34)}' for c in cols)}) "
                    f"SELECT {select} FROM {table} WHERE id <= {limit}"
                )
            db.execute(
                f"INSERT INTO conversation_tag (conversation_id, tag_id) SELECT conversation_id + {k * conv_step}, "
                f"tag_id FROM conversation_tag WHERE conversation_id <= {conv_step}"
            )
        print(
            f"  copy {k + 1} of {args.times}  {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
            flush=True,
        )
    with db:
        db.execute("DELETE FROM message_fts_pending")
        db.execute("INSERT INTO message_fts(message_fts) VALUES ('rebuild')")
        for _name, sql in triggers:
            db.execute(sql)
    db.execute("ANALYZE")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    count = db.execute("SELECT count(*) FROM conversation").fetchone()[0]
    db.close()
    for folder in ("attachments",):
        if (args.source / folder).exists():
            shutil.copytree(args.source / folder, args.target / folder)
    print(f"{count:,} conversations in {time.perf_counter() - started:.0f} s at {args.target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
