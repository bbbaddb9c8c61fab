"""Classical inpainting baseline: OpenCV Telea (fast marching) on Kodak24 with the committed masks.

    /usr/bin/python3 scripts/baselines/telea.py [--images ../shared/datasets/test/Kodak24] \
        [--masks test/fixtures/masks] [--radii 3 5] [--out docs/baselines/telea.json]

For each mask kind (thin, medium, thick) and inpainting radius: PSNR over the masked pixels (RGB,
0-255, MSE over masked pixels and all 3 channels; mean over images) and SSIM over the whole image
(Gaussian 11x11, sigma 1.5, per channel, averaged), as `restora eval inpaint` measures. Evaluation
data is only read here, never trained on. Single-threaded.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from scripts.baselines.metrics import psnr, ssim  # noqa: E402

KINDS = ("thin", "medium", "thick")


def telea(img_bgr: np.ndarray, mask: np.ndarray, radius: int) -> np.ndarray:
    """img HxWx3 uint8, mask HxW bool (True = fill). The hole is zeroed first, as the engine feeds it."""
    hole = img_bgr.copy()
    hole[mask] = 0
    return cv2.inpaint(hole, mask.astype(np.uint8) * 255, radius, cv2.INPAINT_TELEA)


def read_mask(path: Path, shape) -> np.ndarray:
    m = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if m is None:
        raise SystemExit(f"telea: {path} is not a readable mask")
    if m.shape != tuple(shape[:2]):
        raise SystemExit(f"telea: {path} is {m.shape[1]}x{m.shape[0]}, its image is {shape[1]}x{shape[0]}")
    return m > 127


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", default=str(ROOT.parent / "shared" / "datasets" / "test" / "Kodak24"))
    ap.add_argument("--masks", default=str(ROOT / "test" / "fixtures" / "masks"))
    ap.add_argument("--radii", type=int, nargs="+", default=[3, 5])
    ap.add_argument("--out", default=str(ROOT / "docs" / "baselines" / "telea.json"))
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    images = sorted(Path(args.images).glob("*.png"))
    if not images:
        raise SystemExit(f"telea: no PNG images in {args.images}")
    results, per_image = {}, {}
    for kind in KINDS:
        results[kind], per_image[kind] = {}, {}
        for r in args.radii:
            ps, ss, secs = [], [], 0.0
            for p in images:
                img = cv2.imread(str(p), cv2.IMREAD_COLOR)
                mask = read_mask(Path(args.masks) / kind / f"{p.stem}.png", img.shape)
                t = time.perf_counter()
                out = telea(img, mask, r)
                secs += time.perf_counter() - t
                ps.append(psnr(out, img, mask))
                ss.append(ssim(out, img))
            results[kind][f"r{r}"] = {"radius": r, "psnr_masked": round(float(np.mean(ps)), 3),
                                      "ssim": round(float(np.mean(ss)), 4),
                                      "seconds_per_image": round(secs / len(images), 3)}
            per_image[kind][f"r{r}"] = {p.stem: [round(a, 3), round(b, 4)] for p, a, b in zip(images, ps, ss)}
    doc = {
        "method": "OpenCV Telea (cv2.inpaint, INPAINT_TELEA)",
        "opencv": cv2.__version__,
        "set": Path(args.images).name,
        "images": len(images),
        "masks": "test/fixtures/masks/{thin,medium,thick} (scripts/make_masks.py)",
        "metrics": {"psnr_masked": "dB, RGB 0-255, MSE over masked pixels x 3 channels, mean over images",
                    "ssim": "whole image, Gaussian 11x11 sigma 1.5, per RGB channel averaged, valid region, mean over images"},
        "command": "/usr/bin/python3 scripts/baselines/telea.py",
        "results": results,
        # the bar an inpainter must clear (issue 3): the better radius per kind
        "best": {k: max(results[k].values(), key=lambda row: row["psnr_masked"])["radius"] for k in KINDS},
        "per_image": {"columns": ["psnr_masked", "ssim"], **per_image},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"Telea on {doc['set']} ({len(images)} images); PSNR over the mask (dB) / SSIM (whole image)")
    print("| masks  | " + " | ".join(f"radius {r}" for r in args.radii) + " |")
    print("|---|" + "---|" * len(args.radii))
    for kind in KINDS:
        cells = [f"{results[kind][f'r{r}']['psnr_masked']:.2f} / {results[kind][f'r{r}']['ssim']:.4f}" for r in args.radii]
        print(f"| {kind:6s} | " + " | ".join(cells) + " |")
    print("best radius per kind (the bar to beat): " + ", ".join(f"{k} r{doc['best'][k]}" for k in KINDS))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
