"""What makes each zoo family what it is, beyond the shared contract of test_contract.py.

SRN shares one encoder-decoder across scales and carries a ConvLSTM state from scale to scale; the MSDF U-Net's
MSRM chains its four channel groups and its DFFM mixes three encoder scales with softmax weights; the Swin U-Net
attends inside (shifted, masked) windows that widen with depth and globally at the bottleneck; NAFNet's blocks
start as the identity, and TLC swaps the global pool for a sliding-window mean on large inputs.

Every model here is a tiny configuration, so the whole file runs in seconds on a CPU.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from napari_deblur.zoo import swin_unet
from napari_deblur.zoo.blocks import (
    LayerNorm2d,
    count_parameters,
    pad_to_multiple,
    resize_to,
    shifted_window_mask,
    window_partition,
)
from napari_deblur.zoo.msdf_unet import DFFM, MSRM, MSDFUNet
from napari_deblur.zoo.nafnet import LocalAvgPool, NAFBlock, NAFNet
from napari_deblur.zoo.srn import SRN
from napari_deblur.zoo.swin_unet import SwinBlock, SwinStage, SwinUNet, WindowAttention

TINY_SRN = {"widths": (4, 8, 8), "n_resblocks": 1, "kernel_size": 3, "lstm_kernel": 3}
TINY_SWIN = {"embed_dim": 8, "depths": (1, 2), "bottleneck_depth": 2, "heads": (1, 2, 2), "windows": (4, 8),
             "max_global": 16, "mlp_ratio": 2.0}
TINY_NAF = {"width": 4, "enc_blocks": (1, 1), "middle_blocks": 1, "dec_blocks": (1, 1), "train_size": 16}


@pytest.fixture(autouse=True)
def _seed_and_one_thread():
    """Deterministic weights; one thread, as these tensors are tiny and a busy CPU makes OpenMP threads spin."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


def _changed(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-6) -> torch.Tensor:
    """Boolean map of the positions where two tensors differ by more than ``tol``."""
    return (a - b).abs() > tol


# --------------------------------------------------------------------------------------------------- SRN


def test_srn_weights_are_shared_across_scales():
    one, three, five = (SRN(n_scales=n, **TINY_SRN) for n in (1, 3, 5))
    assert count_parameters(one) == count_parameters(three) == count_parameters(five) > 0
    # Not only the same count: the very same tensors, so a 1-scale model's weights load strictly into a 3-scale one.
    three.load_state_dict(one.state_dict(), strict=True)
    assert list(one.state_dict()) == list(five.state_dict())


def test_srn_returns_scales_coarse_to_fine_by_half():
    model = SRN(n_scales=3, **TINY_SRN).eval()
    for shape in [(1, 1, 40, 56), (1, 1, 37, 53)]:
        with torch.inference_mode():
            scales = model(torch.rand(shape), return_all_scales=True)
        assert isinstance(scales, list) and len(scales) == 3
        sizes = [tuple(s.shape[-2:]) for s in scales]
        assert sizes[-1] == shape[-2:]
        for coarse, fine in zip(sizes, sizes[1:]):
            for c, f in zip(coarse, fine):
                assert abs(c - 0.5 * f) <= 1, sizes
        assert all(s.shape[:2] == shape[:2] for s in scales)
    # Each scale covers the whole image: the size over its downsampling, rounded up (the input is padded to 16).
    assert [tuple(s.shape[-2:]) for s in scales] == [(10, 14), (19, 27), (37, 53)]
    with torch.inference_mode():
        single = SRN(n_scales=1, **TINY_SRN)(torch.rand(1, 1, 24, 20), return_all_scales=True)
    assert len(single) == 1 and single[0].shape == (1, 1, 24, 20)


def test_srn_carries_the_convlstm_state_from_scale_to_scale(monkeypatch):
    model = SRN(n_scales=3, **TINY_SRN).eval()
    calls: list[dict] = []
    lstm_forward = model.lstm.forward

    def spy(x, state=None):
        h, new_state = lstm_forward(x, state)
        calls.append({"x": x, "state": state, "out": new_state})
        return h, new_state

    monkeypatch.setattr(model.lstm, "forward", spy)
    with torch.inference_mode():
        scales = model(torch.rand(1, 1, 48, 64), return_all_scales=True)

    assert len(calls) == 3
    assert calls[0]["state"] is None  # the coarsest scale starts from zeros
    for previous, call, estimate in zip(calls, calls[1:], scales[1:]):
        state = call["state"]
        assert state is not None
        # The state arrives at this scale's 1/4-resolution map (the LSTM's input) ...
        quarter = call["x"].shape[-2:]
        assert state[0].shape[-2:] == quarter and state[1].shape[-2:] == quarter
        assert tuple(quarter) == tuple(-(-s // 4) for s in estimate.shape[-2:])
        # ... and it is the coarser scale's output state, resized.
        for carried, produced in zip(state, previous["out"]):
            assert produced.shape[-2:] != quarter
            assert torch.allclose(carried, resize_to(produced, quarter))


def test_srn_state_changes_the_finer_estimate():
    """The recurrence is not decorative: the fine scale's output depends on the state handed to it."""
    model = SRN(n_scales=2, **TINY_SRN).eval()
    x = torch.rand(1, 1, 32, 32)
    with torch.inference_mode():
        fresh, _ = model.step(x, x, None)
        state = (torch.rand(1, 8, 4, 4), torch.rand(1, 8, 4, 4))
        carried, new_state = model.step(x, x, state)
    assert new_state[0].shape[-2:] == (8, 8)  # resized to this scale's 1/4 map
    assert _changed(fresh, carried).any()


def test_srn_untrained_starts_close_to_the_identity():
    """Each scale predicts a residual from a small-initialized last conv: near, but not exactly, the input."""
    model = SRN(n_scales=2, **TINY_SRN).eval()
    x = torch.rand(1, 1, 32, 40)
    with torch.inference_mode():
        err = (model(x) - x).abs().max().item()
    assert 0 < err < 0.02


# ----------------------------------------------------------------------------------------------- MSDF U-Net


def test_msrm_needs_channels_divisible_by_four():
    for channels in (6, 10, 3):
        with pytest.raises(ValueError, match="divisible by 4"):
            MSRM(channels)
    MSRM(8)


def test_msrm_hierarchy_is_a_chain():
    """Perturbing group k of the separable conv's output changes y_k..y_4 and leaves y_1..y_{k-1} untouched."""
    block = MSRM(16).eval()
    x = torch.rand(2, 16, 9, 9)
    with torch.inference_mode():
        base = block.hierarchy(x)
        assert [tuple(y.shape) for y in base] == [(2, 4, 9, 9)] * 4
        for k in range(4):
            bumped = x.clone()
            bumped[:, 4 * k: 4 * k + 4] += torch.rand(2, 4, 9, 9)
            ys = block.hierarchy(bumped)
            changed = [bool(_changed(a, b).any()) for a, b in zip(base, ys)]
            assert changed == [i >= k for i in range(4)], (k, changed)


def test_msrm_groups_have_growing_receptive_fields():
    """y_k has passed through k stacked 3x3 convs: one pixel of x_1 reaches exactly k pixels away in y_k."""
    block = MSRM(8).eval()
    with torch.no_grad():  # positive weights keep every ReLU open, so the footprint is exactly the conv's
        for conv in block.group_convs:
            conv[0].weight.abs_()
            conv[0].bias.fill_(0.1)
    x = torch.rand(1, 8, 15, 15)
    bumped = x.clone()
    bumped[0, 0, 7, 7] += 1.0
    with torch.inference_mode():
        for k, (a, b) in enumerate(zip(block.hierarchy(x), block.hierarchy(bumped)), start=1):
            rows, cols = torch.nonzero(_changed(a, b)[0].any(0), as_tuple=True)
            assert rows.min() == cols.min() == 7 - k and rows.max() == cols.max() == 7 + k, k


def test_dffm_branch_weights_are_a_softmax_over_three_scales():
    dffm = DFFM((8, 16, 32), 16).eval()
    feats = [torch.rand(2, 8, 16, 20), torch.rand(2, 16, 8, 10), torch.rand(2, 32, 4, 5)]
    with torch.inference_mode():
        branches = dffm.branches(feats, (8, 10))
        assert [tuple(b.shape) for b in branches] == [(2, 16, 8, 10)] * 3
        weights = dffm.branch_weights(branches)
        assert weights.shape == (2, 3, 16, 1, 1)
        assert (weights > 0).all() and (weights < 1).all()
        assert torch.allclose(weights.sum(1), torch.ones(2, 16, 1, 1), atol=1e-6)
        # Dynamic: the weights depend on the content (the two samples differ).
        assert _changed(weights[0], weights[1]).any()
        out = dffm(feats, (8, 10))
        assert out.shape == (2, 16, 8, 10)
        full = dffm(feats, (16, 20))
        assert full.shape == (2, 16, 16, 20)


def test_dffm_projects_large_branches_after_downsampling_without_changing_them():
    """Resize-then-project (the cheap order for a larger branch) equals project-then-resize."""
    dffm = DFFM((8, 16, 32), 16).eval()
    with torch.no_grad():
        for proj in dffm.project:
            proj.bias.uniform_(-1, 1)
    feats = [torch.rand(1, 8, 16, 20), torch.rand(1, 16, 8, 10), torch.rand(1, 32, 4, 5)]
    with torch.inference_mode():
        branches = dffm.branches(feats, (8, 10))
        for f, proj, b in zip(feats, dffm.project, branches):
            assert torch.allclose(b, resize_to(proj(f), (8, 10)), atol=1e-5)


def test_msdf_unet_returns_quarter_half_and_full_scales():
    model = MSDFUNet(width=8, num_msrm=1).eval()
    for h, w in [(40, 56), (37, 53)]:
        x = torch.rand(1, 1, h, w)
        with torch.inference_mode():
            scales = model(x, return_all_scales=True)
        assert [tuple(s.shape[-2:]) for s in scales] == [(-(-h // 4), -(-w // 4)), (-(-h // 2), -(-w // 2)), (h, w)]
        # Small heads: each scale starts as (nearly) the input at that scale, plus a small residual. The coarse
        # scales see the input padded to a multiple of 4, then cropped (rounding up) to the image's extent.
        padded, _ = pad_to_multiple(x, 4)
        for s, f in zip(scales, (4, 2, 1)):
            reference = resize_to(padded, (padded.shape[-2] // f, padded.shape[-1] // f))
            reference = reference[..., : s.shape[-2], : s.shape[-1]]
            assert (s - reference).abs().max() < 0.05
            assert _changed(s, reference, 0).any()
    assert [tuple(s.shape[-2:]) for s in scales] == [(10, 14), (19, 27), (37, 53)]


# ------------------------------------------------------------------------------------------------ Swin U-Net


def test_shifted_window_mask_shape_and_diagonal():
    assert shifted_window_mask(16, 16, 8, 0, torch.device("cpu")) is None
    mask = shifted_window_mask(16, 24, 8, 4, torch.device("cpu"))
    assert mask.shape == (2 * 3, 64, 64)
    assert (torch.diagonal(mask, dim1=-2, dim2=-1) == 0).all()
    assert torch.equal(mask, mask.transpose(-2, -1))
    assert set(mask.unique().tolist()) == {0.0, -100.0}
    assert (mask[0] == 0).all()  # the top-left window holds no wrapped pixel
    assert (mask[-1] == -100).any()  # the bottom-right one holds pixels from four regions


@pytest.mark.parametrize("h, w, window, shift", [(16, 16, 8, 4), (16, 24, 8, 4), (8, 16, 8, 4), (12, 12, 4, 2)])
def test_shifted_window_mask_blocks_exactly_the_wrapped_pairs(h, w, window, shift):
    """After the cyclic shift, two pixels of one window may attend iff they were neighbours before it: both or
    neither wrapped around, in each axis."""
    mask = shifted_window_mask(h, w, window, shift, torch.device("cpu"))
    rows = torch.arange(h)[:, None].expand(h, w)
    cols = torch.arange(w)[None, :].expand(h, w)
    wrapped = torch.stack([rows >= h - shift, cols >= w - shift], -1).float()  # (h, w, 2) in shifted coordinates
    per_window = window_partition(wrapped[None], window)  # (windows, T, 2)
    same = (per_window[:, :, None, :] == per_window[:, None, :, :]).all(-1)
    expected = torch.where(same, 0.0, -100.0)
    assert torch.equal(mask, expected)


def test_relative_position_bias_depends_only_on_the_offset():
    attn = WindowAttention(8, 2, 4)
    w = attn.window
    for wh, ww in [(4, 4), (3, 4), (2, 3), (1, 4)]:
        bias = attn.position_bias(wh, ww)
        assert bias.shape == (2, wh * ww, wh * ww)
        pixels = [(y, x) for y in range(wh) for x in range(ww)]
        for i, (y1, x1) in enumerate(pixels):
            for j, (y2, x2) in enumerate(pixels):
                row = (y1 - y2 + w - 1) * (2 * w - 1) + (x1 - x2 + w - 1)
                assert torch.equal(bias[:, i, j], attn.bias_table[row]), (wh, ww, i, j)


def test_swin_unet_keeps_any_size():
    model = SwinUNet(**TINY_SWIN).eval()
    for shape in [(1, 1, 19, 45), (1, 1, 70, 33), (1, 1, 5, 3)]:
        with torch.inference_mode():
            out = model(torch.rand(shape))
        assert out.shape == shape and torch.isfinite(out).all()


def test_swin_windows_widen_with_depth_and_the_bottleneck_is_global(monkeypatch):
    model = SwinUNet(**TINY_SWIN).eval()
    assert [s.window for s in model.encoders] == [4, 8] == [s.window for s in model.decoders]
    assert model.bottleneck.global_ and not any(s.global_ for s in model.encoders)
    assert not any(b.shifted for b in model.bottleneck.blocks)
    assert [b.shifted for b in model.encoders[1].blocks] == [False, True]

    seen: list[tuple[int, int, int | None, int]] = []
    block_forward = SwinBlock.forward

    def spy(self, x, window, shift=0, mask=None):
        seen.append((x.shape[1], x.shape[2], window, shift))
        return block_forward(self, x, window, shift, mask)

    monkeypatch.setattr(SwinBlock, "forward", spy)
    with torch.inference_mode():
        model(torch.rand(1, 1, 64, 48))
    encoder, bottleneck = seen[:3], seen[3:5]
    assert encoder == [(64, 48, 4, 0), (32, 24, 8, 0), (32, 24, 8, 4)]
    assert bottleneck == [(16, 12, None, 0)] * 2  # the whole 16 x 12 map as one window


def test_swin_bottleneck_attends_globally():
    """One changed pixel of the bottleneck's input map changes every position of its output."""
    model = SwinUNet(**TINY_SWIN).eval()
    x = torch.rand(1, 32, 10, 13)
    bumped = x.clone()
    bumped[0, :, 0, 0] += torch.randn(bumped.shape[1])
    with torch.inference_mode():
        changed = _changed(model.bottleneck(x), model.bottleneck(bumped)).any(1)[0]
    assert changed.all()


def test_swin_bottleneck_falls_back_to_windows_on_a_large_map():
    stage = SwinStage(16, 1, 2, 8, 2.0, global_=True).eval()
    assert stage.layout(8, 8) is None and stage.layout(8, 9) == 8
    x = torch.rand(1, 16, 16, 24)
    bumped = x.clone()
    bumped[0, :, 0, 0] += torch.randn(bumped.shape[1])
    with torch.inference_mode():
        changed = _changed(stage(x), stage(bumped)).any(1)[0]
    assert changed[:8, :8].all()
    assert not changed[9:].any() and not changed[:, 9:].any()  # the depthwise conv reaches one pixel further


def test_swin_unshifted_window_keeps_information_local():
    stage = SwinStage(8, 1, 1, 4, 2.0).eval()  # a single, unshifted block
    x = torch.rand(1, 8, 16, 16)
    bumped = x.clone()
    bumped[0, :, 1, 1] += torch.randn(8)
    with torch.inference_mode():
        changed = _changed(stage(x), stage(bumped)).any(1)[0]
    assert changed[:4, :4].all()
    assert not changed[5:].any() and not changed[:, 5:].any()


def test_swin_shifted_block_crosses_window_borders_but_not_the_wrap_around(monkeypatch):
    stage = SwinStage(8, 2, 1, 4, 2.0).eval()  # unshifted then shifted block, window 4, shift 2
    x = torch.rand(1, 8, 16, 16)

    def changes(row: int, col: int) -> torch.Tensor:
        bumped = x.clone()
        bumped[0, :, row, col] += torch.randn(8)  # not constant: LayerNorm would erase it
        with torch.inference_mode():
            return _changed(stage(x), stage(bumped)).any(1)[0]

    # (3, 3) is in the first window; the shifted windows [2, 6) carry it into the next ones.
    assert changes(3, 3)[5, 5]
    # (0, 0) is cyclically rolled next to the bottom-right corner, but the mask keeps it from attending there.
    from_corner = changes(0, 0)
    assert from_corner[:4, :4].all()
    assert not from_corner[8:].any() and not from_corner[:, 8:].any()
    # Without the mask the roll would leak it to the far corner: the check above can fail.
    monkeypatch.setattr(swin_unet, "shifted_window_mask", lambda *args, **kwargs: None)
    assert changes(0, 0)[14:, 14:].any()


# -------------------------------------------------------------------------------------------------- NAFNet


def test_fresh_nafblock_is_the_identity():
    block = NAFBlock(8).eval()
    x = torch.randn(2, 8, 12, 10)
    with torch.inference_mode():
        assert torch.equal(block(x), x)
    with torch.no_grad():
        block.gamma.fill_(0.5)
    with torch.inference_mode():
        assert _changed(block(x), x).any()
    with torch.no_grad():
        block.gamma.zero_()
        block.beta.fill_(0.5)
    with torch.inference_mode():
        assert _changed(block(x), x).any()


def test_fresh_nafnet_equals_the_network_without_its_blocks():
    """All blocks start as the identity, so a fresh NAFNet is its plain conv skeleton (not the identity itself:
    the intro, down, up and ending convs are randomly initialized)."""
    model = NAFNet(**TINY_NAF).eval()
    x = torch.rand(1, 1, 20, 28)
    with torch.inference_mode():
        fresh = model(x)
        for stages in (model.encoders, model.decoders):
            for i in range(len(stages)):
                stages[i] = nn.Identity()
        model.middle = nn.Identity()
        skeleton = model(x)
    assert torch.allclose(fresh, skeleton, atol=1e-6)
    assert _changed(fresh, x).any()


def test_local_avg_pool_is_global_on_small_inputs():
    x = torch.randn(2, 3, 6, 9)
    expected = x.mean(dim=(-2, -1), keepdim=True)
    for window in [None, (8, 9), (6, 9), (100, 100)]:
        out = LocalAvgPool(window)(x)
        assert out.shape == (2, 3, 1, 1)
        assert torch.allclose(out, expected, atol=1e-6)


@pytest.mark.parametrize("shape, window", [((1, 2, 20, 26), (8, 8)), ((1, 2, 25, 31), (6, 9)),
                                           ((2, 1, 5, 30), (8, 8))])
def test_local_avg_pool_is_a_sliding_window_mean(shape, window):
    x = torch.randn(shape)
    out = LocalAvgPool(window)(x)
    h, w = shape[-2:]
    kh, kw = min(window[0], h), min(window[1], w)
    assert out.shape == x.shape
    brute = F.avg_pool2d(x, (kh, kw), stride=1)  # (h - kh + 1, w - kw + 1): one mean per window inside the image
    top, left = (kh - 1) // 2, (kw - 1) // 2
    interior = out[..., top: top + brute.shape[-2], left: left + brute.shape[-1]]
    assert torch.allclose(interior, brute, atol=1e-5)
    # The border replicates the nearest full window's mean.
    assert torch.allclose(out[..., :top, left: left + brute.shape[-1]], brute[..., :1, :].expand(-1, -1, top, -1),
                          atol=1e-5)
    assert torch.allclose(out[..., top: top + brute.shape[-2], -1], brute[..., -1], atol=1e-5)
    assert not torch.allclose(out, x.mean(dim=(-2, -1), keepdim=True).expand_as(x), atol=1e-3)


def _tlc_pair() -> tuple[NAFNet, NAFNet]:
    on = NAFNet(**TINY_NAF, tlc=True).eval()
    off = NAFNet(**TINY_NAF, tlc=False).eval()
    off.load_state_dict(on.state_dict())
    return on, off


def test_tlc_only_matters_beyond_the_training_window():
    on, off = _tlc_pair()
    # train_size 16: pooling windows of 24, 12 and 6 pixels at full, 1/2 and 1/4 resolution.
    assert [b.pool.window for b in on.encoders[0]] == [(24, 24)]
    assert all(m.window is None for m in off.modules() if isinstance(m, LocalAvgPool))
    small, large = torch.rand(1, 1, 20, 24), torch.rand(1, 1, 48, 56)
    with torch.inference_mode():
        # Fresh blocks are the identity, whatever their pool: no difference yet, even on the large input.
        assert torch.equal(on(large), off(large))
        with torch.no_grad():
            for model in (on, off):
                for name, p in model.named_parameters():
                    if name.endswith(("beta", "gamma")):
                        p.copy_(torch.linspace(-1, 1, p.numel()).view_as(p))
        assert torch.allclose(on(small), off(small), atol=1e-6)
        assert (on(large) - off(large)).abs().max() > 1e-4


def test_layernorm2d_matches_layer_norm_over_channels():
    norm = LayerNorm2d(6)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 2.0)
        norm.bias.uniform_(-1.0, 1.0)
    x = torch.randn(2, 6, 7, 5) * 3 + 1
    expected = F.layer_norm(x.permute(0, 2, 3, 1), (6,), norm.weight, norm.bias, eps=norm.eps).permute(0, 3, 1, 2)
    assert torch.allclose(norm(x), expected, atol=1e-5)
    assert not torch.allclose(norm(x), x, atol=1e-2)
