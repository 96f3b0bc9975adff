"""An account's live state as the seller sees it: up to date, syncing (n of m), offline, needs reconnect.

Why one definition: the status bar, the sidebar's account entries, the Accounts menu and ``account list --json``
all show the same state in the same words; the sync engine sets it, the store keeps the last one per account
so a fresh window (or the command line) shows it before the engine's first round.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from inbox_app.i18n import _, format_number


class AccountPhase(StrEnum):
    UP_TO_DATE = "up_to_date"
    SYNCING = "syncing"
    OFFLINE = "offline"  # the server or the marketplace could not be reached: tried again by itself
    NEEDS_RECONNECT = "needs_reconnect"  # the key or password was refused: only the seller can fix it
    FAILED = "failed"  # anything else (slowed down by the vendor, a full disk, a bug): see ``message``


#: States that need the seller's eye (a warning icon next to the account).
TROUBLE = frozenset({AccountPhase.OFFLINE, AccountPhase.NEEDS_RECONNECT, AccountPhase.FAILED})


@dataclass(frozen=True)
class AccountState:
    """``done``/``total`` count threads or messages while syncing (``total`` None: the vendor does not say);
    ``message`` is the problem in the user's language; ``at`` when the state was reached (UTC)."""

    account_id: int
    phase: AccountPhase
    at: datetime | None = None
    done: int | None = None
    total: int | None = None
    message: str = ""

    @property
    def in_trouble(self) -> bool:
        return self.phase in TROUBLE

    def label(self) -> str:
        """The short text of the status bar and the account list ("syncing 40 of 120")."""
        if self.phase is AccountPhase.SYNCING:
            if self.done is not None and self.total:
                return _("syncing {done} of {total}").format(
                    done=format_number(self.done), total=format_number(self.total)
                )
            if self.done:
                return _("syncing, {done} so far").format(done=format_number(self.done))
            return _("syncing…")
        if self.phase is AccountPhase.OFFLINE:
            return _("offline")
        if self.phase is AccountPhase.NEEDS_RECONNECT:
            return _("needs reconnect")
        if self.phase is AccountPhase.FAILED:
            return _("sync failed")
        return _("up to date")

    def as_json(self) -> dict[str, Any]:
        """The ``state`` of ``account list --json`` (the phase is a fixed English word for scripts)."""
        return {
            "state": self.phase.value,
            "label": self.label(),
            "since": self.at.isoformat() if self.at else None,
            "done": self.done,
            "total": self.total,
            "message": self.message or None,
        }

    def to_record(self) -> dict[str, Any]:
        """What the store keeps (JSON)."""
        return {"phase": self.phase.value, "done": self.done, "total": self.total, "message": self.message}

    @classmethod
    def from_record(cls, account_id: int, record: dict[str, Any], at: datetime | None) -> AccountState | None:
        """The stored state, or None when it cannot be read (a newer version's phase)."""
        try:
            phase = AccountPhase(str(record.get("phase")))
        except ValueError:
            return None
        done, total = record.get("done"), record.get("total")
        return cls(
            account_id,
            phase,
            at,
            done if isinstance(done, int) else None,
            total if isinstance(total, int) else None,
            str(record.get("message") or ""),
        )
