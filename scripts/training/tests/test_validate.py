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

    other = tmp_path / "other"
    other.mkdir()
    for i in range(10):  # different content: the held-out 10th photo is not the config's
        cv2.imwrite(str(other / f"q{i:02d}.png"), smooth_photo(64, 64, 100 + i))
    assert V.main([ckpt, "--dirs", str(other)]) == 0
    assert scores(capsys.readouterr().out)[0] != first[0]
