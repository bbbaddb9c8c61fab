"""Shared fixtures for the training package tests: tiny photos, tiny configs, one CPU thread."""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

torch.set_num_threads(1)

TINY_MODELS = {
    "denoise": {"arch": "denoiser", "widths": [8, 16], "blocks": [1, 1]},
    "inpaint": {"arch": "inpainter", "widths": [8, 16], "blocks": [1, 1], "prefill": True},
    "upscale": {"arch": "upscaler", "scale": 2, "widths": [8, 16], "blocks": [1, 1]},
    "estimate": {"arch": "noise_estimator", "width": 8, "depth": 2},
}


def smooth_photo(h: int, w: int, seed: int) -> np.ndarray:
    """A photo-like HxWx3 uint8 image: smooth colour gradients, a few edges, some fine texture."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    chans = []
    for c in range(3):
        a, b, f = rng.uniform(-0.5, 0.5, 3)
        chans.append(0.5 + a * x + b * y + 0.15 * np.sin(2 * np.pi * (f * 3 + 2) * (x + y)))
    im = np.stack(chans, -1)
    im += 0.2 * ((x - rng.uniform(0.2, 0.8)) ** 2 + (y - rng.uniform(0.2, 0.8)) ** 2 < 0.05)[..., None]
    im += 0.03 * rng.standard_normal((h, w, 1))
    return (np.clip(im, 0, 1) * 255 + 0.5).astype(np.uint8)


@pytest.fixture
def photos(tmp_path) -> Path:
    """10 tiny training photos (so that the every-10th holdout gives one validation image)."""
    d = tmp_path / "photos"
    d.mkdir()
    for i in range(10):
        cv2.imwrite(str(d / f"p{i:02d}.png"), smooth_photo(48, 40 + 4 * (i % 3), i)[:, :, ::-1])
    return d


@pytest.fixture
def tiny_config(tmp_path, photos):
    """tiny_config(task, **overrides) -> path of a YAML config that trains in well under a second a step."""

    def make(task: str = "denoise", **over) -> Path:
        cfg = {
            "id": f"tiny-{task}",
            "task": task,
            "seed": 5,
            "model": dict(TINY_MODELS[task]),
            "data": {"dirs": [str(photos)], "crop": 8 if task == "upscale" else 16, "batch": 2,
                     "camera_p": 0.5, "val_crop": 32, **({"scale": 2} if task == "upscale" else {})},
            "optim": {"lr": 1.0e-3, "steps": 3, "warmup": 1, "min_lr": 1.0e-5},
            "ema": 0.9,
            "ckpt_seconds": 1000,
            "val_every": 1000,
        }
        for k, v in over.items():
            cfg[k] = v
        path = tmp_path / f"{cfg['id']}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        return path

    return make
