"""Make samples/parrots-iso6400.jpg: Kodak's kodim23 with simulated high-ISO camera noise.

The noise is the training pipeline's camera model (Poisson-Gaussian in linear light on a Bayer
mosaic, demosaiced, colour-mixed, JPEG), seeded, so the sample is reproducible:
    /usr/bin/python3 scripts/make_sample.py
"""
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from scripts.training.data import bayer_masks, _demosaic_noise, srgb_to_linear, linear_to_srgb  # noqa: E402

src = ROOT.parent / "shared" / "datasets" / "test" / "Kodak24" / "kodim23.png"
im = cv2.imread(str(src))[:, :, ::-1].copy()
x = torch.from_numpy(im).permute(2, 0, 1).float().unsqueeze(0) / 255
rng = np.random.default_rng(6400)
lin = srgb_to_linear(x)[0]
h, w = lin.shape[-2:]
m = bayer_masks(h, w)
std = torch.sqrt(1.5e-2 * (lin * m).sum(0, keepdim=True) + 6e-4)
sites = torch.from_numpy(rng.standard_normal((1, h, w)).astype(np.float32)) * std
noise = _demosaic_noise(sites.unsqueeze(0), m)[0]
noisy = linear_to_srgb(lin + noise)
out = (noisy.permute(1, 2, 0).numpy() * 255 + 0.5).clip(0, 255).astype(np.uint8)[:, :, ::-1]
dst = ROOT / "samples" / "parrots-iso6400.jpg"
cv2.imwrite(str(dst), out, [cv2.IMWRITE_JPEG_QUALITY, 92])
print(dst, dst.stat().st_size)
