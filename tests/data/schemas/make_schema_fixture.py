"""Write ``schema_v<N>.sqlite3`` for the current schema version: run once when a schema version is released.

Run from the repository root with the project installed (`.venv/bin/python tests/data/schemas/make_schema_fixture.py`).
The fixture is a small profile database (a few demo conversations with messages, a draft, an outbox row and
events); ``tests/unit/test_store.py`` opens every fixture with the current code, so each released schema
keeps migrating. Never regenerate an old version's file.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from inbox_app.demo.generator import generate
from inbox_app.profile import open_profile
from inbox_app.store import drafts, outbox
from inbox_app.store.migrations import SCHEMA_VERSION
from inbox_app.store.models import Conversation


def main() -> int:
    target = Path(__file__).parent / f"schema_v{SCHEMA_VERSION}.sqlite3"
    if target.exists():
        print(f"{target.name} exists already: released schemas are never regenerated", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        profile = open_profile(Path(tmp))
        generate(profile, count=12, seed=7, now=datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
        first, second = Conversation.select().order_by(Conversation.id).limit(2)
        outbox.queue_reply(first, body="Queued across versions", message_id="<fixture-1@example.com>")
        drafts.save_draft(second.id, "Draft kept across versions")
        profile.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        profile.close()
        shutil.copyfile(Path(tmp) / "inbox.sqlite3", target)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
