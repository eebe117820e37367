"""The one colour rule (napari_deblur/colour.py) and the doors that ask it."""

from __future__ import annotations

import numpy as np

from napari_deblur.colour import is_colour
from napari_deblur.psfs.named import plane_for_estimate


def test_colour_is_said_by_rgb_then_axes_then_naparis_rule():
    assert is_colour((64, 64, 3)) and is_colour((64, 64, 4))
    assert not is_colour((64, 64)) and not is_colour((64, 64, 5)) and not is_colour((2, 64, 64, 3))
    assert not is_colour((64, 64, 3), rgb=False) and is_colour((64, 64, 2), rgb=True)
    assert is_colour((5, 64, 64, 3), axes="ZYXC") and not is_colour((64, 64, 3), axes="ZYX")
    assert not is_colour((3, 64, 64), axes="CYX")  # channels first are channels, not colour


def test_a_colour_image_with_its_axes_named_is_one_plane_for_the_kernel_estimate():
    rgb = np.zeros((64, 64, 3), np.float32)
    for axes in (None, "YXC"):
        assert plane_for_estimate(rgb, axes, None).shape == (64, 64, 3)
