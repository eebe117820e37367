"""What every command shares: flag names, help layout, parameter flags made from specs, output checks."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from napari_deblur.params import Param
from napari_deblur.restore.methods import get_method
from napari_deblur.zarr_io import is_zarr

RGB_HELP = "The trailing axis of size 3/4 is colour (already the default for a 3D image ending in 3 or 4)."


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each flag's default, except where argparse's default is only "not given" (None, or False for a
    switch): method and blur parameters state their own default in their help text."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False):
            return action.help or ""
        return super()._get_help_string(action)


_PY_KEYWORD = re.compile(r"\b([a-z][a-z0-9_]*)=('([^']*)'|<([^>]*)>|True\b)?")


def cli_words(message: str) -> str:
    """An error message of the Python API in the command line's words: ``axes='ZYX'`` -> ``--axes ZYX``,
    ``weights=<name>`` -> ``--weights <name>``, ``psf=<array>`` -> ``--psf FILE``, ``rgb=True`` -> ``--rgb``.
    Notes addressed to the command line ("(CLI: ...)") are dropped, as the message now speaks it."""
    message = re.sub(r"\s*\((?:CLI: |or --)[^)]*\)", "", message)

    def flag(match: re.Match) -> str:
        name, _, quoted, angled = match.groups()
        if name == "psf" and angled is not None:
            return "--psf FILE"
        value = quoted if quoted is not None else f"<{angled}>" if angled is not None else ""
        return f"{flag_name(name)} {value}".rstrip()

    return _PY_KEYWORD.sub(flag, message)


def add_param_flags(parser: argparse.ArgumentParser, specs: Sequence[tuple[str, Sequence[Param]]],
                     prefix: str) -> None:
    """One flag per distinct parameter name across ``specs`` (title, params), grouped under the first user; a
    name whose help or default differs between its users (``--iterations`` of pnp and richardson_lucy) gives each
    with its users' names."""
    helps: dict[str, dict[str, list[str]]] = {}
    defaults: dict[str, dict[Any, list[str]]] = {}
    for title, params in specs:
        for p in params:
            helps.setdefault(p.name, {}).setdefault(p.help, []).append(title.split()[0])
            shown = p.zero if p.zero and p.default == 0 else p.default  # "auto", not 0
            defaults.setdefault(p.name, {}).setdefault(shown, []).append(title.split()[0])
    seen: set[str] = set()
    for title, params in specs:
        group = parser.add_argument_group(title)
        for p in params:
            if p.name in seen:
                continue
            seen.add(p.name)
            default = (f"{next(iter(defaults[p.name]))}" if len(defaults[p.name]) == 1 else
                       ", ".join(f"{value} ({' '.join(users)})" for value, users in defaults[p.name].items()))
            described = (p.help if len(helps[p.name]) == 1 else
                         " ".join(f"{', '.join(users)}: {text}" for text, users in helps[p.name].items()))
            # argparse %-formats help strings: a literal % (as in "per 1% of the exposure") must be doubled.
            text = f"{described} Default: {default}.".replace("%", "%%")
            kwargs: dict = {"dest": f"{prefix}{p.name}", "default": None, "help": text}
            if p.type is bool:
                kwargs["action"] = argparse.BooleanOptionalAction
            else:
                kwargs["type"] = p.type
                if p.choices:
                    kwargs["choices"] = p.choices
            group.add_argument(flag_name(p.name), **kwargs)


def given_params(args: argparse.Namespace, prefix: str, params: Sequence[Param], owner: str) -> dict:
    """The flags the user set, checked against the parameters of the chosen method or kind (``owner``)."""
    names = {p.name for p in params}
    given = {k[len(prefix) :]: v for k, v in vars(args).items() if k.startswith(prefix) and v is not None}
    foreign = sorted(set(given) - names)
    if foreign:
        raise SystemExit(
            f"error: {', '.join(flag_name(f) for f in foreign)} do(es) not apply to {owner}; "
            f"its flags are: {', '.join(flag_name(n) for n in sorted(names)) or 'none'}."
        )
    return given


def check_output(output: Path, inputs: Sequence[Path], overwrite: bool) -> None:
    """Refuse, before any work, an output that would replace an input or an existing file (unless
    ``overwrite``), that is a folder, or that cannot be written."""
    target = output.expanduser().resolve()
    for given in inputs:
        if given.expanduser().resolve() == target and (not overwrite or is_zarr(output)):
            # A zarr store is read chunk by chunk while the result is written: replacing it in place is never safe.
            raise ValueError(f"The output {output} is the input: writing it would destroy the original. Choose "
                             "another output" + ("." if is_zarr(output) else " (or --overwrite if you mean it)."))
    if output.is_dir() and not is_zarr(output):
        raise ValueError(f"The output {output} is a folder, not an image file; give a file name such as "
                         f"{output / 'result.tif'}.")
    if output.exists() and not overwrite:
        raise ValueError(f"{output} exists; choose another output, or pass --overwrite to replace it.")
    folder = target.parent
    while not folder.exists():
        folder = folder.parent
    if not os.access(folder, os.W_OK):
        raise ValueError(f"Cannot write {output}: the folder {folder} is not writable.")


def yes_no(text: str) -> bool:
    """A command-line boolean: true/false, yes/no, 1/0, on/off."""
    value = text.strip().lower()
    if value in ("true", "yes", "1", "on"):
        return True
    if value in ("false", "no", "0", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def method_params(args: argparse.Namespace, method: str) -> dict:
    return given_params(args, "param_", get_method(method).params, f"method {method!r}")


def param_line(p: Param, width: int) -> str:
    """One line of ``methods``/``kinds``: the flag, type, default, range or choices, and the help."""
    rng = f" in [{p.min}, {p.max}]" if p.min is not None or p.max is not None else ""
    choices = f" one of {'/'.join(p.choices)}" if p.choices else ""
    return f"    {flag_name(p.name):<{width}} {p.type.__name__:<5} default {p.default}{rng}{choices}. {p.help}"
