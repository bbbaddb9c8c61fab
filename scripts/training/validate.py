"""Held-out validation of a denoiser checkpoint (never a test set), for choosing between candidates.

    /usr/bin/python3 -m scripts.training.validate scripts/training/checkpoints/restora-denoise.pt [more.pt ...] [--dirs D ...]

Centre crops (128 px) of the held-out training photos (every 10th file, `data.split_holdout`), in
two versions: as they are, and through a seeded `data.colour_augment` (sharp chroma detail, which
the photos themselves lack). Each gets seeded AWGN at sigma 15, 25 and 50 with the true level in
the map; a seeded camera-noise version (`data.camera_noise`) is run twice: with the std of its own
noise, and with what the shipped noise estimator reads on it (as `--sigma auto` would); one more
camera-noise version, as after in-camera noise reduction (`nr_p=1`), gets the estimator's reading. Since
session 11 it adds low noise, where most photographs are: seeded AWGN at sigma 2, 5 and 10 on both versions, and
the natural crops as they are (no noise added) with the level the estimator reads on them, as Auto runs on a clean
photo. Prints PSNR (8-bit rounded output, RGB) per case and the mean over those 16 cases, which is the selection
score, and, for comparison with sessions 5-10, the mean over the first 9 (sigma 15-50 and camera noise). Since
session 21 it also scores, apart from the score, four over-map cases: the map above the noise the crop carries
(natural sigma 15 with the map at 1.5x and 2x, sigma 25 at 2x, and the camera noise at twice the estimator's
reading), as a manual strength above Auto's reading gives it; the clean crop is still the target.

`--map-sweep` prints, instead of the score, each checkpoint's PSNR with the map at 1, 1.1, 1.2, 1.35, 1.5, 2 and 3
times the noise's level (white noise sigma 5, 15, 25; camera noise and clean crops at the estimator's reading), as
a manual strength above Auto's reading gives it; session 22 chose the above-noise net's from_ratio with it.

`--passes 8` scores the self-ensemble the engine runs for "Best quality" (app/engine/tiling/tiler.ts:
each crop in its 8 rotations and mirrors, turned back and averaged); 2 and 4 score subsets of those
(identity + transpose; the 4 rotations), to see what fewer passes keep.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from .archs import load_checkpoint
from .data import ROOT, camera_noise, center_crops, colour_augment, estimator_reading, list_images, load_rgb, split_holdout
from .losses import psnr

# the estimator shipped with restora-denoise (configs/noise-estimator.yaml, ship_with)
ESTIMATOR = "scripts/training/checkpoints/restora-denoise-estimator.pt"


def cases(dirs, size=128):
    _, val_files = split_holdout(list_images(dirs))
    clean = center_crops([load_rgb(f) for f in val_files], size)
    colour = colour_augment(clean.clone(), np.random.default_rng(77), 1.0)

    def awgn(sigmas):  # seeded white noise with the true level in the map, on both versions
        for name, c in (("natural", clean), ("colour", colour)):
            for s in sigmas:
                g = torch.Generator().manual_seed(1000 + s)
                noisy = c + torch.randn(c.shape, generator=g) * (s / 255)
                yield f"{name} sigma {s}", noisy, torch.full((c.shape[0], 1, size, size), s / 255), c

    out = list(awgn((15, 25, 50)))
    cam = camera_noise(clean, np.random.default_rng(5))
    level = (cam - clean).flatten(1).std(1).view(-1, 1, 1, 1).expand(-1, 1, size, size)
    out.append(("camera noise", cam, level.contiguous(), clean))
    # the same, with the level `--sigma auto` would read (the shipped estimator, as in training)
    estimator, _ = load_checkpoint(ROOT / ESTIMATOR)
    auto = estimator_reading(estimator, cam).view(-1, 1, 1, 1).expand(-1, 1, size, size)
    out.append(("camera noise, auto", cam, auto.contiguous(), clean))
    nr = camera_noise(clean, np.random.default_rng(6), nr_p=1.0)
    auto = estimator_reading(estimator, nr).view(-1, 1, 1, 1).expand(-1, 1, size, size)
    out.append(("camera + NR, auto", nr, auto.contiguous(), clean))
    # low noise (session 11); the first N_BEFORE cases stay as they were, so their mean compares with old scores
    out += awgn((2, 5, 10))
    auto = estimator_reading(estimator, clean).view(-1, 1, 1, 1).expand(-1, 1, size, size)
    out.append(("natural clean, auto", clean, auto.contiguous(), clean))
    # over-map (session 21; printed apart, not in the score): the map above the noise, as a manual strength above
    # Auto's reading gives it; the target is still the clean crop
    for s, f in ((15, 1.5), (15, 2.0), (25, 2.0)):
        g = torch.Generator().manual_seed(1000 + s)  # the same noise as the "natural sigma S" case
        noisy = clean + torch.randn(clean.shape, generator=g) * (s / 255)
        out.append((f"over-map {s} x{f:g}", noisy, torch.full((clean.shape[0], 1, size, size), s * f / 255), clean))
    auto = estimator_reading(estimator, cam).view(-1, 1, 1, 1).expand(-1, 1, size, size)
    out.append(("over-map camera x2", cam, (auto * 2).contiguous(), clean))
    return out


N_BEFORE = 9  # the cases of sessions 5-10 (sigma 15, 25, 50 and camera noise)
N_SCORED = 16  # the cases in the score; the over-map cases after them are printed apart


# the symmetries of the square as the engine numbers them (tiler.ts `dihedral`): bit 4 transpose,
# then bit 1 mirror left-right, then bit 2 top-bottom
PASS_SETS = {1: [0], 2: [0, 4], 4: [0, 3, 5, 6], 8: list(range(8))}


def dihedral(x, k, inverse=False):
    ops = [op for bit, op in ((4, lambda t: t.transpose(-1, -2)), (1, lambda t: t.flip(-1)), (2, lambda t: t.flip(-2))) if k & bit]
    for op in reversed(ops) if inverse else ops:  # each op is its own inverse: undo them in reverse order
        x = op(x)
    return x


def ensemble(m, noisy, smap, passes=1):
    ks = PASS_SETS[passes]
    return sum(dihedral(m(dihedral(noisy, k), dihedral(smap, k)), k, inverse=True) for k in ks) / len(ks)


MAP_RATIOS = (1.0, 1.1, 1.2, 1.35, 1.5, 2.0, 3.0)


def map_sweep_cases(dirs, size=128):
    """Held-out crops (as `cases`) with their noise and the map it calls for, to be scaled by a ratio: white noise
    at sigma 5, 15 and 25 (the true level), camera noise and the natural crops (the estimator's reading)."""
    _, val_files = split_holdout(list_images(dirs))
    clean = center_crops([load_rgb(f) for f in val_files], size)
    out = []
    for s in (5, 15, 25):
        g = torch.Generator().manual_seed(1000 + s)
        out.append((f"white sigma {s}", clean + torch.randn(clean.shape, generator=g) * (s / 255),
                    torch.full((clean.shape[0], 1, 1, 1), s / 255), clean))
    estimator, _ = load_checkpoint(ROOT / ESTIMATOR)
    cam = camera_noise(clean, np.random.default_rng(5))
    out.append(("camera, auto", cam, estimator_reading(estimator, cam).view(-1, 1, 1, 1), clean))
    out.append(("clean, auto", clean, estimator_reading(estimator, clean).view(-1, 1, 1, 1), clean))
    return out


def map_sweep(paths, dirs, ratios=MAP_RATIOS, size=128):
    """PSNR of each checkpoint with the map at `ratio` x the noise's level, per case and ratio (how a manual strength
    above Auto's reading fares; session 22 chose the above-noise net's from_ratio with it). Prints a table, the
    second checkpoint's lead over the first in the last column; returns {(case, ratio): [psnr per checkpoint]}."""
    nets = [load_checkpoint(p)[0] for p in paths]
    table = {}
    with torch.no_grad():
        for name, noisy, base, clean in map_sweep_cases(dirs, size):
            for r in ratios:
                smap = (base * r).expand(-1, 1, size, size).contiguous()
                row = [float(np.mean([psnr(m(noisy[k:k + 8], smap[k:k + 8]), clean[k:k + 8])
                                      for k in range(0, clean.shape[0], 8)])) for m in nets]
                table[(name, r)] = row
                lead = f"  {row[1] - row[0]:+.3f}" if len(row) > 1 else ""
                print(f"  {name:16s} map x{r:<4g} " + " ".join(f"{v:6.2f}" for v in row) + lead, flush=True)
    return table


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dirs", nargs="+", default=None,
                    help="held out of these training folders instead of the first checkpoint's (e.g. only the "
                         "folders that no candidate has trained on since a folder changed)")
    ap.add_argument("--passes", type=int, default=1, choices=sorted(PASS_SETS),
                    help="8: the engine's self-ensemble (Best quality); 2 and 4: subsets of it")
    ap.add_argument("--map-sweep", action="store_true",
                    help="instead of the score: PSNR with the map at 1-3x the noise's level (white noise, camera noise, "
                         "clean crops) for each checkpoint, the second's lead over the first last")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.map_sweep:
        dirs = args.dirs or load_checkpoint(args.checkpoints[0])[1]["config"]["data"]["dirs"]
        print("PSNR dB per checkpoint: " + ", ".join(args.checkpoints))
        map_sweep(args.checkpoints, dirs)
        return 0
    cs = None
    for path in args.checkpoints:
        m, st = load_checkpoint(path)
        # held out of the first checkpoint's training folders, and the same for all, so the scores compare
        cs = cs or cases(args.dirs or st["config"]["data"]["dirs"])
        vals = []
        with torch.no_grad():
            for name, noisy, smap, clean in cs:
                v = float(np.mean([psnr(ensemble(m, noisy[k:k + 8], smap[k:k + 8], args.passes), clean[k:k + 8])
                                   for k in range(0, clean.shape[0], 8)]))
                vals.append(v)
                print(f"  {name:20s} {v:6.2f} dB")
        print(f"{path}: step {st['step']}, {args.passes} pass(es), score (mean) {np.mean(vals[:N_SCORED]):.3f} dB; "
              f"sigma 15-50 and camera (the {N_BEFORE} cases before session 11) {np.mean(vals[:N_BEFORE]):.3f} dB; "
              f"low noise {np.mean(vals[N_BEFORE:N_SCORED]):.3f} dB; over-map (not in the score) "
              f"{np.mean(vals[N_SCORED:]):.3f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
