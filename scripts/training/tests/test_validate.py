"""validate.py: seeded held-out scores that compare checkpoints, from the folders asked for."""
from __future__ import annotations

import re

import cv2

from scripts.training import train as T
from scripts.training import validate as V

from conftest import smooth_photo


def scores(out: str) -> list[float]:
    return [float(x) for x in re.findall(r"score \(mean\) ([0-9.]+) dB", out)]


def test_scores_repeat_and_follow_the_folders(tiny_config, tmp_path, capsys):
    cfg = tiny_config("denoise")
    assert T.main([str(cfg), "--root", str(tmp_path)]) == 0
    ckpt = str(tmp_path / "scripts" / "training" / "checkpoints" / "tiny-denoise.pt")
    capsys.readouterr()

    assert V.main([ckpt, ckpt]) == 0
    out = capsys.readouterr().out
    first = scores(out)
    assert len(first) == 2 and first[0] == first[1]  # seeded noise: the same checkpoint scores the same
    assert "camera + NR, auto" in out and "colour sigma 50" in out
    assert "natural sigma 2 " in out and "natural clean, auto" in out  # low noise, since session 11
    # the score is the mean of all 16 cases; the first 9 (sessions 5-10) are reported beside it
    per_case = [float(x) for x in re.findall(r"^  \S.*? +([0-9.]+) dB$", out.split("\n/")[0], re.M)]
    assert len(per_case) == 20
    assert abs(sum(per_case[:16]) / 16 - first[0]) < 0.01
    old9 = float(re.search(r"before session 11\) ([0-9.]+) dB", out).group(1))
    assert abs(sum(per_case[:9]) / 9 - old9) < 0.01
    # since session 21: four over-map cases (the map above the noise), printed apart from the score
    assert "over-map 15 x2 " in out and "over-map camera x2" in out
    over = float(re.search(r"over-map \(not in the score\) ([0-9.]+) dB", out).group(1))
    assert abs(sum(per_case[16:]) / 4 - over) < 0.01

    other = tmp_path / "other"
    other.mkdir()
    for i in range(10):  # different content: the held-out 10th photo is not the config's
        cv2.imwrite(str(other / f"q{i:02d}.png"), smooth_photo(64, 64, 100 + i))
    assert V.main([ckpt, "--dirs", str(other)]) == 0
    assert scores(capsys.readouterr().out)[0] != first[0]


def test_dihedral_inverts_and_passes_score_the_ensemble(tiny_config, tmp_path, capsys):
    import torch

    x = torch.arange(2 * 3 * 5, dtype=torch.float32).view(1, 2, 3, 5)
    seen = set()
    for k in range(8):
        y = V.dihedral(x, k)
        seen.add(tuple(y.flatten().tolist()))
        assert torch.equal(V.dihedral(y, k, inverse=True), x)
    assert len(seen) == 8
    # the engine's numbering (tiler.ts): k 4 transposes, k 1 mirrors left-right, k 2 top-bottom
    assert V.dihedral(x, 4)[0, 1, 4, 2] == x[0, 1, 2, 4]
    assert V.dihedral(x, 1)[0, 0, 1, 0] == x[0, 0, 1, 4]
    assert V.dihedral(x, 2)[0, 1, 0, 3] == x[0, 1, 2, 3]

    # a model that shifts right by one pixel: 8 passes average it into the mean of the 4 neighbours
    def shift(img, _smap):
        return torch.cat([img[..., :1], img[..., :-1]], dim=-1)
    img = torch.rand(1, 3, 9, 9)
    out = V.ensemble(shift, img, torch.zeros(1, 1, 9, 9), passes=8)
    want = (img[..., 1:-1, :-2] + img[..., 1:-1, 2:] + img[..., :-2, 1:-1] + img[..., 2:, 1:-1]) / 4
    assert torch.allclose(out[..., 1:-1, 1:-1], want, atol=1e-6)

    cfg = tiny_config("denoise")
    assert T.main([str(cfg), "--root", str(tmp_path)]) == 0
    ckpt = str(tmp_path / "scripts" / "training" / "checkpoints" / "tiny-denoise.pt")
    capsys.readouterr()
    assert V.main([ckpt]) == 0
    one = scores(capsys.readouterr().out)[0]
    assert V.main([ckpt, "--passes", "8"]) == 0
    out = capsys.readouterr().out
    assert "8 pass(es)" in out and scores(out)[0] != one


def test_map_sweep_scores_each_checkpoint_at_each_ratio(tiny_config, tmp_path, capsys):
    cfg = tiny_config("denoise")
    assert T.main([str(cfg), "--root", str(tmp_path)]) == 0
    ckpt = str(tmp_path / "scripts" / "training" / "checkpoints" / "tiny-denoise.pt")
    capsys.readouterr()
    assert V.main([ckpt, ckpt, "--map-sweep"]) == 0
    out = capsys.readouterr().out
    rows = re.findall(r"^  (.+?) +map x(\S+) +([0-9.]+) +([0-9.]+) +([-+][0-9.]+)$", out, re.M)
    names = ["white sigma 5", "white sigma 15", "white sigma 25", "camera, auto", "clean, auto"]
    assert [(n, float(r)) for n, r, *_ in rows] == [(n, r) for n in names for r in V.MAP_RATIOS]
    assert all(a == b and float(d) == 0 for _, _, a, b, d in rows)  # the same checkpoint twice: no lead
    # a map further above the noise changes what the net does
    white15 = [float(a) for n, _, a, _, _ in rows if n == "white sigma 15"]
    assert len(set(white15)) > 1
