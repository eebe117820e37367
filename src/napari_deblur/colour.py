"""The one colour rule: which images carry colour (RGB or RGBA) on their last axis.

As napari reads images: a trailing axis of 3 or 4 is colour, unless the caller says otherwise (``rgb``) or names
the axes. Every module that must tell colour from channels or a third spatial axis asks here.
"""

from __future__ import annotations

from collections.abc import Sequence

#: Sizes of a trailing axis that hold colour: RGB and RGBA.
COLOUR_CHANNELS = (3, 4)


def is_colour(shape: Sequence[int], rgb: bool | None = None, axes: str | None = None) -> bool:
    """Whether an image of ``shape`` carries colour on its last axis.

    ``rgb`` decides when given; otherwise ``axes`` when given (ending in C, of 3 or 4 entries); otherwise napari's
    rule for an image without axes: three dimensions, the last of 3 or 4.
    """
    if rgb is not None:
        return bool(rgb)
    if axes:
        return axes.upper().endswith("C") and len(shape) > 0 and shape[-1] in COLOUR_CHANNELS
    return len(shape) == 3 and shape[-1] in COLOUR_CHANNELS
