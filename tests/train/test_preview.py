"""The user's preview crop: sides every network accepts, normalized like training data, output per channel."""

from __future__ import annotations

import numpy as np
import tifffile
import torch

from napari_deblur.training.preview import load_preview_input, run_preview


def test_crop_is_centred_aligned_and_normalized(tmp_path):
    image = np.arange(100 * 70, dtype=np.uint16).reshape(100, 70) * 3
    tifffile.imwrite(tmp_path / "a.tif", image)
    preview = load_preview_input(tmp_path / "a.tif", side=64)
    assert preview.pixels.shape == (1, 64, 64) and preview.offset == (18, 3)
    assert 0 <= float(preview.pixels.min()) and float(preview.pixels.max()) <= 1
    # The crop keeps the order of intensities (a ramp stays a ramp).
    assert torch.all(preview.pixels[0, 1:, 0] > preview.pixels[0, :-1, 0])


def test_tiny_images_are_mirrored_out(tmp_path):
    tifffile.imwrite(tmp_path / "tiny.tif", np.random.default_rng(0).random((10, 20)).astype(np.float32))
    preview = load_preview_input(tmp_path / "tiny.tif")
    assert preview.pixels.shape == (1, 16, 16) and preview.offset == (0, 2)


class Halve(torch.nn.Module):
    """A stand-in network: output = input / 2, one parameter so the device and dtype can be read."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(0.5))
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[1] == self.channels
        return x * self.scale


def test_colour_through_a_one_channel_network_and_grey_through_a_colour_one(tmp_path):
    rgb = np.random.default_rng(0).random((3, 32, 48)).astype(np.float32)
    tifffile.imwrite(tmp_path / "rgb.tif", np.moveaxis(rgb, 0, -1), photometric="rgb")
    preview = load_preview_input(tmp_path / "rgb.tif")
    out = run_preview(Halve(1), preview, in_channels=1)
    assert out.shape == (32, 48, 3)
    np.testing.assert_allclose(out, np.moveaxis(preview.pixels.numpy(), 0, -1) / 2, rtol=1e-6)

    tifffile.imwrite(tmp_path / "grey.tif", rgb[0])
    grey = load_preview_input(tmp_path / "grey.tif")
    out = run_preview(Halve(3), grey, in_channels=3)
    assert out.shape == (32, 48)
    np.testing.assert_allclose(out, grey.pixels[0].numpy() / 2, rtol=1e-6)
