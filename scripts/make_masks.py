"""Writes the committed inpainting evaluation masks (seeded, reproducible).

    /usr/bin/python3 scripts/make_masks.py [--images ../shared/datasets/test/Kodak24] [--out test/fixtures/masks]

One mask per test image and kind: <out>/{thin,medium,thick}/<image base name>.png, the image's size,
1-bit grey PNG, white (1) = fill. Masks come from scripts/training/data.make_mask (strokes, blobs,
rectangles) with a generator seeded by (SEED, kind, file name), so a mask never depends on which other
files are present. Only the images' sizes are read (their headers), never their pixels.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.training.data import IMAGE_EXTS, MASK_SIZES, make_mask, write_atomic  # noqa: E402

SEED = 20261127
KINDS = ("thin", "medium", "thick")


def mask_for(name: str, h: int, w: int, kind: str, seed: int = SEED) -> np.ndarray:
    rng = np.random.default_rng([seed, KINDS.index(kind), zlib.crc32(name.encode())])
    return make_mask(h, w, kind, rng)


def write_mask(m: np.ndarray, path: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(m > 0).save(buf, format="PNG", optimize=True)  # bool -> mode "1": a 1-bit grey PNG
    write_atomic(path, buf.getvalue())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", default=str(ROOT.parent / "shared" / "datasets" / "test" / "Kodak24"))
    ap.add_argument("--out", default=str(ROOT / "test" / "fixtures" / "masks"))
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)
    images = sorted(p for p in Path(args.images).iterdir() if p.suffix.lower() in IMAGE_EXTS)
    if not images:
        print(f"make_masks: no images in {args.images}", file=sys.stderr)
        return 1
    summary = {}
    for kind in KINDS:
        cover = []
        for p in images:
            with Image.open(p) as im:
                w, h = im.size
            m = mask_for(p.name, h, w, kind, args.seed)
            write_mask(m, Path(args.out) / kind / f"{p.stem}.png")
            cover.append(float((m > 0).mean()))
        summary[kind] = {"images": len(cover), "mean_coverage": round(float(np.mean(cover)), 4),
                         "min": round(min(cover), 4), "max": round(max(cover), 4),
                         "target": list(MASK_SIZES[kind]["cover"])}
        print(f"{kind:7s} {len(cover)} masks, coverage mean {np.mean(cover):.2%} "
              f"(min {min(cover):.2%}, max {max(cover):.2%})")
    print(json.dumps({"seed": args.seed, "kinds": summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
