"""Triage at speed on the main window: a multi-selection in the list and bulk actions on it, each undoable.

Keys (only where no text is typed: sidebar, list, reading pane): ``x`` adds or removes the current row from
the selection, Shift+J/Shift+K extend it down/up (Ctrl/Shift+click with the mouse); ``e`` close, ``p``
pending, ``s`` snooze, ``t`` tag, ``c`` category, ``a`` assign act on every selected conversation (``n``
writes an internal note on the current one), Ctrl+Z takes the last action back and Ctrl+Shift+Z does it
again. All of them are also in the Conversation menu and the list's context menu. The store work runs on
the controller's background worker, so a 1,000-row action never freezes the window; the status bar says
what was done.

With one conversation selected, close/pending/snooze keep the controller's own path (with its warning before
closing an unanswered marketplace conversation).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence, QUndoCommand
from PySide6.QtWidgets import QInputDialog, QMenu

from inbox_app.domain.conversations import Status
from inbox_app.i18n import _
from inbox_app.services import triage
from inbox_app.ui.controller import snooze_choices
from inbox_app.ui.triage_picker import TriagePicker
from inbox_app.ui.triage_settings import TriageSettingsDialog

if TYPE_CHECKING:
    from inbox_app.ui.controller import MainController

log = logging.getLogger("inbox_app.ui")

WAKE_INTERVAL_MS = 30_000  # the longest wait between two looks at the snoozed conversations
WAKE_MARGIN_MS = 200  # woken just after their time, never before it (the store compares with "now")
_keys = itertools.count(1)


class BulkCommand(QUndoCommand):
    """One bulk action on the undo stack; the store keeps what it replaced (``services.triage.Undo``).

    Both directions run on the controller's single worker, in order: an undo pressed before the action
    finished waits for it, and finds its record (set on the worker, not on the UI thread).
    """

    def __init__(self, actions: TriageActions, ids: list[int], change: triage.Change, text: str) -> None:
        super().__init__(text)
        self._text = text  # the stack may delete the C++ command before the worker answers
        self._actions = actions
        self._ids = ids
        self._change = change
        self._record: triage.Undo | None = None

    def redo(self) -> None:
        def work() -> triage.BulkResult:
            result = triage.apply(self._ids, self._change)
            self._record = result.undo
            return result

        def finished(result: object) -> None:
            if isinstance(result, triage.BulkResult):
                self._actions.done(self._ids, result.description, tags=self._touches_tags())

        self._actions.run(work, finished)

    def undo(self) -> None:
        def work() -> None:
            if self._record is not None:
                triage.undo(self._record)

        self._actions.run(
            work,
            lambda _none: self._actions.done(
                self._ids, _("Undone: {what}").format(what=self._text), tags=self._touches_tags()
            ),
        )

    def _touches_tags(self) -> bool:
        return bool(self._change.add_tags or self._change.remove_tags)


class TriageActions(QObject):
    """Adds the selection keys and bulk actions to a :class:`MainController`'s window."""

    def __init__(self, controller: MainController) -> None:
        super().__init__(controller)
        self.controller = controller
        window = controller.window
        listing = window.conversation_list
        listing.setSelectionMode(listing.SelectionMode.ExtendedSelection)
        self.actions: dict[str, QAction] = {}
        add = self._add_action
        add("select_toggle", _("Select / unselect"), "X", self.toggle_current)
        add("select_down", _("Extend selection down"), "Shift+J", lambda: self.extend(1))
        add("select_up", _("Extend selection up"), "Shift+K", lambda: self.extend(-1))
        add("tag", _("&Tag…"), "T", self.pick_tag)
        add("category", _("Ca&tegory…"), "C", self.pick_category)
        add("assign", _("&Assign…"), "A", self.pick_assignee)
        add("note", _("&Internal note…"), "N", self.write_note)
        by = window.actions_by_name
        # j/k keep a deliberate multi-selection (x, Shift+J/K, Ctrl+click) and only move the cursor in it.
        self._marking = False
        for name, step in (("next", 1), ("previous", -1)):
            by[name].triggered.disconnect()
            by[name].triggered.connect(lambda _checked=False, d=step: self.move(d))
        listing.selectionModel().selectionChanged.connect(self._on_selection_changed)
        for name, status in (("close", Status.CLOSED), ("pending", Status.PENDING)):
            by[name].triggered.disconnect()
            by[name].triggered.connect(lambda _checked=False, s=status: self.set_status(s))
        window.snooze_menu.aboutToShow.connect(self._fill_snooze_menu)  # after the controller's: replaces it
        menu = next(
            (m for m in window.menuBar().findChildren(QMenu) if m.menuAction().text() == _("&Conversation")),
            None,
        )
        if menu is not None:
            menu.addSeparator()
            menu.addActions([self.actions[n] for n in ("tag", "category", "assign", "note")])
            menu.addSeparator()
            menu.addActions([self.actions[n] for n in ("select_toggle", "select_down", "select_up")])
        listing.set_context_actions(
            [
                *listing._context_actions,
                None,
                self.actions["tag"],
                self.actions["category"],
                self.actions["assign"],
                self.actions["note"],
                None,
                self.actions["select_toggle"],
            ]
        )
        settings = QAction(_("Categories and &team…"), window)
        settings.setObjectName("action_triage_settings")
        settings.setStatusTip(_("Keyword rules that categorise incoming conversations; the team's names"))
        settings.triggered.connect(lambda _checked=False: self.open_settings())
        window.actions_by_name["triage_settings"] = settings
        self.actions["triage_settings"] = settings
        tools = next(
            (m for m in window.menuBar().findChildren(QMenu) if m.menuAction().text() == _("&Tools")), None
        )
        if tools is not None:
            tools.addAction(settings)
        self._wake_timer = QTimer(self)
        self._wake_timer.setSingleShot(True)
        self._wake_timer.timeout.connect(self.wake_snoozed)
        # Conversations stored before categories existed get theirs once, off the UI thread.
        self.run(triage.categorise_uncategorised, lambda _count: None)
        self.wake_snoozed()  # what woke while the app was closed is open from the first paint on

    # ------------------------------------------------------------------------------- set-up
    def _add_action(self, name: str, text: str, key: str, slot: Callable[[], object]) -> None:
        window = self.controller.window
        action = QAction(text, window)
        action.setObjectName(f"action_{name}")
        action.setShortcut(QKeySequence(key))
        # A plain letter is text wherever the seller types: a shortcut only in the panes that take no text.
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        for widget in (window.sidebar, window.conversation_list, window.thread_view):
            widget.addAction(action)
        action.triggered.connect(lambda _checked=False: slot())
        window.actions_by_name[name] = action  # listed by "?" (shortcut_rows) like the window's own
        self.actions[name] = action

    def run(self, work: Callable[[], object], done: Callable[[object], None]) -> None:
        self.controller.runner.run(f"triage-{next(_keys)}", work, done, self._failed)

    def _failed(self, exc: BaseException) -> None:
        self.controller.window.statusBar().showMessage(
            _("The change could not be saved: {error}").format(error=exc), 8000
        )

    def done(self, ids: list[int], message: str, *, tags: bool = False) -> None:
        """An action or its undo was written: the list and counts follow; a tag that appeared or went away
        appears or goes away in the sidebar's Tags too."""
        self.controller.conversations_changed(ids)
        if tags:
            self.controller.reload_sources()
        self.controller.window.statusBar().showMessage(message + " · " + _("Ctrl+Z to undo"), 8000)

    # ------------------------------------------------------------------------------- selection
    def selected_ids(self) -> list[int]:
        """The selected conversations in list order (the current one when nothing is selected)."""
        listing = self.controller.window.conversation_list
        model = listing.conversation_model()
        selection = listing.selectionModel()
        ids: list[int] = []
        if model is not None and selection is not None:
            for row in sorted(index.row() for index in selection.selectedRows()):
                cid = model.id_at(row)
                if cid is not None:
                    ids.append(cid)
        if not ids and self.controller.current_id() is not None:
            ids = [int(self.controller.current_id() or 0)]
        return ids

    def _on_selection_changed(self, *_args: object) -> None:
        count = len(self.controller.window.conversation_list.selectionModel().selectedRows())
        if count == 0:
            self._marking = False
        elif count > 1:
            self._marking = True

    def move(self, step: int) -> None:
        """j/k: the next/previous row; inside a multi-selection the cursor moves and the selection stays."""
        listing = self.controller.window.conversation_list
        if not self._marking:
            listing.move_selection(step)
            return
        model = listing.model()
        current = listing.currentIndex()
        if model is None or not current.isValid():
            return
        row = max(0, min(current.row() + step, model.rowCount() - 1))
        target = model.index(row, current.column())
        listing.selectionModel().setCurrentIndex(target, QItemSelectionModel.SelectionFlag.NoUpdate)
        listing.scrollTo(target)

    def toggle_current(self) -> None:
        """x: mark the current row (the first x keeps it selected and starts a multi-selection), or unmark."""
        listing = self.controller.window.conversation_list
        index = listing.currentIndex()
        if not index.isValid():
            return
        rows = QItemSelectionModel.SelectionFlag.Rows
        if not self._marking:
            self._marking = True
            listing.selectionModel().select(index, QItemSelectionModel.SelectionFlag.ClearAndSelect | rows)
            return
        listing.selectionModel().select(index, QItemSelectionModel.SelectionFlag.Toggle | rows)

    def extend(self, step: int) -> None:
        listing = self.controller.window.conversation_list
        model = listing.model()
        current = listing.currentIndex()
        if model is None or not current.isValid():
            return
        row = current.row() + step
        if not 0 <= row < model.rowCount():
            return
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        self._marking = True
        selection = listing.selectionModel()
        selection.select(current, flags)
        target = model.index(row, current.column())
        selection.setCurrentIndex(target, QItemSelectionModel.SelectionFlag.NoUpdate)
        selection.select(target, flags)
        listing.scrollTo(target)

    # ------------------------------------------------------------------------------- actions
    def apply(self, change: triage.Change, text: str) -> bool:
        ids = self.selected_ids()
        if not ids:
            return False
        self.controller.undo_stack.push(BulkCommand(self, ids, change, text))
        return True

    def set_status(self, status: Status, until: datetime | None = None) -> bool:
        ids = self.selected_ids()
        if len(ids) <= 1:  # one conversation: the controller's path, with its closing warning
            return self.controller.change_status(status, until)
        if status is Status.CLOSED and not self._confirm_closing(ids):
            return False
        labels = {Status.CLOSED: _("close"), Status.PENDING: _("set pending"), Status.SNOOZED: _("snooze")}
        return self.apply(triage.Change(status=status, snoozed_until=until), labels.get(status, _("reopen")))

    def _confirm_closing(self, ids: list[int]) -> bool:
        """As for one conversation (the controller's warning): closing does not stop a marketplace's clock."""
        count = triage.unanswered_on_marketplaces(ids)
        if count == 0:
            return True
        return self.controller.confirm(
            _("Close unanswered conversations"),
            _(
                "{count} of these conversations are still unanswered on their marketplace, which keeps counting "
                "them against your response time until you reply or mark them 'No response needed'. "
                "Close anyway?"
            ).format(count=count),
        )

    def _fill_snooze_menu(self) -> None:
        menu = self.controller.window.snooze_menu
        menu.clear()
        for label, until in snooze_choices(self.controller.now_fn().astimezone()):
            action = menu.addAction(label)
            action.triggered.connect(
                lambda _checked=False, u=until: self.set_status(Status.SNOOZED, u.astimezone(UTC))
            )

    def _pick(
        self, title: str, choices: list[tuple[str, str]], on_pick: Callable[[str], None], *, new: bool = False
    ) -> TriagePicker:
        picker = TriagePicker(title, choices, self.controller.window, allow_new=new)
        picker.accepted.connect(lambda: on_pick(picker.chosen() or ""))
        picker.finished.connect(picker.deleteLater)
        picker.open()
        return picker

    def pick_category(self) -> TriagePicker:
        choices = [(c, triage.category_label(c)) for c in triage.CATEGORIES]

        def chosen(value: str) -> None:
            self.apply(
                triage.Change(category=value), _("category {name}").format(name=triage.category_label(value))
            )

        return self._pick(_("Category"), choices, chosen)

    def pick_assignee(self) -> TriagePicker:
        choices = [("", _("Nobody (unassign)")), *((n, n) for n in triage.team())]

        def chosen(value: str) -> None:
            if value and value not in triage.team():  # a new name typed in the picker joins the team
                triage.save_team([*triage.team(), value])
            text = _("assign to {name}").format(name=value) if value else _("unassign")
            self.apply(triage.Change(assignee=value), text)

        return self._pick(_("Assign to"), choices, chosen, new=True)

    def pick_tag(self) -> TriagePicker:
        names = self.controller_tags()

        def chosen(value: str) -> None:
            if value:
                self.apply(triage.Change(add_tags=(value,)), _("tag {name}").format(name=value))

        return self._pick(_("Tag"), [(n, n) for n in names], chosen, new=True)

    def controller_tags(self) -> list[str]:
        from inbox_app.services.conversations import sidebar_sources

        return sidebar_sources()[2]

    def open_settings(self) -> TriageSettingsDialog:
        def saved(rules_changed: bool) -> None:
            if rules_changed:
                message = _("Applying the category rules…")
                self.controller.window.statusBar().showMessage(message, 4000)
                self.run(triage.recategorise_by_rules, self._rules_applied)

        dialog = TriageSettingsDialog(self.controller.window, saved)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def _rules_applied(self, count: object) -> None:
        self.controller.reload()
        message = _("Category rules applied: {count} conversations categorised").format(count=count)
        self.controller.window.statusBar().showMessage(message, 8000)

    def write_note(self) -> QInputDialog | None:
        """n: an internal note on the current conversation (never sent), shown in its thread at once. Not on
        the undo stack: a note is a record of what was done, and stays."""
        cid = self.controller.current_id()
        if cid is None:
            return None
        dialog = QInputDialog(self.controller.window)
        dialog.setObjectName("noteDialog")
        dialog.setWindowTitle(_("Internal note"))
        dialog.setLabelText(_("Only your team sees this note; it is never sent to the customer."))
        dialog.setOption(QInputDialog.InputDialogOption.UsePlainTextEditForTextInput)
        dialog.setOkButtonText(_("Add note"))
        dialog.textValueSelected.connect(lambda text: self._save_note(cid, text))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def _save_note(self, conversation_id: int, text: str) -> None:
        if not text.strip():
            return

        def saved(note_id: object) -> None:
            if note_id is None:
                return
            self.controller.conversations_changed([conversation_id])
            self.controller.window.statusBar().showMessage(_("Note added."), 6000)

        self.run(lambda: triage.add_note(conversation_id, text.strip()), saved)

    def wake_snoozed(self) -> None:
        """Snoozed conversations whose time came are open again; then the timer is set for the next one to
        wake (at most half a minute away, so a snooze set from the CLI or another window is seen too)."""

        def work() -> tuple[list[int], datetime | None]:
            return triage.wake_snoozed(), triage.next_wake()

        def woke(result: object) -> None:
            if not isinstance(result, tuple):
                return
            ids, upcoming = result
            if ids:
                self.controller.conversations_changed(ids)
            wait_ms = WAKE_INTERVAL_MS
            if upcoming is not None:
                wait_ms = int((upcoming - datetime.now(UTC)).total_seconds() * 1000) + WAKE_MARGIN_MS
            self._wake_timer.start(max(WAKE_MARGIN_MS, min(wait_ms, WAKE_INTERVAL_MS)))

        self.run(work, woke)
