"""The "/" quick-insert popup for canned responses: fuzzy list on the left, rendered preview on the right.

Why a child popup and not a modal dialog: the agent keeps typing in the reply ("/del…") while the list
narrows, then presses Enter — under ten seconds from open to sent, keyboard only. The reply editor owns the
text and forwards Up/Down/Enter/Escape here while the popup is open (see ``ReplyEditor``), so focus never
leaves the text.

Search is fuzzy (rapidfuzz ``process.extract``) over key + title + category + every body, so "/del" finds
"delay" as well as "Retraso de envío" whose English key is "delay"; an exact key prefix ranks first and
frequently used responses win ties.

Signals (``CannedPicker``):
    picked(str key): the user chose a response (Enter or double click).
    dismissed(): the user closed the popup (Escape) without choosing.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from datetime import date

from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QListView, QTextBrowser, QVBoxLayout, QWidget
from rapidfuzz import fuzz, process, utils

from inbox_app.domain.canned_library import CATEGORIES, CannedResponseData
from inbox_app.domain.conversations import ConversationDetail
from inbox_app.domain.templates import Rendered, pick_variant, render, standard_values
from inbox_app.i18n import _, format_date, gettext_in

MAX_RESULTS = 30
SCORE_CUTOFF = 80.0
BODY_WEIGHT = 0.8
BODY_MIN_QUERY = 4
ModelIndex = QModelIndex | QPersistentModelIndex


def search_responses(
    query: str,
    responses: Sequence[CannedResponseData],
    usage: Mapping[str, int] | None = None,
    limit: int = MAX_RESULTS,
    language: str | None = None,
) -> list[CannedResponseData]:
    """Responses matching ``query`` best first; an empty query lists the most used first.

    ``language`` (the reply's): its words count like the English key and title, so a seller answering in
    Spanish finds the delay reply with "/retra" ("Entrega con retraso", the category in Spanish) and its
    Spanish text from three letters on.

    Two fuzzy passes (rapidfuzz ``process.extract``): over key + title + category, and over the bodies in
    every language. A body-only match counts for less, because short queries ("del") occur inside many
    texts ("del pedido") while the agent almost always means a shortcut or a title: bodies are searched for
    the exact words only, from four letters on.
    """
    counts = usage or {}
    q = query.strip().casefold()
    if not q:
        return sorted(responses, key=lambda r: (-counts.get(r.key, 0), r.title.casefold()))[:limit]
    heads = {
        i: " ".join((r.key, r.title, r.category, _category_words(r.category, language)))
        for i, r in enumerate(responses)
    }
    bodies = {i: " ".join(r.variants.values()) for i, r in enumerate(responses)}
    scores: dict[int, float] = {}
    passes = [(heads, 1.0, SCORE_CUTOFF)]
    if len(q) >= BODY_MIN_QUERY:
        passes.append((bodies, BODY_WEIGHT, 100.0))  # bodies: the words must really be there
    if language and len(q) >= BODY_MIN_QUERY - 1:
        own = {i: _variant_in(r, language) for i, r in enumerate(responses)}
        passes.append((own, 1.0, 100.0))  # the reply's own language: its words count fully
    for choices, weight, cutoff in passes:
        found = process.extract(
            q,
            choices,
            scorer=fuzz.partial_ratio,
            processor=utils.default_process,
            limit=None,
            score_cutoff=cutoff,
        )
        for _text, score, i in found:
            scores[i] = max(scores.get(i, 0.0), score * weight)
    ranked: list[tuple[float, int, str, int]] = []
    for i, score in scores.items():
        if score < SCORE_CUTOFF * BODY_WEIGHT:
            continue
        item = responses[i]
        bonus = 0.0
        if item.key.casefold().startswith(q):
            bonus += 40
        elif any(word.startswith(q) for word in item.title.casefold().split()):
            bonus += 20
        elif item.category.casefold().startswith(q):
            bonus += 10
        elif any(word.startswith(q) for word in heads[i].casefold().split()):
            bonus += 15  # a word of the category in the reply's language ("retraso")
        bonus += min(bodies[i].casefold().count(q), 5)  # a refund text says "reembolso" more than others
        ranked.append((score + bonus, counts.get(item.key, 0), item.title.casefold(), i))
    ranked.sort(key=lambda t: (-t[0], -t[1], t[2]))
    return [responses[i] for *_rest, i in ranked[:limit]]


def _category_words(category: str, language: str | None) -> str:
    """The category's label in English and in ``language`` (searchable in both)."""
    label = CATEGORIES.get(category)
    if label is None:
        return ""
    return label if not language else f"{label} {gettext_in(language, label)}"


def _variant_in(response: CannedResponseData, language: str) -> str:
    """The body in ``language`` (base language too: "es-MX" finds "es"), or nothing."""
    wanted = language.replace("_", "-").casefold()
    base = wanted.split("-")[0]
    for code, body in response.variants.items():
        if code.replace("_", "-").casefold() in (wanted, base):
            return body
    return ""


def today_text(language: str, today: date | None = None) -> str:
    """Today's date written for the buyer (their language), falling back to the app's locale."""
    day = today or date.today()
    try:
        return babel_dates.format_date(day, format="long", locale=Locale.parse(language.replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError):
        return format_date(day, "long")  # type: ignore[arg-type]  # babel accepts a date here


def conversation_values(
    detail: ConversationDetail | None,
    language: str,
    *,
    agent_name: str | None = None,
    shop_name: str | None = None,
) -> dict[str, str | None]:
    """The template variables this conversation can fill (missing ones stay placeholders)."""
    extra = detail.extra if detail is not None else {}

    def extra_text(key: str) -> str | None:
        value = extra.get(key)
        return str(value) if value not in (None, "") else None

    summary = detail.summary if detail is not None else None
    return standard_values(
        customer_name=(summary.customer_name or None) if summary else None,
        order_id=summary.order_id if summary else None,
        tracking_number=extra_text("tracking_number"),
        carrier=extra_text("carrier"),
        agent_name=agent_name,
        shop_name=shop_name,
        today=today_text(language),
    )


def render_response(
    response: CannedResponseData,
    values: Mapping[str, str | None],
    language: str | None,
    default_language: str,
) -> tuple[str, Rendered]:
    """(chosen language, rendered body) for the reply language, falling back as ``pick_variant`` does."""
    lang, body = pick_variant(response.variants, language, default_language)
    return lang, render(keep_seller_blanks(body, values), values)


#: Variables about the seller: filled from the settings (Tools ▸ Settings…); when not set they stay a
#: highlighted blank to fill in, never silently dropped (a greeting ending "Un cordial saludo," and no name).
SELLER_VARIABLES = ("agent.name", "shop.name")


def keep_seller_blanks(body: str, values: Mapping[str, str | None]) -> str:
    """``{agent.name|}`` → ``{agent.name}`` when the setting is empty, so it is highlighted, not dropped."""
    for name in SELLER_VARIABLES:
        if not values.get(name):
            body = re.sub(r"\{\s*" + re.escape(name) + r"\s*\|[^{}\n]*\}", "{" + name + "}", body)
    return body


def category_label(category: str) -> str:
    return _(CATEGORIES[category]) if category in CATEGORIES else category


class ResponseListModel(QAbstractListModel):
    """The filtered responses; the list view shows title and key."""

    KeyRole = Qt.ItemDataRole.UserRole + 1

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._items: list[CannedResponseData] = []

    def set_items(self, items: list[CannedResponseData]) -> None:
        self.beginResetModel()
        self._items = items
        self.endResetModel()

    def item(self, row: int) -> CannedResponseData | None:
        return self._items[row] if 0 <= row < len(self._items) else None

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's default argument
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        item = self.item(index.row()) if index.isValid() else None
        if item is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return f"/{item.key} · {item.title}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{item.title}\n{category_label(item.category)}"
        if role == self.KeyRole:
            return item.key
        return None


class CannedPicker(QFrame):
    """The popup itself: a list and a preview. The owner feeds it the query and forwards navigation keys."""

    picked = Signal(str)
    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("cannedPicker")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("#cannedPicker { border: 1px solid palette(dark); background: palette(window); }")
        self.setAutoFillBackground(True)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._responses: list[CannedResponseData] = []
        self._usage: dict[str, int] = {}
        self._values: Mapping[str, str | None] = {}
        self._language: str | None = None
        self._default_language = "en"
        self.query = ""

        self.model = ResponseListModel(self)
        self.view = QListView()
        self.view.setModel(self.model)
        self.view.setUniformItemSizes(True)
        self.view.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.view.setMinimumWidth(240)
        self.view.doubleClicked.connect(lambda _index: self.accept_current())
        self.view.selectionModel().currentChanged.connect(lambda *_a: self._update_preview())
        self.heading = QLabel()
        self.heading.setTextFormat(Qt.TextFormat.PlainText)
        font = self.heading.font()
        font.setBold(True)
        self.heading.setFont(font)
        self.preview = QTextBrowser()
        self.preview.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.preview.setOpenLinks(False)
        self.preview.setMinimumWidth(300)
        self.empty = QLabel()
        self.empty.setWordWrap(True)
        self.footer = QLabel(_("↑↓ choose · Enter insert · Esc close"))
        self.footer.setEnabled(False)

        right = QVBoxLayout()
        right.setContentsMargins(0, 0, 0, 0)
        right.addWidget(self.heading)
        right.addWidget(self.preview, 1)
        body = QHBoxLayout()
        body.setContentsMargins(0, 0, 0, 0)
        body.addWidget(self.view, 1)
        body.addLayout(right, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(body, 1)
        layout.addWidget(self.empty)
        layout.addWidget(self.footer)
        self.resize(680, 240)
        self.hide()

    # ------------------------------------------------------------------------------------------- inputs

    def set_responses(self, responses: list[CannedResponseData], usage: Mapping[str, int]) -> None:
        self._responses = responses
        self._usage = dict(usage)
        self.set_query(self.query)

    def set_context(
        self, values: Mapping[str, str | None], language: str | None, default_language: str
    ) -> None:
        self._values = values
        self._language = language
        self._default_language = default_language
        self.set_query(self.query)  # the reply's language takes part in the search

    def set_query(self, query: str) -> None:
        self.query = query
        items = search_responses(query, self._responses, self._usage, language=self._language)
        self.model.set_items(items)
        self.empty.setVisible(not items)
        self.empty.setText(
            _("No canned response matches “{query}”. Keep typing, or press Esc.").format(query=query)
            if query
            else _("No canned responses yet: add some under Tools → Canned responses.")
        )
        if items:
            self.view.setCurrentIndex(self.model.index(0, 0))
        self._update_preview()

    # ---------------------------------------------------------------------------------------- navigation

    def current(self) -> CannedResponseData | None:
        return self.model.item(self.view.currentIndex().row())

    def results(self) -> list[CannedResponseData]:
        return [r for r in (self.model.item(i) for i in range(self.model.rowCount())) if r is not None]

    def move_selection(self, delta: int) -> None:
        count = self.model.rowCount()
        if not count:
            return
        row = (self.view.currentIndex().row() + delta) % count
        self.view.setCurrentIndex(self.model.index(row, 0))

    def accept_current(self) -> bool:
        item = self.current()
        if item is None:
            return False
        self.picked.emit(item.key)
        return True

    def dismiss(self) -> None:
        self.hide()
        self.dismissed.emit()

    # ------------------------------------------------------------------------------------------- preview

    def _update_preview(self) -> None:
        item = self.current()
        if item is None:
            self.heading.clear()
            self.preview.clear()
            return
        try:
            lang, rendered = render_response(item, self._values, self._language, self._default_language)
        except ValueError:
            self.heading.setText(item.title)
            self.preview.setPlainText(_("This response has no text yet."))
            return
        self.heading.setText(_("{title} · {language}").format(title=item.title, language=lang))
        self.preview.setHtml(preview_html(rendered))


def preview_html(rendered: Rendered) -> str:
    """The rendered text as HTML with unfilled placeholders marked (colour, underline)."""
    parts: list[str] = []
    pos = 0
    for span in rendered.missing:
        parts.append(html.escape(rendered.text[pos : span.start]))
        parts.append(
            '<span style="background:#ffe8b0; color:#8a4b00; text-decoration: underline;">'
            + html.escape(rendered.text[span.start : span.end])
            + "</span>"
        )
        pos = span.end
    parts.append(html.escape(rendered.text[pos:]))
    return '<div style="white-space: pre-wrap;">' + "".join(parts) + "</div>"
