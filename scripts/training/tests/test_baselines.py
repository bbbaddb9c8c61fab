"""Classical baselines (scripts/baselines): metric definitions equal the engine's, Telea and NL-means runs."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import smooth_photo  # noqa: E402  (tests/ is on sys.path under pytest)

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts"))

from scripts.baselines import nlmeans, telea  # noqa: E402
from scripts.baselines.metrics import psnr, ssim  # noqa: E402

import make_masks  # noqa: E402


def pair(h=40, w=48, seed=0):
    rng = np.random.default_rng(seed)
    a = smooth_photo(h, w, seed)
    b = np.clip(a.astype(int) + rng.integers(-12, 13, a.shape), 0, 255).astype(np.uint8)
    mask = np.zeros((h, w), bool)
    mask[5:20, 10:30] = True
    return a, b, mask


def test_psnr_by_hand():
    a = np.zeros((4, 4, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 255  # one error of 255 among 48 samples
    assert psnr(a, b) == pytest.approx(10 * np.log10(48))
    mask = np.zeros((4, 4), bool)
    mask[0, :2] = True  # 2 pixels x 3 channels
    assert psnr(a, b, mask) == pytest.approx(10 * np.log10(6))
    assert psnr(a, a) == float("inf")
    c = smooth_photo(32, 32, 1)
    assert ssim(c, c) == pytest.approx(1.0)
    assert ssim(c, 255 - c) < 0.2


@pytest.mark.skipif(shutil.which("node") is None or not (ROOT / "app/engine/eval/metrics.ts").exists(),
                    reason="needs node and the engine's metrics")
def test_metrics_equal_the_engines(tmp_path):
    a, b, mask = pair()
    np.ascontiguousarray(a.transpose(2, 0, 1)).tofile(tmp_path / "a.u8")
    np.ascontiguousarray(b.transpose(2, 0, 1)).tofile(tmp_path / "b.u8")
    mask.astype(np.uint8).tofile(tmp_path / "m.u8")
    script = tmp_path / "m.mts"
    script.write_text(f"""
import {{ readFileSync }} from 'node:fs';
import {{ psnr, psnrMasked, ssimPlanar }} from {json.dumps(str(ROOT / 'app/engine/eval/metrics.ts'))};
const r = (n: string) => new Uint8Array(readFileSync({json.dumps(str(tmp_path))} + '/' + n));
const a = r('a.u8'), b = r('b.u8'), m = r('m.u8');
console.log(JSON.stringify({{ psnr: psnr(a, b), masked: psnrMasked(a, b, m), ssim: ssimPlanar(a, b, {a.shape[1]}, {a.shape[0]}) }}));
""")
    out = subprocess.run(["node", "--import", "tsx", str(script)], capture_output=True, text=True, cwd=str(ROOT))
    assert out.returncode == 0, out.stderr
    eng = json.loads(out.stdout)
    assert psnr(a, b) == pytest.approx(eng["psnr"], abs=1e-9)
    assert psnr(a, b, mask) == pytest.approx(eng["masked"], abs=1e-9)
    assert ssim(a, b) == pytest.approx(eng["ssim"], abs=1e-9)


def test_telea_fills_only_the_hole():
    img = smooth_photo(64, 64, 3)
    mask = make_masks.mask_for("x.png", 64, 64, "thin") > 0
    out = telea.telea(img, mask, 3)
    assert np.array_equal(out[~mask], img[~mask])
    assert psnr(out, img, mask) > 25  # a smooth photo is easy to fill
    poisoned = img.copy()
    poisoned[mask] = 255  # what was under the hole does not matter
    assert np.array_equal(telea.telea(poisoned, mask, 3), out)


def test_telea_script_on_a_tiny_set(tmp_path):
    imgs, masks = tmp_path / "imgs", tmp_path / "masks"
    imgs.mkdir()
    for i in range(2):
        cv2.imwrite(str(imgs / f"k{i}.png"), smooth_photo(64, 72, i))
    assert make_masks.main(["--images", str(imgs), "--out", str(masks)]) == 0
    out = tmp_path / "telea.json"
    assert telea.main(["--images", str(imgs), "--masks", str(masks), "--radii", "3", "5", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["images"] == 2 and set(doc["results"]) == {"thin", "medium", "thick"}
    for kind in ("thin", "medium", "thick"):
        for r in ("r3", "r5"):
            row = doc["results"][kind][r]
            assert 15 < row["psnr_masked"] < 60 and 0 < row["ssim"] <= 1
    # bigger holes are harder
    assert doc["results"]["thin"]["r3"]["ssim"] > doc["results"]["thick"]["r3"]["ssim"]


def test_nlmeans_script_on_a_tiny_pair_set(tmp_path):
    base = tmp_path / "Pairs"
    (base / "clean").mkdir(parents=True)
    (base / "noisy").mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        c = smooth_photo(48, 48, i)
        n = np.clip(c + rng.normal(0, 8, c.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(base / "clean" / f"{i}.png"), c)
        cv2.imwrite(str(base / "noisy" / f"{i}.png"), n)
    out = tmp_path / "nl.json"
    assert nlmeans.main(["--root", str(tmp_path), "--sets", "Pairs", "--h", "3", "8", "--out", str(out)]) == 0
    s = json.loads(out.read_text())["sets"]["Pairs"]
    assert s["images"] == 2 and s["best"] in ("h3", "h8")
    assert s["rows"][s["best"]]["psnr"] > s["rows"]["noisy"]["psnr"]


def test_committed_baseline_results_are_complete():
    doc = json.loads((ROOT / "docs" / "baselines" / "telea.json").read_text())
    assert doc["images"] == 24 and set(doc["results"]) == {"thin", "medium", "thick"}
    assert set(doc["results"]["medium"]) == {"r3", "r5"}
    assert all(doc["best"][k] in (3, 5) for k in doc["results"])
