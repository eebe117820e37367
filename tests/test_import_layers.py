"""The package's layering, checked from the source: module-level imports form no circle, and the core never
imports napari (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import napari_deblur

PACKAGE = Path(napari_deblur.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Modules of ours that ``path`` imports: at the top, inside functions, or for type checking only (a circle
    that only a type checker follows is still two modules that cannot be read apart)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("napari_deblur"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)  # "from pkg import module"
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("napari_deblur"))
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in _imports(path) if m in modules and m != name}
            for name, path in modules.items()}


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def test_no_import_circles() -> None:
    graph = _graph()
    # Importing a module first imports its packages' __init__ files, which import their public modules: that is
    # how Python works, not a circle of ours, so edges into a package's own ancestors are left out.
    graph = {name: {m for m in deps if m not in _parents(name)} for name, deps in graph.items()}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for dep in sorted(graph[name]):
            assert state.get(dep) != 1, "import circle: " + " -> ".join(path[path.index(dep):] + [dep])
            if dep not in state:
                visit(dep)
        path.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


def test_core_is_napari_free() -> None:
    for path in PACKAGE.rglob("*.py"):
        if path.relative_to(PACKAGE).parts[0] in ("widgets", "samples.py", "demo.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n == "napari" or n.startswith("napari.") for n in names), f"{path} imports napari: {names}"


#: docs/architecture.md's layers, bottom first: a module imports only from its own layer and the ones below.
LAYERS = (
    ("params", "hardware", "colour", "calibration", "_atomic", "tiff_meta", "io", "zarr_io"),
    ("restore", "synth", "psfs"),
    ("zoo",),
    ("training", "bioimageio"),
    ("__init__", "cli", "widgets", "demo", "samples", "_manifest"),
)


def _layer(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    for index, members in enumerate(LAYERS):
        if top in members:
            return index
    raise AssertionError(f"{module} is in no layer of docs/architecture.md")


def test_the_documented_layer_order() -> None:
    upward = sorted(f"{name} ({_layer(name)}) imports {dep} ({_layer(dep)})"
                    for name, deps in _graph().items() for dep in deps if _layer(dep) > _layer(name))
    assert not upward, "\n".join(upward)
