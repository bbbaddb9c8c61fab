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
    """FFDNet-like: image + noise-level map, pixel-unshuffled by 2, U-Net, residual output.

    inputs: image (N,3,H,W) RGB [0,1]; sigma (N,1,H,W) noise std on the [0,1] scale (sigma255/255).
    output: (N,3,H,W) RGB, not clipped (the engine clips).
    """

    def __init__(self, widths=(32, 64, 128), blocks=(2, 2, 4)):
        super().__init__()
        self.unshuffle = nn.PixelUnshuffle(2)
        self.head = nn.Conv2d(16, widths[0], 3, padding=1)
        self.body = UNetBody(widths, blocks)
        self.tail = nn.Conv2d(widths[0], 12, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)

    @property
    def size_multiple(self) -> int:
        return 2 * self.body.size_multiple

    def forward(self, image, sigma):
        x = self.unshuffle(torch.cat([image, sigma], 1))
        y = self.tail(self.body(self.head(x)))
        return image + self.shuffle(y)


class Inpainter(nn.Module):
    """Image with the hole zeroed + mask (1 = fill) -> filled image; known pixels pass through."""

    def __init__(self, widths=(32, 64, 128, 160), blocks=(2, 2, 2, 4)):
        super().__init__()
        self.unshuffle = nn.PixelUnshuffle(2)
        self.head = nn.Conv2d(16, widths[0], 3, padding=1)
        self.body = UNetBody(widths, blocks)
        self.tail = nn.Conv2d(widths[0], 12, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)

    @property
    def size_multiple(self) -> int:
        return 2 * self.body.size_multiple

    def forward(self, image, mask):
        known = image * (1 - mask)
        x = self.unshuffle(torch.cat([known, mask], 1))
        y = known + self.shuffle(self.tail(self.body(self.head(x))))
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
