"""Tunable parameters described as data: a :class:`Param` per setting, a :class:`ParamSpec` per thing that has them.

The ground floor of the package (it imports nothing of ours): deblurring methods, blur kinds and the training
configuration all describe their settings this way, and the widget fields, the CLI flags and the API's keyword
checks are generated from the descriptions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

ParamType = type[float] | type[int] | type[bool] | type[str]


@dataclass(frozen=True)
class Param:
    """One tunable parameter of a method.

    Attributes
    ----------
    name : str
        Keyword name, used as-is in the API and as ``--name-with-dashes`` in the CLI.
    type : type
        ``float``, ``int``, ``bool`` or ``str``.
    default : Any
        Default value; must pass :meth:`validate`.
    min, max : float, optional
        Inclusive numeric range.
    choices : tuple of str, optional
        Allowed values for a ``str`` parameter.
    help : str
        One sentence for tooltips and ``--help``.
    advanced : bool
        Folded away in the widget's "Advanced" section.
    zero : str
        What the value 0 means where it is special ("off", "auto"): the widget shows this word instead of 0.
    """

    name: str
    type: ParamType
    default: Any
    help: str
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    advanced: bool = False
    zero: str = ""

    def validate(self, value: Any) -> Any:
        """Return ``value`` converted to this parameter's type, or raise ``ValueError`` naming the range."""
        if self.type is bool:
            if isinstance(value, str):
                value = value.strip().lower() in {"1", "true", "yes", "on"}
            return bool(value)
        try:
            converted = self.type(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"Parameter {self.name!r} must be of type {self.type.__name__}, got {value!r}."
            ) from None
        if self.type is float and not math.isfinite(converted):
            raise ValueError(f"Parameter {self.name!r} must be a finite number, got {value!r}.")
        if self.type is int and isinstance(value, float) and not float(value).is_integer():
            raise ValueError(f"Parameter {self.name!r} must be a whole number, got {value!r}.")
        if self.choices is not None and converted not in self.choices:
            raise ValueError(
                f"Parameter {self.name!r} must be one of {', '.join(self.choices)}; got {value!r}."
            )
        if self.min is not None and converted < self.min:
            raise ValueError(f"Parameter {self.name!r} must be >= {self.min}, got {value!r}.")
        if self.max is not None and converted > self.max:
            raise ValueError(f"Parameter {self.name!r} must be <= {self.max}, got {value!r}.")
        return converted


class ParamSpec:
    """What a spec with a ``params`` tuple can do with them (shared by methods and blur kinds)."""

    name: str
    params: tuple[Param, ...]
    #: How the spec is named in error messages ("Method 'wiener' got unknown parameter ...").
    label: ClassVar[str] = "Method"

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def resolve_params(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Fill defaults and validate; unknown names raise a ``TypeError`` listing the valid ones."""
        known = {p.name for p in self.params}
        unknown = sorted(set(given) - known)
        if unknown:
            valid = ", ".join(sorted(known)) or "none"
            raise TypeError(
                f"{self.label} {self.name!r} got unknown parameter(s) {', '.join(unknown)}; "
                f"its parameters are: {valid}."
            )
        return {p.name: p.validate(given.get(p.name, p.default)) for p in self.params}
