"""Change events: the sync engine says *what* changed, each view decides what to refresh.

A tiny synchronous publish/subscribe bus with no Qt in it, so the engine stays testable headless; the UI wraps it
in a Qt signal (one subscriber that re-emits). Subscribers run in the publisher's thread, in subscription order;
one failing subscriber is logged and does not stop the others (a broken view must not stop the sync).

Kinds used by the engine: ``conversations`` (rows added or changed), ``flags``, ``expunged``, ``outbox``,
``online``, ``offline``, ``needs_reconnect``, ``sync_started``, ``sync_finished``, ``progress``, ``error``
(``message`` holds the user text) — each with ``account_id`` when it concerns one account — and
``account_state`` (an account's live state, derived from the others by ``sync.account_state``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("inbox_app.sync")


@dataclass(frozen=True)
class ChangeEvent:
    kind: str
    conversation_ids: frozenset[int] = frozenset()
    account_id: int | None = None
    message: str = ""
    # Long work in progress ("headers", 1240, 20000): the window shows "1,240 of 20,000 messages".
    progress: tuple[str, int, int] | None = None


Subscriber = Callable[[ChangeEvent], None]


class ChangeBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Add a listener; returns a function that removes it again."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def publish(self, event: ChangeEvent) -> None:
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:
                log.exception("a change-event subscriber failed on %s", event.kind)
