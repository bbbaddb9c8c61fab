"""Pack a config's training folders small enough to travel to a lent GPU machine.

    /usr/bin/python3 -m scripts.training.pack_photos scripts/training/configs/denoise-gpu.yaml \
        --out scripts/training/data-cache/pack --quality 97

The device tool sends the working tree and carried paths, 64 MiB in all; the training photos are about
140 MB as PNG/BMP. Every photo of every folder (the held-out ones too, so that `data.split_holdout`
holds out the same photos there as here) is written as a JPEG of `--quality` with no chroma
subsampling (4:4:4) to OUT/<folder name>/<stem>.jpg. At quality 97 the round trip is about 48 dB PSNR
from the original: far below the noise a denoiser is trained to remove, and BSD200 and T91 are
JPEG-born photos already. Then train there with `train.py --dirs OUT/<folder> ...`.

Checks before it returns: the packed folders hold out exactly the photos (by name) that the originals
do, and the mean round-trip PSNR is printed per folder.
"""
from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
import torch
import yaml
from PIL import Image

from .data import list_images, load_rgb, repo_path, split_holdout, write_atomic
from .losses import psnr


def pack(dirs, out: Path, quality: int) -> int:
    total = 0
    for d in dirs:
        src = repo_path(d)
        files = list_images([src])
        dst = out / src.name
        if len({f.stem for f in files}) != len(files):
            raise SystemExit(f"{src}: two photos share a name; a packed folder would lose one")
        psnrs = []
        for f in files:
            rgb = load_rgb(f)
            buf = io.BytesIO()
            Image.fromarray(rgb).save(buf, "JPEG", quality=quality, subsampling=0)
            data = buf.getvalue()
            back = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
            psnrs.append(psnr(torch.from_numpy(back).float() / 255, torch.from_numpy(rgb).float() / 255))
            write_atomic(dst / f"{f.stem}.jpg", data)
            total += len(data)
        _, held = split_holdout(files)
        _, held_packed = split_holdout(list_images([dst]))
        if [f.stem for f in held] != [f.stem for f in held_packed]:
            raise SystemExit(f"{dst}: the packed folder would hold out other photos than {src}")
        print(f"{src} -> {dst}: {len(files)} photos, {sum(p.stat().st_size for p in dst.iterdir()) / 1e6:.1f} MB, "
              f"round trip {np.mean(psnrs):.2f} dB (min {np.min(psnrs):.2f}); the same {len(held)} held out", flush=True)
    return total


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("--out", required=True)
    ap.add_argument("--quality", type=int, default=97)
    args = ap.parse_args(argv)
    with open(args.config) as f:
        cfg = yaml.safe_load(f)
    total = pack(cfg["data"]["dirs"], repo_path(args.out), args.quality)
    print(f"{total / 2 ** 20:.1f} MiB in all", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
