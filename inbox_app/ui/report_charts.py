"""A small bar chart painted with QPainter, readable in grey-scale: every series has its own fill pattern.

Why not QtCharts/QtGraphs: PySide6-Essentials ships neither; PySide6-Addons would add ~300 MB to the install for
four bar charts. Bars are enough here: grouped (daily inbound vs replies) or single (distribution, late rate),
each series told apart by a pattern and a legend with the same pattern, values and labels as text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

#: Fill patterns, one per series, so the chart is readable without colour.
PATTERNS: tuple[Qt.BrushStyle, ...] = (
    Qt.BrushStyle.SolidPattern,
    Qt.BrushStyle.BDiagPattern,
    Qt.BrushStyle.CrossPattern,
    Qt.BrushStyle.Dense4Pattern,
    Qt.BrushStyle.HorPattern,
    Qt.BrushStyle.FDiagPattern,
    Qt.BrushStyle.VerPattern,
    Qt.BrushStyle.DiagCrossPattern,
    Qt.BrushStyle.Dense6Pattern,
    Qt.BrushStyle.NoBrush,  # an outline only
)


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]


class BarChart(QWidget):
    """Grouped bars: one group per category label, one bar per series. Set data with :meth:`set_data`."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.labels: list[str] = []
        self.series: list[Series] = []
        self.value_text: Callable[[float], str] = lambda v: f"{v:g}"
        self.stacked = False
        self.show_zero = False  # label a zero bar ("0 %" is a result, not a missing value)
        self.setMinimumSize(QSize(260, 170))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_data(
        self,
        labels: Sequence[str],
        series: Sequence[Series],
        value_text: Callable[[float], str] | None = None,
        *,
        stacked: bool = False,
        show_zero: bool = False,
    ) -> None:
        self.labels = list(labels)
        self.show_zero = show_zero
        self.series = list(series)
        if value_text is not None:
            self.value_text = value_text
        self.stacked = stacked
        self.setToolTip(
            "\n".join(
                f"{label}: " + ", ".join(f"{s.name} {self.value_text(s.values[i])}" for s in self.series)
                for i, label in enumerate(self.labels)
            )
        )
        self.update()

    def maximum(self) -> float:
        if self.stacked:
            sums = [sum(s.values[i] for s in self.series) for i in range(len(self.labels))]
            return max(sums, default=0.0)
        return max((v for s in self.series for v in s.values), default=0.0)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        pal = self.palette()
        fg = pal.color(QPalette.ColorRole.WindowText)
        painter.fillRect(self.rect(), pal.color(QPalette.ColorRole.Base))
        fm = painter.fontMetrics()
        line = fm.height()
        painter.setPen(fg)
        bold = painter.font()
        bold.setBold(True)
        painter.setFont(bold)
        painter.drawText(QRectF(6, 2, self.width() - 12, line), Qt.AlignmentFlag.AlignLeft, self.title)
        painter.setFont(self.font())
        # legend, one swatch per series with the series' pattern
        legend_y = 4 + line
        for idx, (swatch, s) in enumerate(zip(self.legend_swatches(), self.series, strict=True)):
            self._fill(painter, swatch, idx, fg)
            painter.setPen(fg)
            painter.drawText(
                QRectF(swatch.x() + line, swatch.y() - 2, fm.horizontalAdvance(s.name) + 4, line), s.name
            )
            legend_y = int(swatch.y()) - 2
        # a line for the scale and the tallest bar's value, so neither runs into the legend
        top = legend_y + 2 * line + 4
        bottom = self.height() - line - 6
        left, right = 6.0, self.width() - 6.0
        top_value = self.maximum()
        painter.setPen(QPen(fg, 1))
        painter.drawLine(int(left), int(bottom), int(right), int(bottom))
        if not self.labels or (top_value <= 0 and not self.show_zero):
            painter.drawText(QRectF(left, top, right - left, bottom - top), Qt.AlignmentFlag.AlignCenter, "–")
            painter.end()
            return
        slot = (right - left) / len(self.labels)
        bars = 1 if self.stacked else max(len(self.series), 1)
        bar_w = max(1.0, slot * 0.8 / bars)
        widest_value = max(
            (fm.horizontalAdvance(self.value_text(v)) for s in self.series for v in s.values), default=0
        )
        labelled = not self.stacked and bar_w >= widest_value + 2
        if top_value > 0 and not labelled:  # the scale, where the bars carry no value of their own
            painter.drawText(
                QRectF(left, top - line, right - left, line),
                Qt.AlignmentFlag.AlignRight,
                self.value_text(top_value),
            )
        elif top_value <= 0:  # every bar is zero: flat bars, each labelled
            top_value = 1.0
        # label every n-th group so the labels never overlap
        widest = max(fm.horizontalAdvance(label) for label in self.labels) + 6
        every = max(1, int(widest // slot) + 1)
        height = bottom - top
        for i, label in enumerate(self.labels):
            x0 = left + i * slot + slot * 0.1
            base: float = bottom
            for idx, s in enumerate(self.series):
                h = height * (s.values[i] / top_value)
                if self.stacked:
                    rect = QRectF(x0, base - h, slot * 0.8, h)
                    base -= h
                else:
                    rect = QRectF(x0 + idx * bar_w, bottom - h, bar_w, h)
                if h > 0:
                    self._fill(painter, rect, idx, fg)
                text = self.value_text(s.values[i])
                if not self.stacked and (h > 0 or self.show_zero) and bar_w >= fm.horizontalAdvance(text) + 2:
                    painter.setPen(fg)
                    painter.drawText(
                        QRectF(rect.x(), rect.y() - line, rect.width(), line),
                        Qt.AlignmentFlag.AlignHCenter,
                        text,
                    )
            if i % every == 0:
                painter.setPen(fg)
                painter.drawText(
                    QRectF(left + i * slot - widest / 2 + slot / 2, bottom + 2, widest, line),
                    Qt.AlignmentFlag.AlignHCenter,
                    label,
                )
        painter.end()

    def legend_swatches(self) -> list[QRectF]:
        """Where each series' pattern swatch is drawn in the legend: after the title, wrapped onto more lines
        when the legend is wider than the chart."""
        fm = self.fontMetrics()
        line = fm.height()
        x, y = 6.0, 4.0 + line
        out: list[QRectF] = []
        for s in self.series:
            width = line + fm.horizontalAdvance(s.name) + 14
            if x > 6.0 and x + width - 10 > self.width() - 6:
                x, y = 6.0, y + line
            out.append(QRectF(x, y + 2, line - 4, line - 4))
            x += width
        return out

    def _fill(self, painter: QPainter, rect: QRectF, idx: int, fg: QColor) -> None:
        painter.setPen(QPen(fg, 1))
        painter.setBrush(QBrush(fg, PATTERNS[idx % len(PATTERNS)]))
        painter.drawRect(rect)
        painter.setBrush(Qt.BrushStyle.NoBrush)
