"""Noise-level estimator: a small fully convolutional net that reads the standard deviation of the
noise in a crop, for `--sigma auto`. The PCA estimator (data.pca_sigma) reads white noise well but
demosaiced or JPEG camera noise at about 1/8 of its true level (the noise is spatially correlated,
and PCA looks at the weakest directions only); this net is trained on both kinds, against the
noise's own standard deviation, which is also what the denoiser's map carries."""
from __future__ import annotations

import torch
import torch.nn as nn


class NoiseEstimator(nn.Module):
    """image (N,3,H,W) in [0,1] -> (N,1) noise std on the [0,1] scale. H, W: multiples of 2.
    Per-pixel readings of log(1 + 255 sigma) at half resolution, averaged over the crop."""

    def __init__(self, width: int = 32, depth: int = 5):
        super().__init__()
        layers: list[nn.Module] = [nn.PixelUnshuffle(2), nn.Conv2d(12, width, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(depth - 1):
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(width, 1, 3, padding=1))
        self.body = nn.Sequential(*layers)

    size_multiple = 2

    def log_level(self, image):
        """(N,1): the mean per-pixel reading of log(1 + 255 sigma) (what the loss compares)."""
        return self.body(image - 0.5).mean(dim=(2, 3))

    def forward(self, image):
        return (torch.exp(self.log_level(image).clamp(min=0.0)) - 1.0) / 255.0  # expm1 has no ONNX op
