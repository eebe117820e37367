"""Turn a method's parameter specs into magicgui widgets (the one place that maps Param -> widget)."""

from __future__ import annotations

import math
from typing import Any

from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, LineEdit, SpinBox, Widget

from napari_deblur.zoo.registry import Param


def param_widget(p: Param, value: Any = None) -> Widget:
    value = p.default if value is None else value
    label = p.name.replace("_", " ")
    common = {"name": p.name, "label": label, "tooltip": p.help}
    if p.type is bool:
        return CheckBox(value=bool(value), **common)
    if p.choices:
        return ComboBox(choices=list(p.choices), value=value, **common)
    if p.type is int:
        return SpinBox(value=int(value), min=int(p.min if p.min is not None else -(2**31)),
                       max=int(p.max if p.max is not None else 2**31 - 1), **common)
    if p.type is float:
        lo = p.min if p.min is not None else -1e9
        hi = p.max if p.max is not None else 1e9
        widget = FloatSpinBox(value=float(value), min=lo, max=hi, step=_step(p), **common)
        # Small parameters (balance 0.005, tv_weight 0.002) must not be rounded by the spin box.
        widget.native.setDecimals(6)
        widget.value = float(value)
        return widget
    return LineEdit(value=str(value), **common)


def _step(p: Param) -> float:
    """A tenth of the default's order of magnitude: 0.001 for 0.01, 0.1 for 1.0."""
    magnitude = abs(float(p.default)) or 1.0
    return float(10 ** (math.floor(math.log10(magnitude)) - 1))


def params_container(params: tuple[Param, ...], values: dict[str, Any]) -> tuple[Container, Container]:
    """Two containers: the basic parameters and the advanced ones (the latter shown folded)."""
    basic = Container(widgets=[param_widget(p, values.get(p.name)) for p in params if not p.advanced])
    advanced = Container(widgets=[param_widget(p, values.get(p.name)) for p in params if p.advanced])
    return basic, advanced
