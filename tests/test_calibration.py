"""Calibration kept: read from ImageJ / OME-TIFF and OME-Zarr, used for optics PSFs, written to every output."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from scipy import signal

import napari_deblur as nd
from napari_deblur.calibration import Calibration
from napari_deblur.cli import main
from napari_deblur.io import read_calibration, read_image
from napari_deblur.synth.scenes import random_scene
from napari_deblur.zarr_io import read_zarr

SAMPLING = Calibration({"Z": 0.3, "Y": 0.1, "X": 0.1})


@pytest.fixture(scope="module")
def stack() -> np.ndarray:
    """A widefield-blurred uint16 bead-and-cell scene, 16 planes of 96x96."""
    sharp = random_scene((16, 96, 96), "fluorescence", seed=3)
    psf = nd.optics_psf("widefield", image_shape=sharp.shape, ndim=3, na=1.2, pixel_size=0.1, z_step=0.3)
    return (np.clip(signal.fftconvolve(sharp, psf, mode="same"), 0, None) * 2000 + 100).astype(np.uint16)


def _imagej(path, data) -> None:
    tifffile.imwrite(path, data, imagej=True, resolution=(10, 10), metadata={"spacing": 0.3, "unit": "micron",
                                                                              "axes": "ZYX"})


def test_imagej_calibration_survives_deblur_and_blur(tmp_path, stack, capsys):
    source = tmp_path / "stack.tif"
    _imagej(source, stack)
    assert read_calibration(source) == SAMPLING
    out = tmp_path / "deblurred.tif"
    assert main(["deblur", str(source), str(out), "--psf", "widefield", "--na", "1.2", "--iterations", "5"]) == 0
    printed = capsys.readouterr().out
    assert "pixel_size 0.1 (from the file)" in printed and "z_step 0.3 (from the file)" in printed
    assert "na 1.2," in printed and "wavelength 0.52 (default)" in printed
    data, axes = read_image(out)
    assert axes == "ZYX" and data.dtype == np.uint16 and read_calibration(out) == SAMPLING
    with tifffile.TiffFile(out) as tif:  # Fiji opens it calibrated: an ImageJ hyperstack
        assert tif.is_imagej and tif.imagej_metadata["spacing"] == pytest.approx(0.3)
    # The file's sampling is what the PSF was made at: the same result as with the flags given.
    explicit = nd.deblur(stack, psf="widefield", axes="ZYX", na=1.2, pixel_size=0.1, z_step=0.3, iterations=5)
    np.testing.assert_array_equal(data, explicit)
    blurred = tmp_path / "blurred.tif"
    assert main(["blur", str(out), str(blurred), "--kind", "gaussian", "--seed", "1"]) == 0
    assert read_image(blurred)[1] == "ZYX" and read_calibration(blurred) == SAMPLING


def test_ome_zarr_calibration_survives_deblur_and_blur(tmp_path, stack):
    source = tmp_path / "stack.tif"
    _imagej(source, stack)
    as_zarr = tmp_path / "stack.ome.zarr"
    assert main(["blur", str(source), str(as_zarr), "--kind", "gaussian", "--seed", "2"]) == 0
    array, axes = read_zarr(as_zarr)
    assert axes == "ZYX" and array.shape == stack.shape and read_calibration(as_zarr) == SAMPLING
    out = tmp_path / "deblurred.ome.zarr"
    assert main(["deblur", str(as_zarr), str(out), "--psf", "widefield", "--iterations", "3"]) == 0
    result, axes = read_zarr(out)
    assert axes == "ZYX" and result.dtype == np.uint16 and read_calibration(out) == SAMPLING
    back = tmp_path / "back.tif"
    assert main(["deblur", str(out), str(back), "--method", "wiener", "--psf", "widefield"]) == 0
    assert read_calibration(back) == SAMPLING


def test_an_optics_psf_without_calibration_is_refused_with_what_to_pass(tmp_path, stack, capsys):
    plain = tmp_path / "plain.tif"
    tifffile.imwrite(plain, stack)  # no ImageJ or OME metadata
    assert read_calibration(plain) is None
    assert main(["deblur", str(plain), str(tmp_path / "o.tif"), "--psf", "widefield", "--axes", "ZYX"]) == 2
    error = capsys.readouterr().err
    assert "carries no calibration" in error and "--pixel-size and --z-step" in error
    with pytest.raises(ValueError, match="pass pixel_size= \\(µm"):
        nd.deblur(stack[0], psf="confocal")
    with pytest.raises(ValueError, match="pass z_step="):
        nd.deblur(stack, psf="widefield", axes="ZYX", pixel_size=0.1)
    assert not (tmp_path / "o.tif").exists()


def test_ome_tiff_channels_give_a_psf_per_wavelength(tmp_path):
    sharp = np.stack([random_scene((48, 48), "fluorescence", seed=s) for s in (1, 2)])
    psfs = [nd.optics_psf("widefield", image_shape=(48, 48), ndim=2, na=1.2, wavelength=w, pixel_size=0.08)
            for w in (0.46, 0.61)]
    raw = np.stack([signal.fftconvolve(s, p, mode="same") for s, p in zip(sharp, psfs)]).astype(np.float32)
    source = tmp_path / "two.ome.tif"
    tifffile.imwrite(source, raw, ome=True, metadata={
        "axes": "CYX", "PhysicalSizeX": 80, "PhysicalSizeXUnit": "nm", "PhysicalSizeY": 0.08,
        "Channel": {"Name": ["DAPI", "mCherry"], "EmissionWavelength": [460, 610]}})
    assert read_calibration(source) == Calibration({"Y": 0.08, "X": 0.08}, (0.46, 0.61))
    out = tmp_path / "out.tif"
    assert main(["deblur", str(source), str(out), "--psf", "widefield", "--na", "1.2", "--iterations", "10"]) == 0
    by_channel = nd.deblur(raw, "richardson_lucy", psf=psfs, axes="CYX", iterations=10)
    np.testing.assert_array_equal(read_image(out)[0], by_channel)
    assert read_calibration(out) == read_calibration(source)  # kept as OME: ImageJ has no place for wavelengths


def test_png_and_uncalibrated_outputs_carry_no_calibration(tmp_path):
    image = (random_scene((32, 32), "fluorescence", seed=0) * 255).astype(np.uint8)
    tifffile.imwrite(tmp_path / "in.tif", image)
    assert main(["blur", str(tmp_path / "in.tif"), str(tmp_path / "out.png"), "--kind", "gaussian"]) == 0
    assert read_calibration(tmp_path / "out.png") is None
    assert main(["blur", str(tmp_path / "in.tif"), str(tmp_path / "out.tif"), "--kind", "gaussian"]) == 0
    assert read_calibration(tmp_path / "out.tif") is None and read_image(tmp_path / "out.tif")[1] == "YX"


def test_a_stack_without_axes_blurred_by_a_microscope_is_written_as_zyx(tmp_path, stack):
    tifffile.imwrite(tmp_path / "plain.tif", stack)  # tifffile reads its axes back as QYX: unknown
    assert read_image(tmp_path / "plain.tif")[1] is None
    out = tmp_path / "blurred.tif"
    assert main(["blur", str(tmp_path / "plain.tif"), str(out), "--kind", "widefield", "--pixel-size", "0.1",
                 "--z-step", "0.3"]) == 0
    assert read_image(out)[1] == "ZYX"  # blurred as a volume, so written as one
