"""Triage verbs for the window and the CLI: status, snooze, category, assignee and tags on many conversations
at once, each undoable; notes; the team list and the category rules.

Every bulk verb returns a :class:`BulkResult` whose ``undo`` record is handed back to :func:`undo` (Ctrl+Z in
the window): the caller keeps it, the store knows exactly what to put back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from inbox_app.domain.categories import CATEGORY_LABELS, RULE_LANGUAGES, Category
from inbox_app.domain.conversations import Status
from inbox_app.i18n import _
from inbox_app.store import settings as store_settings
from inbox_app.store import triage as store_triage
from inbox_app.store.triage import Change, Undo, UnknownCategoryError

__all__ = [
    "CATEGORIES",
    "RULE_LANGUAGES",
    "BulkResult",
    "Change",
    "TriageFacts",
    "Undo",
    "UnknownCategoryError",
]

#: The fixed vocabulary, in the order pickers show it.
CATEGORIES: tuple[str, ...] = tuple(c.value for c in Category)


@dataclass(frozen=True)
class BulkResult:
    """What a bulk action did: how many conversations changed and how to take it back."""

    changed: int
    undo: Undo
    description: str


@dataclass(frozen=True)
class TriageFacts:
    """The triage fields of one conversation, for ``list --json``/``show --json`` and the list's chips."""

    category: str | None
    category_source: str | None
    assignee: str | None
    snoozed_until: datetime | None
    tags: tuple[str, ...]


def category_label(category: str | None) -> str:
    """The translated name of a category ("" for a conversation not categorised yet)."""
    return _(CATEGORY_LABELS[category]) if category in CATEGORY_LABELS else ""


def apply(ids: Sequence[int], change: Change, *, actor: str = "") -> BulkResult:
    """Apply ``change`` to every existing conversation of ``ids`` in one transaction."""
    record = store_triage.apply_change(ids, change, actor=actor or current_agent())
    return BulkResult(record.changed, record, _describe(change, record.changed))


def set_status(
    ids: Sequence[int], status: Status, snoozed_until: datetime | None = None, *, actor: str = ""
) -> BulkResult:
    if status is Status.SNOOZED and snoozed_until is None:
        raise ValueError("snoozing needs a time")
    return apply(ids, Change(status=status, snoozed_until=snoozed_until), actor=actor)


def set_category(ids: Sequence[int], category: str, *, actor: str = "") -> BulkResult:
    """Categorise by hand: the rules never change these again."""
    return apply(ids, Change(category=category), actor=actor)


def assign(ids: Sequence[int], assignee: str | None, *, actor: str = "") -> BulkResult:
    """Assign to a team member (None or "": unassign)."""
    return apply(ids, Change(assignee=assignee or ""), actor=actor)


def tag(ids: Sequence[int], names: Sequence[str], *, actor: str = "") -> BulkResult:
    return apply(ids, Change(add_tags=tuple(names)), actor=actor)


def untag(ids: Sequence[int], names: Sequence[str], *, actor: str = "") -> BulkResult:
    return apply(ids, Change(remove_tags=tuple(names)), actor=actor)


def unanswered_on_marketplaces(ids: Sequence[int]) -> int:
    """How many of ``ids`` a marketplace still counts as unanswered (closing them warns first)."""
    return store_triage.unanswered_on_marketplaces(ids)


def undo(record: Undo, *, actor: str = "") -> None:
    """Take back one bulk action (its values before, in one transaction)."""
    store_triage.undo(record, actor=actor or current_agent())


def add_note(conversation_id: int, text: str, *, author: str = "") -> int | None:
    """An internal note (never sent to the customer); None when the conversation does not exist."""
    return store_triage.add_note(conversation_id, text, author=author or current_agent())


def existing_ids(ids: Sequence[int]) -> list[int]:
    return store_triage.existing_ids(ids)


def facts(ids: Sequence[int]) -> dict[int, TriageFacts]:
    """Category, assignee, snooze time and tags of each existing conversation of ``ids``."""
    return {
        cid: TriageFacts(row[0], row[1], row[2], row[3], row[4])
        for cid, row in store_triage.triage_fields(ids).items()
    }


def wake_snoozed(now: datetime | None = None) -> list[int]:
    """Snoozed conversations whose time came go back to open (the window calls this on a timer)."""
    return store_triage.wake_snoozed(now)


def next_wake() -> datetime | None:
    return store_triage.next_wake()


# --------------------------------------------------------------------------- team and agent
def team() -> list[str]:
    """The workstation's team, as kept in the profile (the agent's own name first if it is not listed)."""
    names = store_triage.team()
    agent = current_agent()
    return names if not agent or agent in names else [agent, *names]


def save_team(names: Sequence[str]) -> None:
    store_triage.save_team(names)


def current_agent() -> str:
    """Who works at this workstation: fills ``{agent.name}`` and is "Mine" in the sidebar."""
    return str(store_settings.get_setting(store_settings.AGENT_NAME, "") or "")


# --------------------------------------------------------------------------- category rules
def category_rules() -> dict[str, dict[str, tuple[str, ...]]]:
    return store_triage.category_rules()


def save_category_rules(rules: dict[str, dict[str, list[str]]] | None, *, reapply: bool = True) -> int:
    """Store edited rules; with ``reapply``, re-run them on every conversation the rules categorised (not those
    set by hand or by the marketplace). Returns how many conversations got a category."""
    store_triage.save_category_rules(rules)
    return store_triage.recategorise_by_rules() if reapply else 0


def recategorise_by_rules() -> int:
    """Re-run the stored rules on every conversation the rules categorised; returns how many got one."""
    return store_triage.recategorise_by_rules()


def categorise_uncategorised() -> int:
    """Categorise conversations stored before categories existed."""
    return store_triage.categorise_uncategorised()


def _describe(change: Change, count: int) -> str:
    if change.status is Status.CLOSED:
        what = _("Closed")
    elif change.status is Status.PENDING:
        what = _("Set to pending")
    elif change.status is Status.SNOOZED:
        what = _("Snoozed")
    elif change.status is Status.OPEN:
        what = _("Reopened")
    elif change.category is not None:
        what = _("Category {category}").format(category=category_label(change.category))
    elif change.assignee is not None:
        what = _("Assigned to {name}").format(name=change.assignee) if change.assignee else _("Unassigned")
    elif change.add_tags:
        what = _("Tagged {tags}").format(tags=", ".join(change.add_tags))
    elif change.remove_tags:
        what = _("Untagged {tags}").format(tags=", ".join(change.remove_tags))
    else:
        what = _("Changed")
    return _("{what}: {count} conversations").format(what=what, count=count)
