"""evaluate(): per-image and mean PSNR/SSIM on the synthetic protocol and on pair folders; its CLI."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest
from skimage import data

from napari_deblur.cli import main as cli_main
from napari_deblur.synth.kernels import camera_shake
from napari_deblur.training import evaluate
from napari_deblur.training.evaluate import blur_protocol, format_table, score


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    """Three small textured Kodak-like images: grey and colour, uint8."""
    return [data.camera()[60:188, 160:288], data.astronaut()[20:148, 160:288], data.chelsea()[100:228, 150:278]]


@pytest.fixture(scope="module")
def kernels() -> list[np.ndarray]:
    line = np.zeros((9, 9), np.float32)
    line[4, 1:8] = 1
    return [camera_shake(11, seed=2), line / line.sum()]


def test_synthetic_protocol_scores_every_image_with_every_kernel(images, kernels):
    result = evaluate("wiener", kernels=kernels, sharp=images, sigma=0.01, balance=0.01)
    assert result["protocol"] == "synthetic" and result["count"] == 6 == len(result["rows"])
    assert [(r["image"], r["kernel"]) for r in result["rows"]] == [(i, k) for i in "012" for k in "01"]
    for row in result["rows"]:
        assert set(row) == {"image", "kernel", "input_psnr", "input_ssim", "psnr", "ssim", "seconds"}
        assert row["psnr"] > row["input_psnr"]  # the true kernel, as a classical method gets it, helps
    mean = result["mean"]
    assert mean["psnr"] == pytest.approx(np.mean([r["psnr"] for r in result["rows"]]))
    assert mean["psnr"] > mean["input_psnr"] + 1 and mean["ssim"] > mean["input_ssim"]
    assert result["params"] == {"balance": 0.01}
    assert "**mean of 6**" in format_table(result)


def test_the_protocol_matches_its_definition(images, kernels):
    # Row 0 is image 0 with kernel 0, blurred with the first noise draw of seed 0.
    sharp = images[0].astype(np.float32) / 255
    blurred = blur_protocol(sharp, kernels[0] / kernels[0].sum(), 0.01, np.random.default_rng(0))
    result = evaluate("wiener", kernels=kernels[:1], sharp=images[:1], sigma=0.01, limit=1)
    assert result["rows"][0]["input_psnr"] == pytest.approx(score(sharp, blurred)[0])
    assert result["count"] == 1


def test_folders_give_the_same_numbers_as_arrays(tmp_path, images, kernels):
    (tmp_path / "sharp").mkdir()
    (tmp_path / "kernels").mkdir()
    for i, image in enumerate(images):
        iio.imwrite(tmp_path / "sharp" / f"im{i}.png", image)
    for i, k in enumerate(kernels):
        np.save(tmp_path / "kernels" / f"k{i}.npy", k)
    from_files = evaluate("wiener", kernels=tmp_path / "kernels", sharp=tmp_path / "sharp", limit=2)
    from_arrays = evaluate("wiener", kernels=kernels, sharp=images[:2])
    assert [r["image"] for r in from_files["rows"]] == ["im0", "im0", "im1", "im1"]
    assert from_files["mean"]["psnr"] == pytest.approx(from_arrays["mean"]["psnr"])


def test_pair_folder(tmp_path, images, kernels):
    rng = np.random.default_rng(1)
    for sub in ("blur", "sharp"):
        (tmp_path / "pairs" / sub).mkdir(parents=True)
    for i, image in enumerate(images[:2]):
        blurred = blur_protocol(image.astype(np.float32) / 255, kernels[1], 0.01, rng)
        iio.imwrite(tmp_path / "pairs" / "sharp" / f"p{i}.png", image)
        iio.imwrite(tmp_path / "pairs" / "blur" / f"p{i}.png", (blurred * 255).round().astype(np.uint8))
    result = evaluate("wiener", pairs=tmp_path / "pairs", psf=kernels[1], psf_centering="array")
    assert result["protocol"] == "pairs" and [r["image"] for r in result["rows"]] == ["p0", "p1"]
    assert result["mean"]["psnr"] > result["mean"]["input_psnr"]
    assert all(r["kernel"] == "" for r in result["rows"])
    # A network needs no PSF (an untrained one still runs and is scored).
    blind = evaluate("nafnet", pairs=tmp_path / "pairs", weights="random", limit=1)
    assert blind["count"] == 1 and np.isfinite(blind["mean"]["psnr"])
    assert blind["mean"]["input_psnr"] == pytest.approx(result["rows"][0]["input_psnr"])


def test_bad_arguments(tmp_path, images, kernels):
    with pytest.raises(ValueError, match="either pairs"):
        evaluate("wiener")
    with pytest.raises(ValueError, match="needs both kernels"):
        evaluate("wiener", sharp=images)
    with pytest.raises(ValueError, match="Unknown method"):
        evaluate("sharpen-o-matic", kernels=kernels, sharp=images)
    with pytest.raises(TypeError, match="unknown parameter"):
        evaluate("wiener", kernels=kernels, sharp=images, iterations=3)
    (tmp_path / "p" / "blur").mkdir(parents=True)
    (tmp_path / "p" / "sharp").mkdir()
    iio.imwrite(tmp_path / "p" / "blur" / "a.png", images[0])
    iio.imwrite(tmp_path / "p" / "sharp" / "a.png", images[0])
    with pytest.raises(ValueError, match="needs a PSF"):
        evaluate("wiener", pairs=tmp_path / "p")
    with pytest.raises(ValueError, match="No kernel files"):
        evaluate("wiener", kernels=tmp_path / "p", sharp=images)


def test_cli_evaluate(tmp_path, images, kernels, capsys):
    (tmp_path / "kernels").mkdir()
    (tmp_path / "sharp").mkdir()
    for i, k in enumerate(kernels):
        np.save(tmp_path / "kernels" / f"k{i}.npy", k)
    for i, image in enumerate(images[:2]):
        iio.imwrite(tmp_path / "sharp" / f"im{i}.png", image)
    code = cli_main(["evaluate", "--method", "wiener", "--kernels", str(tmp_path / "kernels"), "--sharp",
                     str(tmp_path / "sharp"), "--sigma", "0.01", "--balance", "0.01",
                     "--json", str(tmp_path / "r.json")])
    assert code == 0
    out = capsys.readouterr().out
    assert "| im0 | k0 |" in out and "**mean of 4**" in out
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["count"] == 4 and saved["mean"]["psnr"] > saved["mean"]["input_psnr"]
    with pytest.raises(SystemExit, match="--iterations do\\(es\\) not apply to method 'wiener'"):
        cli_main(["evaluate", "--method", "wiener", "--kernels", str(tmp_path / "kernels"), "--sharp",
                  str(tmp_path / "sharp"), "--iterations", "3"])
    code = cli_main(["evaluate", "wiener", "--kernels", str(tmp_path / "kernels" / "k0.npy"), "--sharp",
                     str(tmp_path / "sharp"), "--limit", "1"])  # the method as a positional argument, one kernel file
    assert code == 0 and "**mean of 1**" in capsys.readouterr().out
    assert cli_main(["evaluate", "--method", "wiener", "--sharp", str(tmp_path / "sharp")]) == 2
    assert "kernels" in capsys.readouterr().err
