"""A PSF measured from simulated beads gives back the PSF that made them, and leaves out the beads it should."""

from __future__ import annotations

import numpy as np
import pytest

from napari_deblur.psfs import psf_from_beads
from napari_deblur.synth.psf import measure_fwhm, widefield_psf
from tests.helpers import ncc, render_beads


@pytest.fixture(scope="module")
def scene():
    """A 2D widefield PSF, 16 isolated beads, one saturated bead, two touching beads, one at the border."""
    rng = np.random.default_rng(3)
    truth = widefield_psf(na=1.2, wavelength=0.6, pixel_size=0.1, ndim=2)
    truth = truth / truth.sum()
    grid = [(40 + 55 * i + rng.random(), 40 + 55 * j + rng.random()) for i in range(4) for j in range(4)]
    beads = [(np.array(p), rng.uniform(6e3, 1.5e4)) for p in grid]
    beads.append((np.array([260.3, 60.6]), 4e5))  # saturates the 12-bit camera below
    beads += [(np.array([262.2, 160.4]), 1e4), (np.array([265.7, 164.1]), 1e4)]  # touching
    beads.append((np.array([10.4, 150.2]), 1e4))  # its box (and margin) would leave the image
    image = np.minimum(render_beads((300, 280), truth, beads, rng), 4095).astype(np.uint16)
    return image, truth


def test_beads_give_back_the_psf_that_made_them(scene):
    image, truth = scene
    result = psf_from_beads(image, size=truth.shape[0])
    assert result.psf.shape == truth.shape and result.psf.dtype == np.float32
    assert abs(result.psf.sum() - 1) < 1e-5 and result.psf.min() >= 0
    assert ncc(result.psf, truth) >= 0.98
    measured, expected = measure_fwhm(result.psf, 0.1)[0], measure_fwhm(truth, 0.1)[0]
    assert abs(measured / expected - 1) <= 0.05, (measured, expected)
    assert len(result.used) == 16 and result.agreement > 0.9
    print(result.summary())


def test_saturated_touching_and_border_beads_are_left_out(scene):
    image, truth = scene
    result = psf_from_beads(image, size=truth.shape[0])
    assert len(result.rejected["saturated"]) == 1 and np.allclose(result.rejected["saturated"][0], [260, 61], atol=2)
    assert len(result.rejected["neighbour"]) == 2
    assert len(result.rejected["border"]) == 1
    used = result.used
    assert not np.any(np.all(np.abs(used - [262, 160]) < 8, axis=1))  # neither touching bead was averaged


def test_default_size_points_and_bad_input(scene):
    image, truth = scene
    auto = psf_from_beads(image)
    assert all(s % 2 == 1 for s in auto.psf.shape) and auto.psf.shape[0] >= 9
    one = psf_from_beads(image, points=[[95.5, 95.5]], size=truth.shape[0])  # a bead the user marked
    assert len(one.used) == 1 and ncc(one.psf, truth) > 0.9
    with pytest.raises(ValueError, match="none is usable"):
        psf_from_beads(image, points=[[2, 2]], size=15)
    with pytest.raises(ValueError, match="No beads found"):
        psf_from_beads(np.full((64, 64), 100.0))
    with pytest.raises(ValueError, match="odd"):
        psf_from_beads(image, size=14)


def test_a_3d_bead_stack():
    rng = np.random.default_rng(1)
    truth = widefield_psf(na=1.2, wavelength=0.6, pixel_size=0.1, z_step=0.2, nz=15, nxy=17)
    truth = truth / truth.sum()
    beads = [(np.array([20 + rng.random(), 30 + 40 * i + rng.random(), 30 + 40 * j + rng.random()]), 3e5)
             for i in range(3) for j in range(3)]
    image = render_beads((40, 130, 130), truth, beads, rng)
    result = psf_from_beads(image, size=truth.shape)
    assert result.psf.shape == truth.shape and len(result.used) == 9
    assert ncc(result.psf, truth) >= 0.98


def test_command_line_writes_the_psf(scene, tmp_path, capsys):
    import tifffile

    from napari_deblur.cli import main

    image, truth = scene
    tifffile.imwrite(tmp_path / "beads.tif", image)
    assert main(["psf", "beads", str(tmp_path / "beads.tif"), str(tmp_path / "psf.tif"), "--size", "19"]) == 0
    psf = tifffile.imread(tmp_path / "psf.tif")
    assert psf.shape == truth.shape and abs(psf.sum() - 1) < 1e-4 and ncc(psf, truth) >= 0.98
    assert "16 beads averaged" in capsys.readouterr().out
    tifffile.imwrite(tmp_path / "flat.tif", np.full((64, 64), 100, np.uint16))
    assert main(["psf", "beads", str(tmp_path / "flat.tif"), str(tmp_path / "none.tif")]) == 2
    assert "No beads found" in capsys.readouterr().err and not (tmp_path / "none.tif").exists()


def test_the_default_box_shrinks_until_beads_are_usable_and_the_refusal_says_what_to_change():
    """A thin stack with beads off its middle plane: five FWHM of a widefield PSF along z leave every bead at the
    border; a smaller box keeps them (issue 30: 12 beads, none usable, until --size 13 9 9)."""
    rng = np.random.default_rng(5)
    truth = widefield_psf(na=1.2, wavelength=0.6, pixel_size=0.1, z_step=0.2, nz=15, nxy=17)
    truth = truth / truth.sum()
    beads = [(np.array([(9, 22)[k % 2] + 0.3, 20 + 29 * (k // 4) + rng.random(), 18 + 30 * (k % 4) + rng.random()]),
              3e5) for k in range(12)]
    image = render_beads((32, 128, 128), truth, beads, rng)
    result = psf_from_beads(image)
    assert len(result.used) >= 3 and result.psf.shape[0] < 25  # a box of five FWHM along z would be 25
    near_faces = [(np.array([7.3, 30 + 30 * k, 64.2]), 3e5) for k in range(3)]  # too near z = 0 for any box
    refusal = r"none is usable with a \S+ box: \d+ border\. .*smaller size= \(its sides, e\.g\. \d+ \d+ \d+\)"
    with pytest.raises(ValueError, match=refusal):
        psf_from_beads(render_beads((32, 128, 128), truth, near_faces, rng))
