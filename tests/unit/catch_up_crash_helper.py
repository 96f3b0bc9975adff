"""Run as ``python -m tests.unit.catch_up_crash_helper PROFILE_DIR BATCHES LIMIT [inside]``: bring the stored
report episodes up to date by ``BATCHES`` batches of ``LIMIT`` conversations, print what is left, then die by
SIGKILL (no rollback, no close, no atexit) — between two batches, or with ``inside`` in the middle of the next
batch, after it deleted the dirty marks and before it committed.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any


def main() -> None:
    from inbox_app.profile import open_profile
    from inbox_app.store import report_episodes

    root, batches, limit = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    inside = sys.argv[4:] == ["inside"]
    profile = open_profile(root)
    report_episodes.mark_changed_policies()
    left = report_episodes.pending_count()
    for _ in range(batches):
        left = report_episodes.refresh_batch(limit).left
    print(left, flush=True)
    if inside:
        execute_sql = profile.db.execute_sql

        def dying_execute_sql(sql: str, *args: Any, **kwargs: Any) -> Any:
            cursor = execute_sql(sql, *args, **kwargs)
            if sql.startswith("DELETE FROM report_dirty"):
                os.kill(os.getpid(), signal.SIGKILL)
            return cursor

        profile.db.execute_sql = dying_execute_sql  # type: ignore[method-assign]
        report_episodes.refresh_batch(limit)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main()
