"""The napari-deblur command: listing, deblurring files with generated flags, the demo, errors."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_deblur import demo
from napari_deblur.cli import main
from napari_deblur.io import read_image


def test_methods_lists_every_parameter(capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    for text in ("wiener", "richardson_lucy", "--balance", "--iterations", "--tv-weight", "needs a PSF"):
        assert text in out


def test_deblur_tiff_round_trip(tmp_path, blurred, motion_kernel):
    image = (blurred * 4000).astype(np.uint16)
    tifffile.imwrite(tmp_path / "in.tif", image)
    tifffile.imwrite(tmp_path / "psf.tif", motion_kernel)
    code = main(["deblur", str(tmp_path / "in.tif"), str(tmp_path / "out.tif"), "--method", "richardson_lucy",
                 "--psf", str(tmp_path / "psf.tif"), "--iterations", "12", "--tv-weight", "0.001"])
    assert code == 0
    out, axes = read_image(tmp_path / "out.tif")
    assert out.shape == image.shape and out.dtype == np.uint16
    import napari_deblur as nd

    expected = nd.deblur(image, "richardson_lucy", psf=motion_kernel, iterations=12, tv_weight=0.001)
    np.testing.assert_array_equal(out, expected)


def test_deblur_png_colour(tmp_path, blurred, motion_kernel):
    import imageio.v3 as iio

    rgb = (np.stack([blurred, blurred * 0.8, blurred * 0.6], -1) * 255).astype(np.uint8)
    iio.imwrite(tmp_path / "in.png", rgb)
    iio.imwrite(tmp_path / "psf.png", (motion_kernel / motion_kernel.max() * 255).astype(np.uint8))
    assert main(["deblur", str(tmp_path / "in.png"), str(tmp_path / "out.png"), "--method", "wiener",
                 "--psf", str(tmp_path / "psf.png"), "--float32"]) == 2  # float32 cannot go into a PNG
    assert not (tmp_path / "out.png").exists()
    assert main(["deblur", str(tmp_path / "in.png"), str(tmp_path / "out.png"), "--method", "wiener",
                 "--psf", str(tmp_path / "psf.png"), "--balance", "0.02"]) == 0
    assert iio.imread(tmp_path / "out.png").shape == rgb.shape


def test_flag_of_another_method_is_refused(tmp_path, blurred, motion_kernel):
    tifffile.imwrite(tmp_path / "in.tif", blurred)
    tifffile.imwrite(tmp_path / "psf.tif", motion_kernel)
    with pytest.raises(SystemExit, match="--iterations do\\(es\\) not apply to method 'wiener'"):
        main(["deblur", str(tmp_path / "in.tif"), str(tmp_path / "o.tif"), "--method", "wiener",
              "--psf", str(tmp_path / "psf.tif"), "--iterations", "3"])


def test_errors_are_one_line_messages(tmp_path, blurred, capsys):
    tifffile.imwrite(tmp_path / "in.tif", blurred)
    assert main(["deblur", str(tmp_path / "in.tif"), str(tmp_path / "o.tif"), "--method", "wiener"]) == 2
    err = capsys.readouterr().err
    assert "needs a PSF: pass --psf FILE, or --psf estimate" in err and "psf=" not in err
    assert "tile" not in err  # no progress bar before the error
    assert main(["deblur", str(tmp_path / "missing.tif"), str(tmp_path / "o.tif")]) == 2
    assert "No such image file" in capsys.readouterr().err
    assert main(["deblur", str(tmp_path / "in.tif"), str(tmp_path / "o.tif"), "--method", "bogus"]) == 2
    assert "Valid methods" in capsys.readouterr().err


def test_messages_and_help_speak_the_command_line(tmp_path, capsys, monkeypatch, no_shipped_weights):
    from napari_deblur.cli import cli_words

    monkeypatch.setenv("NAPARI_DEBLUR_MODEL_DIR", str(tmp_path))
    tifffile.imwrite(tmp_path / "in.tif", np.zeros((32, 32), np.float32))
    assert main(["deblur", str(tmp_path / "in.tif"), str(tmp_path / "o.tif"), "--method", "srn"]) == 2
    err = capsys.readouterr().err
    assert "--weights <name or .safetensors path>, or --weights random" in err and "weights=" not in err
    assert cli_words("pass axes=, e.g. axes='ZYX' for a z-stack, axes='YXC' (or rgb=True)") == (
        "pass --axes, e.g. --axes ZYX for a z-stack, --axes YXC (or --rgb)")
    with pytest.raises(SystemExit):
        main(["deblur", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "Default: 8 (pnp), auto (richardson_lucy)." in help_text  # a flag shared by methods: each one's default
    assert "(default: None)" not in help_text and "(default: False)" not in help_text


def test_demo_prints_psnr_and_writes_comparison(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--method", "wiener"]) == 0
    out = capsys.readouterr().out
    import re

    def psnr(label):
        return float(re.search(re.escape(label) + r"\s+PSNR\s+([\d.]+) dB", out).group(1))

    before = psnr("blurred input")
    assert psnr("wiener (true kernel)") > before + 2 and psnr("richardson_lucy (true kernel)") > before + 2
    assert psnr("blind default: estimated kernel + hyper_laplacian") > before + 0.4  # no kernel (+0.62 measured)
    side, _ = read_image(tmp_path / "demo_side_by_side.png")  # blurred | blind | wiener | richardson_lucy | sharp
    band = demo.TITLE_BAND  # each panel under its title: name and PSNR
    assert side.shape == (band + 512, 5 * 512) and side.dtype == np.uint8
    assert (side[:band] < 128).any() and (side[:band] == 255).mean() > 0.5  # dark text on a white band
    assert ("blurred | blind default: estimated kernel + hyper_laplacian | wiener (true kernel) | richardson_lucy "
            "(true kernel) | sharp") in out


def test_demo_gui_without_display_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert main(["demo", "--out", str(tmp_path), "--method", "wiener", "--gui"]) == 0
    assert "no display found" in capsys.readouterr().out


def test_kinds_lists_every_blur_parameter(capsys):
    assert main(["kinds"]) == 0
    out = capsys.readouterr().out
    for text in ("camera_shake", "linear_motion", "defocus", "widefield", "confocal", "--length", "--radius",
                 "--na", "--emitter-depth", "random (seeded)"):
        assert text in out


def test_blur_writes_image_and_kernel(tmp_path, sharp):
    import napari_deblur as nd

    image = (sharp * 255).astype(np.uint8)
    tifffile.imwrite(tmp_path / "sharp.tif", image)
    code = main(["blur", str(tmp_path / "sharp.tif"), str(tmp_path / "blurred.tif"), "--kind", "camera_shake",
                 "--seed", "3", "--noise", "0.01", "--size", "15", "--kernel-out", str(tmp_path / "k.tif")])
    assert code == 0
    out, _ = read_image(tmp_path / "blurred.tif")
    kernel, _ = read_image(tmp_path / "k.tif")
    expected, expected_kernel = nd.synthesize_blur(image, "camera_shake", seed=3, noise=0.01, size=15)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(kernel, expected_kernel)


def test_blur_variants_and_foreign_flags(tmp_path, sharp, capsys):
    tifffile.imwrite(tmp_path / "sharp.tif", sharp)
    code = main(["blur", str(tmp_path / "sharp.tif"), str(tmp_path / "v.tif"), "--kind", "defocus",
                 "--radius", "3", "--variants", "3", "--seed", "1", "--kernel-out", str(tmp_path / "k.tif")])
    assert code == 0
    assert read_image(tmp_path / "v.tif")[0].shape == (3, *sharp.shape)
    assert read_image(tmp_path / "k.tif")[0].shape[0] == 3
    with pytest.raises(SystemExit, match="--radius do\\(es\\) not apply to blur kind 'camera_shake'"):
        main(["blur", str(tmp_path / "sharp.tif"), str(tmp_path / "x.tif"), "--radius", "3"])
    assert main(["blur", str(tmp_path / "sharp.tif"), str(tmp_path / "x.tif"), "--kind", "nope"]) == 2
    assert "camera_shake" in capsys.readouterr().err


def test_outputs_never_replace_inputs_or_files_without_overwrite(tmp_path, blurred, motion_kernel, capsys):
    image = (blurred * 4000).astype(np.uint16)
    source, psf, out = tmp_path / "in.tif", tmp_path / "psf.tif", tmp_path / "out.tif"
    tifffile.imwrite(source, image)
    tifffile.imwrite(psf, motion_kernel)
    common = ["--method", "wiener", "--psf", str(psf)]
    assert main(["deblur", str(source), str(source), *common]) == 2
    assert "is the input" in capsys.readouterr().err
    np.testing.assert_array_equal(tifffile.imread(source), image)  # untouched
    assert main(["deblur", str(source), str(out), *common]) == 0
    first = out.stat().st_mtime_ns
    assert main(["deblur", str(source), str(out), *common]) == 2
    assert "--overwrite" in capsys.readouterr().err and out.stat().st_mtime_ns == first
    assert main(["deblur", str(source), str(out), *common, "--overwrite"]) == 0
    assert main(["deblur", str(source), str(tmp_path), *common]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert main(["blur", str(source), str(source), "--kind", "gaussian"]) == 2
    assert "is the input" in capsys.readouterr().err


def test_bad_files_are_one_line_errors_before_any_work(tmp_path, capsys):
    """Unreadable inputs, outputs a format cannot hold, unknown devices and non-model files: rc 2 and a message
    naming the file and the fix, no traceback and no progress bar."""
    import imageio.v3 as iio

    good, psf = tmp_path / "img.tif", tmp_path / "psf.tif"
    tifffile.imwrite(good, (np.random.default_rng(0).random((32, 32)) * 1000).astype(np.uint16))
    tifffile.imwrite(psf, np.ones((1, 9), np.float32))  # a horizontal motion kernel: valid
    (tmp_path / "text.png").write_text("not an image")
    iio.imwrite(tmp_path / "full.png", np.zeros((64, 64), np.uint8))
    (tmp_path / "truncated.png").write_bytes((tmp_path / "full.png").read_bytes()[:60])
    (tmp_path / "pickle.safetensors").write_bytes(b"\x80\x04K\x01.")
    wiener = ["--method", "wiener", "--psf", str(psf)]
    cases = [
        (["deblur", str(tmp_path / "text.png"), str(tmp_path / "a.tif"), *wiener], "Cannot read"),
        (["deblur", str(tmp_path / "truncated.png"), str(tmp_path / "b.tif"), *wiener], "Cannot read"),
        (["deblur", str(tmp_path), str(tmp_path / "c.tif"), *wiener], "is a folder, not an image"),
        (["deblur", str(good), str(tmp_path / "d.jpg"), *wiener], ".jpg cannot hold uint16"),
        (["deblur", str(good), str(tmp_path / "e"), *wiener], "has no extension"),
        (["deblur", str(good), str(tmp_path / "f.tif"), *wiener, "--device", "gpu"], "Unknown device 'gpu'"),
        (["deblur", str(good), str(tmp_path / "g.tif"), "--method", str(tmp_path / "pickle.safetensors")],
         "not a readable .safetensors file"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and "tile/s" not in err, (argv, err)
    assert main(["deblur", str(good), str(tmp_path / "h.tif"), *wiener]) == 0  # the (1, 9) PSF works
