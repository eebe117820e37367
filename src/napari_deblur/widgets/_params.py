"""Turn parameter specs into magicgui widgets: the one place that maps Param -> widget, and the basic/Advanced
panel that all three docks show for a method's or a blur kind's parameters."""

from __future__ import annotations

import builtins
import math
import warnings
from typing import Any

from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, LineEdit, SpinBox, Widget
from qtpy.QtWidgets import QDoubleSpinBox
from superqt import QCollapsible

from napari_deblur.params import Param


def param_widget(p: Param, value: Any = None) -> Widget:
    """The field for ``p``, showing ``value`` (a saved setting) when it is still valid, else the default."""
    try:
        value = p.default if value is None else p.validate(value)
    except (TypeError, ValueError):
        warnings.warn(f"Ignoring the saved {p.name}={value!r}: not a valid value.", RuntimeWarning, stacklevel=2)
        value = p.default
    label = p.name.replace("_", " ")
    common = {"name": p.name, "label": label, "tooltip": p.help}
    if p.type is bool:
        return CheckBox(value=bool(value), **common)
    if p.choices:
        return ComboBox(choices=list(p.choices), value=value, **common)
    if p.type is int:
        widget = SpinBox(value=int(value), min=int(p.min if p.min is not None else -(2**31)),
                         max=int(p.max if p.max is not None else 2**31 - 1), **common)
        return show_zero_as(widget, p.zero)
    if p.type is float:
        lo = p.min if p.min is not None else -1e9
        hi = p.max if p.max is not None else 1e9
        return float_box(float(value), min=lo, max=hi, step=_step(p), zero=p.zero, **common)
    return LineEdit(value=str(value), **common)


def _step(p: Param) -> float:
    """A tenth of the default's order of magnitude (0.001 for 0.01, 0.1 for 1.0); from the range when the default
    is 0 (a hundredth of the maximum: 0.001 for a weight up to 0.1)."""
    magnitude = abs(float(p.default)) or (abs(float(p.max)) / 10 if p.max else 1.0)
    return float(10 ** (math.floor(math.log10(magnitude)) - 1))


def float_box(value: float, *, min: float, max: float, step: float, zero: str = "", decimals: int | None = None,
              **kwargs: Any) -> FloatSpinBox:
    """A float spin box with the decimals its step and value need, plus one so a tenth of a step can be typed
    (at least one, at most six): "0.0100" and "30.0", not "0.010000"; ``zero``'s word instead of 0. The
    decimals are set before the value, which Qt would otherwise round to two."""
    widget = FloatSpinBox(min=min, max=max, step=step, **kwargs)
    needed = builtins.max(1 - math.floor(math.log10(step)), _decimals_of(value))
    widget.native.setDecimals(decimals or int(builtins.min(6, builtins.max(1, needed))))
    widget.value = value
    return show_zero_as(widget, zero)


def _decimals_of(value: float) -> int:
    """The decimals that write ``value`` exactly, up to six (0.0042 -> 4)."""
    return next((d for d in range(7) if abs(round(value, d) - value) <= 1e-9 * builtins.max(1.0, abs(value))), 6)


def show_zero_as(widget: Widget, text: str) -> Widget:
    """Say what 0 means ("off", "auto") in a spin box whose minimum is 0: in place of the 0 where Qt can
    (QDoubleSpinBox), else in the label (magicgui's integer box, superqt's, has no special-value text)."""
    if not text:
        return widget
    box = widget.native
    if isinstance(box, QDoubleSpinBox):
        box.setSpecialValueText(text)
        value, blocked = box.value(), box.blockSignals(True)
        box.setValue(box.maximum())  # Qt redraws the text only when the value changes
        box.setValue(value)
        box.blockSignals(blocked)
    else:
        widget.label = f"{widget.label} (0 = {text})"
    return widget


def params_container(params: tuple[Param, ...], values: Any) -> tuple[Container, Container]:
    """Two containers: the basic parameters and the advanced ones (the latter shown folded). ``values``: the
    saved ones (anything but a dict counts as none saved)."""
    values = values if isinstance(values, dict) else {}
    basic = Container(widgets=[param_widget(p, values.get(p.name)) for p in params if not p.advanced])
    advanced = Container(widgets=[param_widget(p, values.get(p.name)) for p in params if p.advanced])
    return basic, advanced


class ParamPanel:
    """The fields of one spec's parameters: ``basic`` ones in the form, ``advanced`` ones in a folded section.

    A dock keeps one panel and calls :meth:`show` whenever the user picks another method or blur kind. With
    ``folded=True`` the panel brings its own collapsible "Advanced" section (:attr:`box`, placed under the basic
    fields by :meth:`place`); otherwise the dock puts :attr:`advanced` into an Advanced section of its own.
    """

    def __init__(self, folded: bool = True) -> None:
        self.basic, self.advanced = Container(), Container()
        self.box: QCollapsible | None = None
        if folded:
            self.box = QCollapsible("Advanced")
            self.box.addWidget(self.advanced.native)

    def place(self, form: Any) -> None:
        """Put the folded section right under the basic fields of ``form`` (which already holds :attr:`basic`)."""
        if self.box is not None:
            form.form_layout.insertWidget(form.index(self.basic) + 1, self.box)  # form: a DockForm

    def show(self, params: tuple[Param, ...], saved: Any, on_change: Any = None) -> None:
        """Fields for ``params`` showing the ``saved`` values; ``on_change`` is called whenever one changes."""
        basic, advanced = params_container(params, saved)
        self.basic.clear()
        self.basic.extend(list(basic))
        self.advanced.clear()
        self.advanced.extend(list(advanced))
        if self.box is not None:
            self.box.setVisible(len(self.advanced) > 0)
        if on_change is not None:
            for widget in self.widgets():
                widget.changed.connect(on_change)

    def widgets(self) -> list[Widget]:
        return [*self.basic, *self.advanced]

    def values(self) -> dict[str, Any]:
        """Every field's value by parameter name."""
        return {w.name: w.value for w in self.widgets()}
