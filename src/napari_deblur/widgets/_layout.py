"""Dock widgets that leave napari its canvas on a 1366x768 laptop: long forms scroll, the controls of a run stay
in sight below them, messages wrap, long choices do not widen the dock.

napari docks a magicgui widget's ``native``. A scrollable magicgui Container puts its form inside a
QScrollArea but still calls the inner form ``native``, so napari would dock the form and drop the scroll area;
:class:`DockForm` hands napari a widget holding the scroll area and, under it, the footer of pinned controls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from magicgui.application import use_app
from magicgui.widgets import Container, Widget
from qtpy.QtCore import QEvent, QObject, QSize, Qt
from qtpy.QtWidgets import QComboBox, QLabel, QLayout, QSizePolicy, QVBoxLayout, QWidget

LAPTOP_SCREEN = (1366, 768)
COMBO_CHARS = 12  # a drop-down is this many characters wide at least; longer items are shown when it opens


class DockForm(Container):
    """A labelled form that scrolls vertically when taller than the dock, above a ``footer`` that never scrolls.

    The form's fields are this Container's; :meth:`pin` puts the controls of a run (Run / Cancel, progress, the
    status line) in the footer, so that they stay in sight on a 768-px-high screen however long the form is.
    ``native`` is the whole dock: the scroll area over the footer.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(labels=True, scrollable=True, **kwargs)
        scroll = self.root_native_widget
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self._width_keeper = _MinimumWidthFromForm(scroll)
        scroll.installEventFilter(self._width_keeper)
        self.footer = Container(labels=True)
        outer = _NarrowBody()
        layout = QVBoxLayout(outer)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(scroll, stretch=1)  # the form takes what height is left; the footer keeps its own
        layout.addWidget(self.footer.native)
        outer._magic_widget = self  # as magicgui marks its natives: napari's dock.inner_widget() finds this form
        self._outer = outer

    @property
    def native(self) -> Any:
        # magicgui reads ``native`` while building the form, before the outer widget exists.
        outer = self.__dict__.get("_outer")
        return self.root_native_widget if outer is None else outer

    def pin(self, *rows: Widget | Sequence[Widget]) -> None:
        """Place ``rows`` in the footer, below the scrolling form; a sequence is one row of widgets side by side
        (Run | Cancel). Call before :meth:`fit_contents`."""
        for row in rows:
            if not isinstance(row, Widget):
                row = Container(widgets=list(row), layout="horizontal", labels=False)
            self.footer.append(row)
            labeled = row._labeled_widget()  # magicgui's (private) row that labels the field
            if labeled is not None and not row.label:  # the status line: the footer's whole width for its message
                labeled._label_widget.visible = False
                if isinstance(row.native, QLabel):  # magicgui fixes a Label's width to its text's, before wrapping
                    row.native.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    @property
    def form_layout(self) -> QLayout:
        """The layout holding the fields (to place plain Qt widgets, such as a collapsible section)."""
        return self._widget._layout

    def fit_contents(self, *sections: Container) -> None:
        """Wrap every text, keep drop-downs narrow, and line up the labels of nested forms (the method's
        parameters, and ``sections`` such as a collapsible Advanced part) with this form's: one label column,
        not one indented inside another. Call again after adding fields."""
        rows: list[Any] = []
        for form in (self, self.footer, *sections):
            _collect_rows(form, rows)
        measure = use_app().get_obj("get_text_width")
        width = max((measure(row._inner_widget.label) for row in rows), default=0)
        for row in rows:
            row.label_width = width
        for label in self.native.findChildren(QLabel):
            label.setWordWrap(True)
        for combo in self.native.findChildren(QComboBox):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(COMBO_CHARS)
        # magicgui fixes the scroll area's minimum width at each insertion, measured before napari's style and
        # the narrowing above apply (685 px for the Deblur form); it is measured again when the dock shows.
        self.root_native_widget.setMinimumWidth(0)
        layout = self.form_layout
        last = layout.itemAt(layout.count() - 1)
        if last is not None and last.spacerItem() is None:
            layout.addStretch(1)  # spare height goes below the form, not between its rows


class _NarrowBody(QWidget):
    """The docked widget, as wide as it must be and no wider, leaving napari the rest for its canvas.

    A QScrollArea keeps the first size hint its form gave, which comes before :meth:`DockForm.fit_contents` has
    narrowed the form (wrapped texts, narrow drop-downs); the dock would open that much wider.
    """

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(self.minimumSizeHint().width(), super().sizeHint().height())


class _MinimumWidthFromForm(QObject):
    """Sets a scroll area's minimum width to its form's, measured when shown (napari's style applied)."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Show:
            form = watched.widget()
            bar = watched.verticalScrollBar().sizeHint().width()
            watched.setMinimumWidth(form.minimumSizeHint().width() + bar + 2 * watched.frameWidth())
        return False


def _collect_rows(form: Container, rows: list[Any]) -> None:
    """The labelled rows of ``form`` and of the forms nested in it; a nested form's own row loses its (empty)
    label, so the nested fields start at the left edge like the others. ``_labeled_widget`` and
    ``_inner_widget`` are magicgui's (private) links between a field and the row that labels it."""
    for widget in form:
        row = widget._labeled_widget()
        if isinstance(widget, Container):
            widget.margins = (0, 0, 0, 0)
            if row is not None:
                row._label_widget.visible = False
            _collect_rows(widget, rows)
        elif row is not None:
            rows.append(row)
