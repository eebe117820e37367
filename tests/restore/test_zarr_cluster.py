"""Zarr streaming through the CLI, OME-Zarr input, cancelled writes, and a dask.distributed cluster."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import tifffile
import torch
import zarr

import napari_deblur as nd
from napari_deblur.cli import main as cli_main
from napari_deblur.restore import lazy
from napari_deblur.zarr_io import read_zarr, write_zarr


@pytest.fixture
def stack() -> np.ndarray:
    from skimage import data

    blurred, _ = nd.synthesize_blur(data.camera()[:256, :320], "gaussian", seed=0, noise=0.01)
    return np.stack([blurred, blurred[::-1], blurred[:, ::-1]]).astype(np.uint16) * 100


def test_chunked_zarr_round_trip_via_the_cli(tmp_path, stack):
    source = tmp_path / "in.zarr"
    da.from_array(stack, chunks=(1, 128, 160)).to_zarr(str(source))
    psf = tmp_path / "psf.tif"
    tifffile.imwrite(psf, np.ones((3, 3), np.float32))
    out = tmp_path / "out.zarr"
    assert cli_main(["deblur", str(source), str(out), "--method", "wiener", "--psf", str(psf), "--axes", "TYX",
                     "--balance", "0.01"]) == 0
    result = zarr.open_array(str(out / "0"), mode="r")  # an OME-Zarr image: its axes are known
    assert result.shape == stack.shape and result.dtype == np.uint16 and result.chunks == (1, 128, 160)
    assert read_zarr(out)[1] == "TYX"
    expected = nd.deblur(da.from_array(stack, chunks=(1, 128, 160)), "wiener", psf=np.ones((3, 3)), axes="TYX",
                         balance=0.01).compute()
    np.testing.assert_array_equal(result[:], expected)
    assert not list(tmp_path.glob(".out.zarr*"))  # no temporary store left behind


def test_ome_zarr_uses_the_full_resolution_level_and_its_axes(tmp_path, stack):
    root = tmp_path / "image.ome.zarr"
    group = zarr.open_group(str(root), mode="w")
    da.from_array(stack, chunks=(1, 128, 160)).to_zarr(str(root / "0"))
    da.from_array(stack[:, ::2, ::2], chunks=(1, 64, 80)).to_zarr(str(root / "1"))
    axes = [{"name": "t", "type": "time"}, {"name": "y", "type": "space"}, {"name": "x", "type": "space"}]
    group.attrs["multiscales"] = [{"version": "0.4", "axes": axes, "datasets": [{"path": "0"}, {"path": "1"}]}]
    array, found_axes = read_zarr(root)
    assert array.shape == stack.shape and found_axes == "TYX"
    np.testing.assert_array_equal(array.compute(), stack)


def test_cancelled_write_leaves_no_partial_output(tmp_path, stack, monkeypatch):
    real = lazy._deblur_block
    calls = []

    def failing(block, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt  # the user pressed Ctrl+C while chunks were being written
        return real(block, **kwargs)

    monkeypatch.setattr(lazy, "_deblur_block", failing)
    result = nd.deblur(da.from_array(stack, chunks=(1, 256, 320)), "wiener", psf=np.ones((3, 3)), axes="TYX")
    out = tmp_path / "out.zarr"
    with pytest.raises(KeyboardInterrupt):
        write_zarr(result, out)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def _builds() -> int:
    from napari_deblur.restore import lazy as worker_lazy

    return worker_lazy.BUILD_COUNT[0]


def test_local_cluster_with_two_workers_builds_the_method_once_per_worker(stack):
    distributed = pytest.importorskip("distributed")
    psf = np.ones((5, 5)) / 25
    lazy_in = da.from_array(stack, chunks=(1, 128, 160))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the worker processes: FFTs then sum in the same order
    try:
        expected = nd.deblur(lazy_in, "richardson_lucy", psf=psf, axes="TYX", iterations=3).compute(scheduler="sync")
    finally:
        torch.set_num_threads(threads)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as client:
        result = nd.deblur(lazy_in, "richardson_lucy", psf=psf, axes="TYX", iterations=3)
        computed = client.compute(result).result()
        builds = client.run(_builds)
    # Worker processes run one torch thread: float sums in another order may round one unit apart.
    assert np.abs(computed.astype(int) - expected).max() <= 1
    # Three planes over two worker processes: each built the method at most once and reused it.
    assert len(builds) == 2 and all(n <= 1 for n in builds.values()) and sum(builds.values()) >= 1


def test_missing_chunks_are_refused_unless_allowed(tmp_path):
    """A chunk never written reads as the fill value: deblurring it as data would be silently wrong."""
    import warnings

    path = tmp_path / "partial.zarr"
    stored = zarr.open_array(str(path), mode="w", shape=(64, 64), chunks=(32, 32), dtype="uint16", fill_value=0)
    stored[:32, :] = 500  # the lower half never arrived
    with pytest.raises(ValueError, match="2 of 4 chunks are missing"):
        read_zarr(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        array, _ = read_zarr(path, fill_missing=True)
    assert array.shape == (64, 64) and any("missing" in str(w.message) for w in caught)
    psf = tmp_path / "psf.tif"
    tifffile.imwrite(psf, np.ones((3, 3), np.float32))
    assert cli_main(["deblur", str(path), str(tmp_path / "out.zarr"), "--method", "wiener", "--psf", str(psf)]) == 2


def test_a_damaged_chunk_is_a_one_line_error(tmp_path, capsys):
    path = tmp_path / "damaged.zarr"
    stored = zarr.open_array(str(path), mode="w", shape=(64, 64), chunks=(32, 32), dtype="uint16")
    stored[:] = 7
    chunk = next(p for p in path.rglob("*") if p.is_file() and p.name not in ("zarr.json", ".zarray", ".zattrs"))
    chunk.write_bytes(b"garbage")
    psf = tmp_path / "psf.tif"
    tifffile.imwrite(psf, np.ones((3, 3), np.float32))
    assert cli_main(["deblur", str(path), str(tmp_path / "out.zarr"), "--method", "wiener", "--psf", str(psf)]) == 2
    err = capsys.readouterr().err
    assert "chunk of the store is damaged" in err and "Traceback" not in err
    assert not (tmp_path / "out.zarr").exists()
