"""Atomic file writes: a temporary file beside the target, renamed over it only when it is complete.

A reader (napari, a colleague's script, the next session) never sees half a file, and a failed write leaves the
old file in place. ``tempfile.mkstemp`` creates its file readable by the owner only; the finished file gets the
permissions a plain ``open(path, "w")`` would give (0666 less the umask), so results on a shared server are
readable by the group as users expect.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _default_mode() -> int:
    mask = os.umask(0)  # the only way to read the umask is to set it; restored at once
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix) to write; on success it replaces ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, _default_mode())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
