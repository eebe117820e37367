"""Reading and writing: dtype and axes kept, atomic writes."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_deblur import io


def test_tiff_keeps_dtype_and_axes(tmp_path):
    data = np.arange(2 * 3 * 16 * 16, dtype=np.uint16).reshape(2, 3, 16, 16)
    io.write_image(tmp_path / "x.tif", data, axes="TZYX")
    back, axes = io.read_image(tmp_path / "x.tif")
    np.testing.assert_array_equal(back, data)
    assert axes == "TZYX"


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(tifffile, "imwrite", broken)
    with pytest.raises(OSError, match="disk full"):
        io.write_image(tmp_path / "out.tif", np.zeros((8, 8), np.float32))
    assert list(tmp_path.iterdir()) == []


def test_existing_file_survives_failed_overwrite(tmp_path, monkeypatch):
    target = tmp_path / "out.tif"
    io.write_image(target, np.ones((8, 8), np.float32))
    monkeypatch.setattr(tifffile, "imwrite", lambda *a, **k: (_ for _ in ()).throw(OSError("boom")))
    with pytest.raises(OSError):
        io.write_image(target, np.zeros((8, 8), np.float32))
    np.testing.assert_array_equal(tifffile.imread(target), np.ones((8, 8), np.float32))
    assert [p.name for p in tmp_path.iterdir()] == ["out.tif"]


def test_colour_psf_becomes_grey(tmp_path):
    import imageio.v3 as iio

    psf = np.zeros((9, 9, 3), np.uint8)
    psf[4, 4] = (255, 255, 255)
    iio.imwrite(tmp_path / "psf.png", psf)
    assert io.read_psf(tmp_path / "psf.png").shape == (9, 9)


def test_written_files_get_the_permissions_of_a_plain_write(tmp_path):
    """Results, configs and models are readable as the umask allows (mkstemp alone would make them 0600)."""
    import os

    from napari_deblur.training import TrainConfig
    from napari_deblur.zoo import create, save_model

    old = os.umask(0o022)
    try:
        files = [io.write_image(tmp_path / "out.tif", np.zeros((4, 4), np.uint16)),
                 io.write_image(tmp_path / "out.png", np.zeros((4, 4), np.uint8)),
                 TrainConfig().save(tmp_path / "config.json"),
                 save_model(create("nafnet", "small"), tmp_path / "m.safetensors",
                            {"family": "nafnet", "size": "small", "config": {}})]
        assert [oct(f.stat().st_mode & 0o777) for f in files] == [oct(0o644)] * 4
        os.umask(0o077)
        assert io.write_image(tmp_path / "private.tif", np.zeros((4, 4), np.uint8)).stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)
