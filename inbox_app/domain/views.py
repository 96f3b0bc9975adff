"""The sidebar's views ("Overdue", "Due soon", per channel, per tag…) as plain values.

A view is a filter, not a query: ``store.conversations`` turns it into SQL, the UI shows its label and count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from inbox_app.i18n import N_

DUE_SOON_WINDOW = timedelta(hours=4)


class ViewKind(StrEnum):
    OVERDUE = "overdue"
    DUE_SOON = "due_soon"
    OPEN = "open"
    PENDING = "pending"
    SNOOZED = "snoozed"
    CLOSED = "closed"
    ACCOUNT = "account"
    CHANNEL = "channel"
    TAG = "tag"
    SAVED = "saved"  # a saved search: value is its name; the list shows the search's results
    ALL = "all"
    MINE = "mine"  # not closed, assigned to this workstation's agent (the "Your name" setting)
    UNASSIGNED = "unassigned"  # not closed, nobody assigned


VIEW_LABELS: dict[ViewKind, str] = {
    ViewKind.OVERDUE: N_("Overdue"),
    ViewKind.DUE_SOON: N_("Due soon"),
    ViewKind.OPEN: N_("All open"),
    ViewKind.PENDING: N_("Pending"),
    ViewKind.SNOOZED: N_("Snoozed"),
    ViewKind.CLOSED: N_("Closed"),
    ViewKind.ALL: N_("Everything"),
    ViewKind.MINE: N_("Mine"),
    ViewKind.UNASSIGNED: N_("Unassigned"),
}

#: The assignment views, listed in the sidebar under the status views.
TRIAGE_VIEWS: tuple[ViewKind, ...] = (ViewKind.MINE, ViewKind.UNASSIGNED)

STATUS_VIEWS: tuple[ViewKind, ...] = (
    ViewKind.OVERDUE,
    ViewKind.DUE_SOON,
    ViewKind.OPEN,
    ViewKind.PENDING,
    ViewKind.SNOOZED,
    ViewKind.CLOSED,
)


@dataclass(frozen=True)
class View:
    kind: ViewKind
    value: str | None = None  # account id, channel kind, tag name or saved search name for those kinds

    @property
    def key(self) -> str:
        return self.kind.value if self.value is None else f"{self.kind.value}:{self.value}"

    @classmethod
    def parse(cls, key: str) -> View:
        kind, _sep, value = key.partition(":")
        return cls(ViewKind(kind), value or None)
