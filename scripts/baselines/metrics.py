"""Image quality metrics for the classical baselines, defined as the engine's `restora eval` defines them.

Images are HxWx3 uint8 (any channel order, the same for both arguments); values on the 0-255 scale.
- PSNR: 10 log10(255^2 / MSE), MSE over all pixels and all 3 channels (or only the masked pixels,
  all 3 channels, for inpainting). A set's figure is the mean of the per-image PSNRs.
- SSIM: Wang et al. 2004, Gaussian window 11x11 with sigma 1.5, K1 = 0.01, K2 = 0.03, L = 255, computed
  per channel over the 'valid' region (no padding: 5 px at each border are not window centres) and
  averaged over the 3 channels.
"""
from __future__ import annotations

import cv2
import numpy as np


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    err = (a.astype(np.float64) - b.astype(np.float64)) ** 2
    if mask is not None:
        sel = mask.astype(bool)
        if not sel.any():
            raise ValueError("empty mask")
        err = err[sel]
    mse = float(err.mean())
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def _gauss_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    g = cv2.getGaussianKernel(size, sigma, cv2.CV_64F)
    return g @ g.T


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    win = _gauss_window()
    r = win.shape[0] // 2
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    vals = []
    for ch in range(a.shape[2]):
        x = a[:, :, ch].astype(np.float64)
        y = b[:, :, ch].astype(np.float64)

        def f(z):
            return cv2.filter2D(z, -1, win, borderType=cv2.BORDER_REFLECT)[r:-r, r:-r]

        mx, my = f(x), f(y)
        sxx, syy, sxy = f(x * x) - mx * mx, f(y * y) - my * my, f(x * y) - mx * my
        m = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
        vals.append(m.mean())
    return float(np.mean(vals))
