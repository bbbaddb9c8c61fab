"""Pack a config's training folders small enough to travel to a lent GPU machine.

    /usr/bin/python3 -m scripts.training.pack_photos scripts/training/configs/denoise-gpu.yaml \
        --out scripts/training/data-cache/pack [--quality 97 | --lossless]
    /usr/bin/python3 -m scripts.training.pack_photos --verify DIR ...     # there, before training

The device tool sends the working tree and carried paths, 64 MiB in all; the training photos are about
140 MB as PNG/BMP. Every photo of every folder (the held-out ones too, so that `data.split_holdout`
holds out the same photos there as here) is written to OUT/<folder name>/<stem>.<ext>:
- by default as a JPEG of `--quality` with no chroma subsampling (4:4:4). At quality 97 the round trip
  is about 48 dB PSNR from the original, 52 MiB for the denoiser's 340 photos: one call carries them all.
- with `--lossless` as lossless WebP, the very pixels: about 96 MiB for the same photos, so they travel
  in two calls to a machine kept warm, a folder or two per call (see scripts/training/README.md,
  "GPU path"). Session 14's JPEG-packed targets are one suspect for its loss on real camera noise.
Then train there with `train.py --dirs OUT/<folder> ...`.

Each packed folder gets MANIFEST.txt (one file name per line). `--verify` checks that every listed
photo is there, so that a run on a machine that was released between two calls (and lost the first
call's folders) stops instead of training on fewer photos.

Checks before it returns: the packed folders hold out exactly the photos (by name) that the originals
do, other images left in them by an earlier packing are removed, and the mean round-trip PSNR is
printed per folder (lossless: every photo is checked equal).
"""
from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .data import list_images, load_rgb, repo_path, split_holdout, write_atomic
from .losses import psnr
from .train import load_config


MANIFEST = "MANIFEST.txt"


def encode(rgb: np.ndarray, quality: int, lossless: bool) -> tuple[bytes, str]:
    buf = io.BytesIO()
    if lossless:
        Image.fromarray(rgb).save(buf, "WEBP", lossless=True, quality=100, method=4)
        return buf.getvalue(), ".webp"
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality, subsampling=0)
    return buf.getvalue(), ".jpg"


def pack(dirs, out: Path, quality: int, lossless: bool = False) -> int:
    total = 0
    for d in dirs:
        src = repo_path(d)
        files = list_images([src])
        dst = out / src.name
        if len({f.stem for f in files}) != len(files):
            raise SystemExit(f"{src}: two photos share a name; a packed folder would lose one")
        psnrs, names = [], []
        for f in files:
            rgb = load_rgb(f)
            data, ext = encode(rgb, quality, lossless)
            back = np.array(Image.open(io.BytesIO(data)).convert("RGB"))  # writable, for torch.from_numpy
            if lossless and not np.array_equal(back, rgb):
                raise SystemExit(f"{f}: the lossless WebP does not give back the same pixels")
            psnrs.append(psnr(torch.from_numpy(back).float() / 255, torch.from_numpy(rgb).float() / 255))
            write_atomic(dst / f"{f.stem}{ext}", data)
            names.append(f"{f.stem}{ext}")
            total += len(data)
        for stale in list_images([dst]):  # another format's files from an earlier packing
            if stale.name not in names:
                stale.unlink()
        write_atomic(dst / MANIFEST, ("\n".join(names) + "\n").encode())
        _, held = split_holdout(files)
        _, held_packed = split_holdout(list_images([dst]))
        if [f.stem for f in held] != [f.stem for f in held_packed]:
            raise SystemExit(f"{dst}: the packed folder would hold out other photos than {src}")
        size = sum((dst / n).stat().st_size for n in names)
        how = "lossless (checked equal)" if lossless else f"round trip {np.mean(psnrs):.2f} dB (min {np.min(psnrs):.2f})"
        print(f"{src} -> {dst}: {len(files)} photos, {size / 1e6:.1f} MB, {how}; the same {len(held)} held out", flush=True)
    return total


def verify(dirs) -> list[str]:
    """What is wrong with packed folders: a folder or its manifest missing, a listed photo missing, a photo
    there that the manifest does not list, or a first photo that `load_rgb` cannot read. Empty when whole."""
    problems = []
    for d in dirs:
        d = Path(d)
        m = d / MANIFEST
        if not m.is_file():
            problems.append(f"{d}: no {MANIFEST} (not carried, or the machine was released since the call that carried it)")
            continue
        names = [n for n in m.read_text().split("\n") if n]
        missing = [n for n in names if not (d / n).is_file()]
        listed = set(names)
        extra = [p.name for p in list_images([d]) if p.name not in listed]
        if missing:
            problems.append(f"{d}: {len(missing)} of {len(names)} photos missing (e.g. {missing[0]})")
        elif names:
            try:  # the training side's decoder (OpenCV) reads this format on this machine
                load_rgb(d / names[0])
            except ValueError as e:
                problems.append(f"{d}: {e}")
        if extra:
            problems.append(f"{d}: {len(extra)} photos not in its manifest (e.g. {extra[0]})")
    return problems


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("config", nargs="?")
    ap.add_argument("--out")
    ap.add_argument("--quality", type=int, default=97)
    ap.add_argument("--lossless", action="store_true", help="lossless WebP instead of JPEG")
    ap.add_argument("--verify", nargs="+", metavar="DIR", help="check packed folders against their manifests")
    args = ap.parse_args(argv)
    if args.verify:
        problems = verify(args.verify)
        for p in problems:
            print(p, file=sys.stderr)
        if not problems:
            print(f"{len(args.verify)} packed folder(s) whole", flush=True)
        return 1 if problems else 0
    if not args.config or not args.out:
        ap.error("CONFIG and --out are needed (or --verify DIR ...)")
    cfg = load_config(args.config)
    total = pack(cfg["data"]["dirs"], repo_path(args.out), args.quality, args.lossless)
    print(f"{total / 2 ** 20:.1f} MiB in all", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
