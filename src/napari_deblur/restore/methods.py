"""One registry of deblurring methods.

Each method is described once, as data (:class:`MethodSpec` with its :class:`~napari_deblur.params.Param`
list). The deblur widget's fields, the CLI flags and the API keyword checks are all generated from these specs, so
a registered method appears everywhere at once. The built-in methods register themselves when the package is
imported: the classical ones in ``restore/classical.py``, each network family in its ``zoo`` architecture file.
Who shows the list (the Deblur dock) hears of changes through :func:`on_methods_changed`.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import torch

from napari_deblur.params import Param, ParamSpec


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
    #: The zoo family whose model files the ``weights`` parameter names ("" without one): the dock offers them.
    weights_family: str = ""

    def why_unavailable(self, params: Mapping[str, Any] | None = None) -> str | None:
        """``None`` when the method can run with ``params`` (defaults if omitted), else the reason."""
        if self.unavailable is None:
            return None
        return self.unavailable(self.resolve_params(params or {}))


_REGISTRY: dict[str, MethodSpec] = {}


#: Who hears that the methods changed (one registered or removed, a model file saved): the Deblur docks.
_LISTENERS: list[weakref.WeakMethod | Callable[[], None]] = []


def register(spec: MethodSpec) -> MethodSpec:
    """Add ``spec`` to the registry (re-registering a name replaces it, which keeps reloads simple)."""
    for p in spec.params:
        p.validate(p.default)
    _REGISTRY[spec.name] = spec
    methods_changed()
    return spec


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)
    methods_changed()


def on_methods_changed(listener: Callable[[], None]) -> None:
    """Call ``listener()`` whenever the methods change. A bound method is held weakly: a closed dock is let go."""
    _LISTENERS.append(weakref.WeakMethod(listener) if inspect.ismethod(listener) else listener)


def methods_changed() -> None:
    """Tell the listeners that the methods changed: a registration, or a model file saved or removed (the
    providers list those on every lookup, so a listener re-reading the list sees them)."""
    for entry in list(_LISTENERS):
        listener = entry() if isinstance(entry, weakref.WeakMethod) else entry
        if listener is None:
            _LISTENERS.remove(entry)
            continue
        try:
            listener()
        except RuntimeError:  # its Qt widget was deleted (a closed dock): let it go
            _LISTENERS.remove(entry)


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
    methods = dict(_REGISTRY)
    for provider in _PROVIDERS:
        for spec in provider():
            methods.setdefault(spec.name, spec)  # a built-in name always wins
    return methods


def get_method(name: str) -> MethodSpec:
    """Return the spec for ``name`` or raise ``ValueError`` listing the valid names."""
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
