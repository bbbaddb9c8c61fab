"""Convolutional encoder-decoders (U-Nets of residual blocks) used by every Restora model.

All models take and return NCHW float32 RGB in [0, 1] (plus extra conditioning channels where a
task needs them) and accept any height and width that is a multiple of `size_multiple`; padding to
that multiple is the engine's job (declared in the model card).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class ResBlock(nn.Module):
    """conv-act-conv with an identity skip. No normalisation: it keeps inference tile-invariant."""

    def __init__(self, ch: int):
        super().__init__()
        self.c1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.c2 = nn.Conv2d(ch, ch, 3, padding=1)
        self.act = nn.LeakyReLU(0.1, inplace=True)

    def forward(self, x):
        return x + self.c2(self.act(self.c1(x)))


class UNetBody(nn.Module):
    """Multi-level U-Net: stride-2 convs down, pixel-shuffle up, additive skips."""

    def __init__(self, widths, blocks):
        super().__init__()
        assert len(widths) == len(blocks)
        self.levels = len(widths)
        self.enc = nn.ModuleList()
        self.down = nn.ModuleList()
        self.dec = nn.ModuleList()
        self.up = nn.ModuleList()
        for i, (w, b) in enumerate(zip(widths, blocks)):
            last = i == self.levels - 1
            # the deepest level has no decoder twin, so it gets all of its blocks in `enc`
            self.enc.append(nn.Sequential(*[ResBlock(w) for _ in range(b if last else max(1, b // 2))]))
            if not last:
                self.down.append(nn.Conv2d(w, widths[i + 1], 2, stride=2))
                self.up.append(nn.Sequential(nn.Conv2d(widths[i + 1], w * 4, 1), nn.PixelShuffle(2)))
                self.dec.append(nn.Sequential(*[ResBlock(w) for _ in range(max(1, b - b // 2))]))

    @property
    def size_multiple(self) -> int:
        return 2 ** (self.levels - 1)

    def forward(self, x):
        skips = []
        for i in range(self.levels - 1):
            x = self.enc[i](x)
            skips.append(x)
            x = self.down[i](x)
        x = self.enc[-1](x)
        for i in reversed(range(self.levels - 1)):
            x = self.up[i](x) + skips[i]
            x = self.dec[i](x)
        return x


class Denoiser(nn.Module):
    """Denoising autoencoder: image + noise-level map -> U-Net -> residual output.

    unshuffle=True (FFDNet-like): the input is 2x pixel-unshuffled, so every level runs at a quarter
    of the pixels or less. unshuffle=False: the first level runs at full resolution (narrow, e.g.
    width 16), which keeps fine luma and chroma detail that the 2x2 packing has to squeeze through
    one conv; it costs about as much per pixel as the unshuffled net one level shallower.

    inputs: image (N,3,H,W) RGB [0,1]; sigma (N,1,H,W) noise std on the [0,1] scale (sigma255/255).
    output: (N,3,H,W) RGB, not clipped (the engine clips).
    """

    def __init__(self, widths=(32, 64, 128), blocks=(2, 2, 4), unshuffle=True):
        super().__init__()
        self.unshuffle_input = bool(unshuffle)
        f = 2 if self.unshuffle_input else 1
        self.unshuffle = nn.PixelUnshuffle(2) if self.unshuffle_input else nn.Identity()
        self.head = nn.Conv2d(4 * f * f, widths[0], 3, padding=1)
        self.body = UNetBody(widths, blocks)
        self.tail = nn.Conv2d(widths[0], 3 * f * f, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2) if self.unshuffle_input else nn.Identity()

    @property
    def size_multiple(self) -> int:
        return (2 if self.unshuffle_input else 1) * self.body.size_multiple

    def forward(self, image, sigma):
        x = self.unshuffle(torch.cat([image, sigma], 1))
        y = self.tail(self.body(self.head(x)))
        return image + self.shuffle(y)


def pushpull_fill(known, weight, levels: int, iters: int):
    """Fill the hole of `known` (colours where weight = 1, zero where weight = 0) smoothly from its
    surroundings: a push-pull pyramid. Push: `levels` 2x2 average-poolings of the premultiplied
    colours and of the weight (sizes must be multiples of 2**levels); at the coarsest level `iters`
    3x3 box passes grow the covered area into what is still empty. Pull: back up, each level's own
    colour where it is covered, the bilinear upsample of the coarser fill where it is not. Known
    pixels come back unchanged; no parameters, so it exports to ONNX as plain pooling/resize ops."""
    eps = 1e-6
    pyr = []
    x, w = known * weight, weight
    for _ in range(levels):
        pyr.append((x, w))
        x, w = F.avg_pool2d(x, 2), F.avg_pool2d(w, 2)
    c = x / w.clamp_min(eps)
    cov = (w > eps).to(w.dtype)
    for _ in range(iters):
        sx = F.avg_pool2d(c * cov, 3, stride=1, padding=1, count_include_pad=True)
        sw = F.avg_pool2d(cov, 3, stride=1, padding=1, count_include_pad=True)
        c = cov * c + (1 - cov) * sx / sw.clamp_min(eps)
        cov = torch.maximum(cov, (sw > eps).to(w.dtype))
    for x, w in reversed(pyr):
        up = F.interpolate(c, scale_factor=2.0, mode="bilinear", align_corners=False)
        c = x + (1 - w) * up  # x = w * (mean colour of the covered part)
    return c


class Inpainter(nn.Module):
    """Image with the hole zeroed + mask (1 = fill) -> filled image; known pixels pass through.
    With `prefill`, the hole is first filled by a push-pull pyramid (pushpull_fill) and the
    network refines that smooth fill instead of starting from black."""

    def __init__(self, widths=(32, 64, 128, 160), blocks=(2, 2, 2, 4), prefill=False, prefill_iters=8):
        super().__init__()
        self.unshuffle = nn.PixelUnshuffle(2)
        self.head = nn.Conv2d(16, widths[0], 3, padding=1)
        self.body = UNetBody(widths, blocks)
        self.tail = nn.Conv2d(widths[0], 12, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        self.prefill = bool(prefill)
        self.prefill_iters = int(prefill_iters)

    @property
    def size_multiple(self) -> int:
        return 2 * self.body.size_multiple

    def forward(self, image, mask):
        known = image * (1 - mask)
        base = known
        if self.prefill:
            levels = self.size_multiple.bit_length() - 1  # log2: window sides are multiples of it
            base = known + mask * pushpull_fill(known, 1 - mask, levels, self.prefill_iters)
        x = self.unshuffle(torch.cat([base, mask], 1))
        y = base + self.shuffle(self.tail(self.body(self.head(x))))
        return known + y * mask


class Upscaler(nn.Module):
    """Works at low resolution, pixel-shuffles up by `scale`, adds a bilinear upsample of the input."""

    def __init__(self, scale=2, widths=(48, 96), blocks=(4, 4)):
        super().__init__()
        self.scale = scale
        self.head = nn.Conv2d(3, widths[0], 3, padding=1)
        self.body = UNetBody(widths, blocks)
        self.tail = nn.Sequential(nn.Conv2d(widths[0], 3 * scale * scale, 3, padding=1), nn.PixelShuffle(scale))

    @property
    def size_multiple(self) -> int:
        return self.body.size_multiple

    def forward(self, image):
        feat = self.head(image)
        y = self.tail(self.body(feat) + feat)
        base = F.interpolate(image, scale_factor=self.scale, mode="bilinear", align_corners=False)
        return base + y
