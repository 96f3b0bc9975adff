"""The demo workspace: invented but realistic conversations to try the app without an account.

The generator itself lives in :mod:`inbox_app.demo.generator` (it writes through the store's one writer).
"""

from __future__ import annotations

from collections.abc import Callable

from inbox_app.demo import demo_conversation_count
from inbox_app.demo.generator import DEMO_ACCOUNT_KIND, generate
from inbox_app.profile import Profile

__all__ = ["DEMO_ACCOUNT_KIND", "demo_conversation_count", "fill"]


def fill(
    profile: Profile,
    *,
    count: int,
    seed: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Add ``count`` demo conversations to ``profile`` (same seed, same demo); returns how many were created."""
    return generate(profile, count=count, seed=seed, progress=progress)
