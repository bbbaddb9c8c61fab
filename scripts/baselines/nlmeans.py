"""Classical real-noise denoising reference: OpenCV NL-means on CC15 and PolyU100 (noisy/clean pairs).

    /usr/bin/python3 scripts/baselines/nlmeans.py [--sets CC15 PolyU100] [--h 2 3 4 5 6 8] \
        [--out docs/baselines/nlmeans.json]

cv2.fastNlMeansDenoisingColored(noisy, h, hColor = h, template 7, search 21) for a few strengths h.
PSNR over RGB on the 0-255 scale (mean over images) and SSIM (Gaussian 11x11, sigma 1.5, per channel
averaged), as `restora eval denoise` measures real-noise pairs. The best h per set is picked by looking
at the answers (an oracle), so it flatters NL-means. Also reports the noisy input itself. Evaluation
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

EXTS = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}


def pairs(set_dir: Path):
    noisy = sorted(p for p in (set_dir / "noisy").iterdir() if p.suffix.lower() in EXTS)
    if not noisy:
        raise SystemExit(f"nlmeans: no images in {set_dir / 'noisy'}")
    for p in noisy:
        c = set_dir / "clean" / p.name
        if not c.exists():
            raise SystemExit(f"nlmeans: {p.name} has no clean partner in {set_dir / 'clean'}")
        yield p.stem, cv2.imread(str(p), cv2.IMREAD_COLOR), cv2.imread(str(c), cv2.IMREAD_COLOR)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=str(ROOT.parent / "shared" / "datasets" / "test"))
    ap.add_argument("--sets", nargs="+", default=["CC15", "PolyU100"])
    ap.add_argument("--h", type=float, nargs="+", default=[2, 3, 4, 5, 6, 8])
    ap.add_argument("--out", default=str(ROOT / "docs" / "baselines" / "nlmeans.json"))
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    doc = {
        "method": "OpenCV fastNlMeansDenoisingColored (hColor = h, templateWindowSize 7, searchWindowSize 21)",
        "opencv": cv2.__version__,
        "metrics": {"psnr": "dB, RGB 0-255, all pixels and channels, mean over images",
                    "ssim": "Gaussian 11x11 sigma 1.5, per RGB channel averaged, valid region, mean over images"},
        "decoder": "OpenCV imread (libjpeg for PolyU100's JPEGs)",
        "command": "/usr/bin/python3 scripts/baselines/nlmeans.py",
        "sets": {},
    }
    for name in args.sets:
        data = list(pairs(Path(args.root) / name))
        rows = {"noisy": {"psnr": float(np.mean([psnr(n, c) for _, n, c in data])),
                          "ssim": float(np.mean([ssim(n, c) for _, n, c in data]))}}
        for h in args.h:
            ps, ss, secs = [], [], 0.0
            for _, n, c in data:
                t = time.perf_counter()
                out = cv2.fastNlMeansDenoisingColored(n, None, h, h, 7, 21)
                secs += time.perf_counter() - t
                ps.append(psnr(out, c))
                ss.append(ssim(out, c))
            rows[f"h{h:g}"] = {"h": h, "psnr": float(np.mean(ps)), "ssim": float(np.mean(ss)),
                               "seconds_per_image": secs / len(data)}
            print(f"{name} h={h:g}: {rows[f'h{h:g}']['psnr']:.2f} dB", flush=True)
        rows = {k: {kk: (round(v, 4) if isinstance(v, float) else v) for kk, v in r.items()} for k, r in rows.items()}
        best = max((k for k in rows if k != "noisy"), key=lambda k: rows[k]["psnr"])
        doc["sets"][name] = {"images": len(data), "rows": rows, "best": best}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print("| set | noisy input | " + " | ".join(f"h={h:g}" for h in args.h) + " | best (oracle) |")
    print("|---|---|" + "---|" * len(args.h) + "---|")
    for name, s in doc["sets"].items():
        r = s["rows"]
        cells = [f"{r['noisy']['psnr']:.2f}"] + [f"{r[f'h{h:g}']['psnr']:.2f}" for h in args.h]
        print(f"| {name} | " + " | ".join(cells) + f" | {r[s['best']]['psnr']:.2f} ({s['best']}) |")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
