"""What makes deblurgan DeblurGAN: a bounded residual generator without batch statistics, ESRGAN's dense
blocks in the bottleneck, and a spectrally normalized multi-scale PatchGAN critic for training."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from napari_deblur.zoo import deblurgan
from napari_deblur.zoo.blocks import count_parameters

TINY = {"width": 8, "num_blocks": 2, "growth": 8}


def _generator(in_channels: int = 1, **config) -> deblurgan.DeblurGANGenerator:
    torch.manual_seed(0)
    return deblurgan.DeblurGANGenerator(in_channels=in_channels, **{**TINY, **config})


def test_output_stays_in_unit_range_for_extreme_inputs_and_large_weights():
    net = _generator().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(4.0)  # a wildly mistrained generator: the tanh + clamp head must still bound the output
    torch.manual_seed(1)
    inputs = [torch.zeros(1, 1, 21, 18), torch.ones(1, 1, 21, 18), torch.rand(2, 1, 21, 18) * 200 - 100,
              torch.randn(1, 1, 21, 18) * 1e3]
    with torch.inference_mode():
        for x in inputs:
            y = net(x)
            assert y.shape == x.shape
            assert torch.isfinite(y).all()
            assert y.min() >= 0.0 and y.max() <= 1.0


def test_zeroed_residual_head_returns_the_input():
    net = _generator(in_channels=2).eval()
    with torch.no_grad():
        net.tail.weight.zero_()
        net.tail.bias.zero_()
    x = torch.rand(2, 2, 19, 30)  # not a multiple of 4: the pad/crop must not shift anything
    with torch.inference_mode():
        torch.testing.assert_close(net(x), x, rtol=0, atol=0)


def test_train_and_eval_mode_are_the_same_function():
    net = _generator()
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())
    x = torch.rand(3, 1, 24, 17)
    with torch.no_grad():
        y_train = net.train()(x)
        y_eval = net.eval()(x)
        # and a sample's output does not depend on the rest of the batch
        y_single = net(x[1:2])
    torch.testing.assert_close(y_train, y_eval, rtol=0, atol=0)
    torch.testing.assert_close(y_single, y_eval[1:2], rtol=1e-5, atol=1e-6)


def test_residual_dense_blocks_concatenate_all_previous_features():
    width, growth = 8, 8
    net = _generator(width=width, growth=growth, num_blocks=3)
    blocks = [m for m in net.modules() if isinstance(m, deblurgan.ResidualDenseBlock)]
    assert len(blocks) == 3
    channels = 4 * width  # bottleneck after two channel-doubling stride-2 convs
    for block in blocks:
        convs = list(block.convs)
        assert len(convs) == 5
        assert [c.in_channels for c in convs] == [channels + i * growth for i in range(5)]
        assert [c.out_channels for c in convs] == [growth] * 4 + [channels]
        assert all(c.kernel_size == (3, 3) for c in convs)


def test_rdb_local_residual_is_scaled_by_0_2():
    block = deblurgan.ResidualDenseBlock(16, 8)
    x = torch.randn(1, 16, 9, 9)
    with torch.no_grad():
        branch = block(x) - x
        block.convs[4].weight.mul_(2.0)
        block.convs[4].bias.mul_(2.0)
        branch2 = block(x) - x
        block.convs[4].weight.zero_()
        block.convs[4].bias.zero_()
        identity = block(x)
    torch.testing.assert_close(branch2, 2 * branch, rtol=1e-4, atol=1e-5)  # linear in the fusion conv
    torch.testing.assert_close(identity, x)
    assert deblurgan._RESIDUAL_SCALE == 0.2


def test_sizes_base_is_the_paper_generator_and_small_fits_a_cpu():
    assert deblurgan.SIZES["base"] == {"width": 64, "num_blocks": 9, "growth": 32}
    small = deblurgan.DeblurGANGenerator(**deblurgan.SIZES["small"])
    assert 1_000_000 <= count_parameters(small) <= 4_000_000
    base_blocks = 9
    assert len(deblurgan.DeblurGANGenerator.__init__.__defaults__) == 4  # in_channels + the three config keys
    assert deblurgan.DeblurGANGenerator.__init__.__defaults__[2] == base_blocks


def test_registered_class_is_the_generator():
    from napari_deblur.zoo.family import FAMILIES

    assert FAMILIES["deblurgan"].cls is deblurgan.DeblurGANGenerator


@pytest.mark.parametrize("num_scales", [2, 3])
def test_discriminator_gives_one_patch_map_per_scale(num_scales):
    torch.manual_seed(0)
    disc = deblurgan.MultiScalePatchDiscriminator(in_channels=1, width=8, num_scales=num_scales)
    small_maps = disc(torch.rand(2, 1, 64, 64))
    large_maps = disc(torch.rand(2, 1, 128, 96))
    assert len(small_maps) == len(large_maps) == num_scales
    for i, (s, big) in enumerate(zip(small_maps, large_maps)):
        assert s.shape[:2] == (2, 1) and big.shape[:2] == (2, 1)
        assert s.shape[-2] > 1 and s.shape[-1] > 1, "64x64 must give a map of patch scores, not one score"
        assert big.shape[-2] > s.shape[-2] and big.shape[-1] > s.shape[-1]
        if i:  # coarser scales see a downsampled image
            assert s.shape[-2] < small_maps[i - 1].shape[-2]


def test_discriminator_convs_are_spectrally_normalized_and_all_get_gradients():
    torch.manual_seed(0)
    disc = deblurgan.MultiScalePatchDiscriminator(in_channels=2, width=8).train()
    convs = [m for m in disc.modules() if isinstance(m, nn.Conv2d)]
    assert convs
    for conv in convs:
        assert parametrize.is_parametrized(conv, "weight")
        assert any("SpectralNorm" in type(p).__name__ for p in conv.parametrizations.weight)
        assert conv.kernel_size == (4, 4)
    # hinge-style loss on fake images coming from the generator, as in training
    gen = _generator(in_channels=2)
    fake = gen(torch.rand(2, 2, 64, 64))
    loss = sum(torch.relu(1.0 + m).mean() for m in disc(fake))
    loss.backward()
    for name, p in disc.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    for name, p in gen.named_parameters():
        assert p.grad is not None, name
