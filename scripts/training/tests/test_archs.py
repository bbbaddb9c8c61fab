"""Architectures: shapes, size multiples, padding of odd sizes, known-pixel pass-through, tile invariance."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from scripts.training.archs import build_model, count_params
from scripts.training.archs.unet import Denoiser, Inpainter, Upscaler


def inputs_for(model, n, h, w, seed=0):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(n, 3, h, w, generator=g)
    if isinstance(model, Denoiser):
        return image, torch.full((n, 1, h, w), 25 / 255)
    if isinstance(model, Inpainter):
        return image, (torch.rand(n, 1, h, w, generator=g) < 0.2).float()
    return (image,)


def pad_to(x, mult):
    h, w = x.shape[-2:]
    return F.pad(x, (0, -w % mult, 0, -h % mult), mode="reflect")


@pytest.mark.parametrize("model, mult, scale", [
    (Denoiser(), 8, 1),
    (Denoiser(widths=(8, 16), blocks=(1, 1)), 4, 1),
    (Denoiser(widths=(8, 16, 24, 32), blocks=(1, 1, 1, 1), unshuffle=False), 8, 1),
    (Inpainter(), 16, 1),
    (Inpainter(widths=(8, 16, 24), blocks=(1, 1, 1)), 8, 1),
    (Upscaler(scale=2), 2, 2),
    (Upscaler(scale=4, widths=(8, 16, 24), blocks=(1, 1, 1)), 4, 4),
])
def test_size_multiple_and_odd_sizes(model, mult, scale):
    model.eval()
    assert model.size_multiple == mult
    h, w = 37, 53  # odd: not a multiple of anything
    with torch.no_grad():
        ins = inputs_for(model, 2, h, w)
        padded = tuple(pad_to(x, mult) for x in ins)
        assert padded[0].shape[-2] % mult == 0 and padded[0].shape[-1] % mult == 0
        out = model(*padded)
        ph, pw = padded[0].shape[-2:]
        assert out.shape == (2, 3, ph * scale, pw * scale)
        assert torch.isfinite(out).all()
        assert out[..., :h * scale, :w * scale].shape == (2, 3, h * scale, w * scale)
        if mult > 1:
            # unpadded odd sizes are rejected (or come out the wrong size): padding is required
            try:
                bad = model(*ins)
            except RuntimeError:
                pass
            else:
                assert bad.shape[-2:] != (h * scale, w * scale)


def test_build_model_and_params():
    m = build_model({"arch": "denoiser", "widths": [8, 16], "blocks": [1, 1]})
    assert isinstance(m, Denoiser)
    assert count_params(m) == sum(p.numel() for p in m.parameters()) > 0
    with pytest.raises(ValueError, match="unknown arch"):
        build_model({"arch": "nope"})


def test_inpainter_keeps_known_pixels():
    m = Inpainter(widths=(8, 16), blocks=(1, 1)).eval()
    image, mask = inputs_for(m, 1, 32, 32, seed=3)
    with torch.no_grad():
        out = m(image, mask)
    keep = mask == 0
    assert torch.equal(out.expand_as(image)[keep.expand_as(image)], image[keep.expand_as(image)])
    # the hole's content must not leak in: changing it changes nothing
    with torch.no_grad():
        out2 = m(image + mask * 0.7, mask)
    assert torch.allclose(out, out2, atol=1e-6)


def test_pushpull_fill_is_smooth_and_keeps_known_pixels():
    from scripts.training.archs.unet import pushpull_fill
    h = w = 64
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    ramp = torch.stack([xx, yy, 0.5 * (xx + yy)])[None]
    weight = torch.ones(1, 1, h, w)
    weight[..., 20:44, 10:30] = 0  # a 24 x 20 hole
    weight[..., 50:52, :] = 0  # a thin line across the whole image
    filled = pushpull_fill(ramp * weight, weight, levels=4, iters=8)
    keep = (weight > 0).expand_as(ramp)
    assert torch.allclose(filled[keep], ramp[keep], atol=1e-5)
    hole = ~keep
    err = (filled - ramp).abs()[hole]
    assert err.max() < 0.12 and err.mean() < 0.04  # a smooth ramp is interpolated, not painted black
    # a constant surrounding fills as that constant, even with 2 px of context only
    const = torch.full((1, 3, h, w), 0.3)
    wt = torch.zeros(1, 1, h, w)
    wt[..., :, :2] = 1
    assert torch.allclose(pushpull_fill(const * wt, wt, levels=4, iters=8), const, atol=1e-4)


def test_inpainter_prefill_loads_plain_weights_and_keeps_known_pixels():
    plain = Inpainter(widths=(8, 16), blocks=(1, 1)).eval()
    pre = Inpainter(widths=(8, 16), blocks=(1, 1), prefill=True).eval()
    pre.load_state_dict(plain.state_dict())  # no parameters of its own: old checkpoints load
    image, mask = inputs_for(pre, 1, 32, 32, seed=5)
    with torch.no_grad():
        out = pre(image, mask)
        out2 = pre(image + mask * 0.7, mask)
    keep = (mask == 0).expand_as(image)
    assert torch.equal(out[keep], image[keep])
    assert torch.allclose(out, out2, atol=1e-6)


@pytest.mark.parametrize("model", [
    Denoiser(widths=(8, 16), blocks=(1, 1)),
    Denoiser(widths=(8, 16), blocks=(1, 1), unshuffle=False),
    Inpainter(widths=(8, 16), blocks=(1, 1)),
    Inpainter(widths=(8, 16), blocks=(1, 1), prefill=True),
    Upscaler(scale=2, widths=(8, 16), blocks=(1, 1)),
])
def test_tile_invariance(model):
    """A tile cut at a multiple of size_multiple gives the full image's output away from the tile border."""
    torch.manual_seed(0)
    model.eval()
    s = getattr(model, "scale", 1)
    ins = inputs_for(model, 1, 128, 128, seed=1)
    with torch.no_grad():
        full = model(*ins)
        off = 4 * model.size_multiple  # 16 px (8 for the upscaler): aligned with every stride
        tile = model(*(x[..., off:off + 96, off:off + 96] for x in ins))
    # compare the tile's centre (>= 32 px from its border, more than the tiny nets' receptive field)
    a = full[..., (off + 32) * s:(off + 64) * s, (off + 32) * s:(off + 64) * s]
    b = tile[..., 32 * s:64 * s, 32 * s:64 * s]
    assert (a - b).abs().max() < 1e-5
    # control: a tile cut off the stride grid does not match, so the check above can fail
    with torch.no_grad():
        odd = model(*(x[..., off + 1:off + 97, off + 1:off + 97] for x in ins))
    c = odd[..., 31 * s:63 * s, 31 * s:63 * s]
    assert (a - c).abs().max() > 1e-4


def test_full_resolution_denoiser_sees_single_pixels():
    """unshuffle=False: the first level works on full-resolution pixels, and a zero-initialised tail
    gives back the input exactly (the output is input + residual)."""
    m = Denoiser(widths=(8, 16), blocks=(1, 1), unshuffle=False).eval()
    assert m.head.in_channels == 4 and m.tail.out_channels == 3
    torch.nn.init.zeros_(m.tail.weight)
    torch.nn.init.zeros_(m.tail.bias)
    image, sigma = inputs_for(m, 1, 16, 24)
    with torch.no_grad():
        assert torch.equal(m(image, sigma), image)
