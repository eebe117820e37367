"""One registry of deblurring methods.

Each method is described once, as data (:class:`MethodSpec` with its :class:`Param` list). The deblur
widget's fields, the CLI flags and the API keyword checks are all generated from these specs, so a method
registered here (a classical algorithm now, zoo networks later) appears everywhere at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

import torch

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


class Restorer(Protocol):
    """What a method's ``build`` returns: a callable on batches of normalized tiles.

    ``__call__`` takes ``(N, C, *spatial)`` float32 tensors in roughly [0, 1] on the restorer's device and
    returns a tensor of the same shape. ``spatial_ndim`` is 2 (YX) or 3 (ZYX); ``receptive_field`` is the
    half-width in pixels that an output pixel depends on (used as the default tile overlap).
    """

    spatial_ndim: int
    receptive_field: int

    def __call__(self, batch: torch.Tensor) -> torch.Tensor: ...


BuildFn = Callable[..., Restorer]


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


@dataclass(frozen=True)
class MethodSpec(ParamSpec):
    """Everything the widget, CLI and API need to know about one method.

    ``build(psf=..., device=..., **params)`` returns a :class:`Restorer`. ``default_tile_size`` of
    ``None`` means "whole plane/volume unless it is too large" (classical FFT methods). ``unavailable``,
    given resolved parameters, says why the method cannot run with them (e.g. a network with no trained
    weights yet), or returns ``None``; the widget greys out Run with that reason. ``tile_alignment``: tile
    origins are multiples of it (a network's total downsampling), so tiles see the whole image's pixel grid.
    """

    name: str
    kind: Literal["classical", "network"]
    description: str
    build: BuildFn = field(repr=False, compare=False)
    params: tuple[Param, ...] = ()
    needs_psf: bool = False
    size_multiple: int = 1
    default_tile_size: int | None = None
    tile_alignment: int = 1
    unavailable: Callable[[Mapping[str, Any]], str | None] | None = field(default=None, repr=False, compare=False)

    def why_unavailable(self, params: Mapping[str, Any] | None = None) -> str | None:
        """``None`` when the method can run with ``params`` (defaults if omitted), else the reason."""
        if self.unavailable is None:
            return None
        return self.unavailable(self.resolve_params(params or {}))


_REGISTRY: dict[str, MethodSpec] = {}


def register(spec: MethodSpec) -> MethodSpec:
    """Add ``spec`` to the registry (re-registering a name replaces it, which keeps reloads simple)."""
    for p in spec.params:
        p.validate(p.default)
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


BUILTIN_MODULES = (
    "napari_deblur.restore.classical",
    "napari_deblur.zoo.srn",
    "napari_deblur.zoo.msdf_unet",
    "napari_deblur.zoo.swin_unet",
    "napari_deblur.zoo.deblurgan",
    "napari_deblur.zoo.nafnet",
)


def _ensure_builtins() -> None:
    # Imported lazily (each module registers itself), so importing the registry alone stays cheap and acyclic.
    import importlib

    for module in BUILTIN_MODULES:
        importlib.import_module(module)


#: Functions returning methods that come and go at run time (trained models in the user model folder): asked
#: on every lookup, so a model saved by a training run is usable at once, without a restart.
_PROVIDERS: list[Callable[[], list[MethodSpec]]] = []
_RESOLVERS: list[Callable[[str], MethodSpec | None]] = []


def add_provider(provider: Callable[[], list[MethodSpec]]) -> None:
    """``provider()`` lists methods that come and go (model files): asked whenever methods are listed."""
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)


def add_resolver(resolver: Callable[[str], MethodSpec | None]) -> None:
    """``resolver(name)`` makes a method from a name no one listed (a model file's path), or returns None."""
    if resolver not in _RESOLVERS:
        _RESOLVERS.append(resolver)


def _all_methods() -> dict[str, MethodSpec]:
    _ensure_builtins()
    methods = dict(_REGISTRY)
    for provider in _PROVIDERS:
        for spec in provider():
            methods.setdefault(spec.name, spec)  # a built-in name always wins
    return methods


def get_method(name: str) -> MethodSpec:
    """Return the spec for ``name`` or raise ``ValueError`` listing the valid names."""
    _ensure_builtins()
    if name in _REGISTRY:
        return _REGISTRY[name]
    methods = _all_methods()
    if name in methods:
        return methods[name]
    for resolver in _RESOLVERS:
        spec = resolver(name)
        if spec is not None:
            return spec
    valid = ", ".join(sorted(methods))
    raise ValueError(f"Unknown method {name!r}. Valid methods: {valid} (or a model file's path).")


def list_methods() -> list[MethodSpec]:
    """All methods: classical first, then networks (built-in families, then trained models), each by name."""
    return sorted(_all_methods().values(), key=lambda s: (s.kind != "classical", s.name not in _REGISTRY, s.name))
