"""Each loss on inputs whose value is known by hand."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from napari_deblur.training import losses
from napari_deblur.training.config import TrainConfig


@pytest.fixture
def image() -> torch.Tensor:
    return torch.rand(2, 1, 8, 10, generator=torch.Generator().manual_seed(0))


def test_identical_images_cost_nothing(image):
    assert losses.l1(image, image).item() == 0
    assert losses.fft_loss(image, image).item() == 0
    # Charbonnier's floor is eps itself: sqrt(0 + eps^2).
    assert losses.charbonnier(image, image).item() == pytest.approx(1e-3)
    assert losses.charbonnier(image, image, eps=0.0).item() == 0


@pytest.mark.parametrize("d", [0.5, -0.1, 0.02])
def test_charbonnier_of_a_constant_offset(image, d):
    expected = math.sqrt(d * d + 1e-6)
    assert losses.charbonnier(image + d, image).item() == pytest.approx(expected, rel=1e-5)
    assert losses.charbonnier(image + d, image, eps=0.1).item() == pytest.approx(math.sqrt(d * d + 0.01), rel=1e-5)
    assert losses.l1(image + d, image).item() == pytest.approx(abs(d), rel=1e-5)


def test_psnr_loss_is_minus_psnr_per_image_averaged(image):
    # Image 0 off by 0.1 everywhere (MSE 0.01, PSNR 20 dB), image 1 by 0.01 (MSE 1e-4, 40 dB).
    offsets = torch.tensor([0.1, 0.01]).view(2, 1, 1, 1)
    value = losses.psnr_loss(image + offsets, image).item()
    expected = (10 * math.log10(0.01 + 1e-8) + 10 * math.log10(1e-4 + 1e-8)) / 2
    assert value == pytest.approx(expected, rel=1e-5)
    assert value == pytest.approx(-30, abs=1e-3)
    assert losses.psnr_loss(image, image).item() == pytest.approx(-80, rel=1e-5)  # log10(1e-8)


def test_fft_loss_of_a_constant_offset_only_hits_the_dc_term(image):
    h, w, d = 8, 10, 0.25
    # rfft2 of a constant d: H*W*d at frequency (0, 0), zero elsewhere; the mean runs over the real and
    # imaginary parts of all H x (W//2 + 1) coefficients.
    expected = h * w * d / (2 * h * (w // 2 + 1))
    assert losses.fft_loss(image + d, image).item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("kind", ["cos", "sin"])
def test_fft_loss_of_one_added_frequency(kind):
    h, w, k, a = 8, 16, 3, 0.2
    x = torch.arange(w, dtype=torch.float64)
    wave = a * (torch.cos if kind == "cos" else torch.sin)(2 * math.pi * k * x / w)
    target = torch.zeros(1, 1, h, w, dtype=torch.float64)
    pred = target + wave.expand(h, w)
    # A cosine (sine) of amplitude a at frequency k puts a*H*W/2 into the real (imaginary) part of one coefficient.
    expected = a * h * w / 2 / (2 * h * (w // 2 + 1))
    assert losses.fft_loss(pred, target).item() == pytest.approx(expected, rel=1e-5)


def test_multiscale_resizes_the_target_per_scale():
    target = torch.arange(16, dtype=torch.float32).view(1, 1, 4, 4)
    coarse = F.avg_pool2d(target, 2)  # what area interpolation makes of the target at 2x2
    assert losses.multiscale(losses.l1, [coarse, target], target).item() == 0
    # Off by 1 at the coarse scale and exact at full size: the mean over two scales is 0.5.
    assert losses.multiscale(losses.l1, [coarse + 1, target], target).item() == pytest.approx(0.5)
    # Top-left pixels instead of block means are off by 2.5 at every coarse pixel.
    assert losses.multiscale(losses.l1, [target[..., ::2, ::2]], target).item() == pytest.approx(2.5)
    # A single tensor is one scale.
    assert losses.multiscale(losses.l1, target + 2, target).item() == pytest.approx(2)
    with pytest.raises(ValueError, match="at least one"):
        losses.multiscale(losses.l1, [], target)


def test_pixel_loss_follows_the_config(image):
    assert losses.pixel_loss(TrainConfig(loss="l1")) is losses.l1
    assert losses.pixel_loss(TrainConfig(loss="psnr")) is losses.psnr_loss
    fn = losses.pixel_loss(TrainConfig())
    assert fn(image + 0.5, image).item() == pytest.approx(math.sqrt(0.25 + 1e-6), rel=1e-5)
    with pytest.raises(ValueError, match="loss must be one of"):
        losses.pixel_loss(TrainConfig(loss="ssim"))


def test_ralsgan_discriminator_loss_is_zero_at_its_target():
    # Reals 1 above the fake mean and fakes 1 below the real mean, at two discriminator scales.
    real = [torch.full((2, 1, 4, 4), 3.0), torch.full((2, 1, 2, 2), 0.5)]
    fake = [torch.full((2, 1, 4, 4), 2.0), torch.full((2, 1, 2, 2), -0.5)]
    assert losses.relativistic_lsgan_d(real, fake).item() == 0
    # Swapped roles: each term is (+-2)^2 = 4, so (4 + 4) / 2 = 4 at each scale.
    assert losses.relativistic_lsgan_d(fake, real).item() == pytest.approx(4)


def test_ralsgan_known_value_and_generator_symmetry():
    real = torch.tensor([[1.0, 3.0]])  # mean 2
    fake = torch.tensor([[0.0, 0.0]])  # mean 0
    # D: ((1-0-1)^2 + (3-0-1)^2)/2 = 2 and ((0-2+1)^2)*2/2 = 1 -> (2 + 1) / 2.
    assert losses.relativistic_lsgan_d(real, fake).item() == pytest.approx(1.5)
    # G: ((0-2-1)^2 + (0-2-1)^2)/2 = 9 and ((1-0+1)^2 + (3-0+1)^2)/2 = 10 -> (9 + 10) / 2.
    assert losses.relativistic_lsgan_g(real, fake).item() == pytest.approx(9.5)
    assert losses.relativistic_lsgan_g(real, fake).item() == losses.relativistic_lsgan_d(fake, real).item()
    # The generator's loss is zero when its fakes are 1 above the real mean and reals 1 below the fake mean.
    assert losses.relativistic_lsgan_g(torch.full((3,), 0.0), torch.full((3,), 1.0)).item() == 0
    with pytest.raises(ValueError, match="as many real as fake"):
        losses.relativistic_lsgan_d([real], [fake, fake])


def test_losses_have_gradients(image):
    pred = (image + 0.1).requires_grad_()
    for fn in (losses.l1, losses.charbonnier, losses.psnr_loss, losses.fft_loss):
        pred.grad = None
        fn(pred, image).backward()
        assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def _vgg_file(tmp_path, suffix: str = ".pth"):
    """A VGG-19 weights file laid out as torchvision's (random weights, the first three blocks)."""
    from napari_deblur.training.perceptual import vgg19_to_relu3_3

    torch.manual_seed(0)
    state = {f"features.{k}": v for k, v in vgg19_to_relu3_3().state_dict().items()}
    path = tmp_path / f"vgg19{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, path)
    else:
        torch.save(state, path)
    return path, state


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_perceptual_loss_from_a_local_weights_file(tmp_path, image, suffix):
    from napari_deblur.training.perceptual import PerceptualLoss, load_vgg_features

    path, state = _vgg_file(tmp_path, suffix)
    features = load_vgg_features(path)
    assert torch.equal(features[14].weight, state["features.14.weight"])  # conv3_3, torchvision numbering
    loss = PerceptualLoss(features).train()
    assert not loss.training and not any(p.requires_grad for p in loss.parameters())
    assert loss(image, image).item() == 0
    pred = image.clone().requires_grad_(True)
    value = loss(pred, (image + 0.2).clamp(0, 1))
    value.backward()
    assert value.item() > 0 and pred.grad.abs().sum() > 0  # gradients reach the prediction, not the VGG


def test_perceptual_weights_are_checked_before_training(tmp_path):
    path, state = _vgg_file(tmp_path)
    cfg = TrainConfig(scenes="dead_leaves", steps=1, vgg_weights=str(tmp_path / "none.pth"))
    with pytest.raises(ValueError, match="does not exist"):
        cfg.validate()
    del state["features.14.weight"]
    torch.save(state, tmp_path / "cut.pth")
    with pytest.raises(ValueError, match=r"not VGG-19 weights: features\.14\.weight .* missing"):
        cfg.replace(vgg_weights=str(tmp_path / "cut.pth")).validate()
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="Cannot read VGG weights"):
        cfg.replace(vgg_weights=str(tmp_path / "junk.pth")).validate()
    cfg.replace(vgg_weights=str(path)).validate()
