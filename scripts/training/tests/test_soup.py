"""soup.py: the weight average of fine-tunes of one net; train.py --seed: a config trained again as its own id."""
from __future__ import annotations

import pytest
import torch

from scripts.training import soup as S
from scripts.training import train as T
from scripts.training.archs import load_checkpoint


def ckpt(root, name):
    return root / "scripts" / "training" / "checkpoints" / f"{name}.pt"


def test_seeds_are_their_own_runs_and_their_soup_is_the_mean(tiny_config, tmp_path, capsys):
    assert T.main([str(tiny_config("denoise")), "--root", str(tmp_path)]) == 0
    base = ckpt(tmp_path, "tiny-denoise")
    cand = tiny_config("denoise", id="tiny-ft", init=str(base))
    for seed in (1, 2):
        assert T.main([str(cand), "--root", str(tmp_path), "--seed", str(seed), "--steps", "5"]) == 0
    out = capsys.readouterr().out
    assert "tiny-ft-seed1:" in out and "tiny-ft-seed2:" in out
    assert not ckpt(tmp_path, "tiny-ft").exists() and (tmp_path / "runs" / "tiny-ft-seed2" / "state.pt").exists()
    a, b = (torch.load(ckpt(tmp_path, f"tiny-ft-seed{s}")) for s in (1, 2))
    assert a["config"]["seed"] == 1 and a["step"] == 5
    assert not torch.equal(a["ema"]["head.weight"], b["ema"]["head.weight"])  # other seeds, other weights

    out_path = tmp_path / "soup.pt"
    paths = [base, ckpt(tmp_path, "tiny-ft-seed1"), ckpt(tmp_path, "tiny-ft-seed2")]
    assert S.main([str(out_path), *map(str, paths)]) == 0
    soup = torch.load(out_path)
    parts = [torch.load(p) for p in paths]
    want = sum(p["ema"]["head.weight"].double() for p in parts) / 3
    assert torch.allclose(soup["ema"]["head.weight"].double(), want, atol=1e-3)
    assert soup["ema"]["head.weight"].dtype == torch.float16
    # the training in it: the ancestor's 3 steps plus 2 from each fine-tune
    assert soup["step"] == 3 + 2 + 2 and [s["step"] for s in soup["soup"]] == [3, 5, 5]
    model, _ = load_checkpoint(out_path)  # loads as the model its config describes
    assert model(torch.rand(1, 3, 16, 16), torch.full((1, 1, 16, 16), 0.1)).shape == (1, 3, 16, 16)

    # fine-tunes of different nets: the caller counts the training, and both numbers are replaced
    assert S.main([str(out_path), *map(str, paths[1:]), "--steps", "9"]) == 2
    assert S.main([str(out_path), *map(str, paths[1:]), "--steps", "9", "--hours", "0.5"]) == 0
    soup = torch.load(out_path)
    assert soup["step"] == 9 and soup["train_seconds"] == 1800.0 and len(soup["soup"]) == 2


def test_soup_refuses_different_nets(tiny_config, tmp_path, capsys):
    assert T.main([str(tiny_config("denoise")), "--root", str(tmp_path)]) == 0
    other = tiny_config("denoise", id="tiny-wide", model={"arch": "denoiser", "widths": [8, 16], "blocks": [1, 2]})
    assert T.main([str(other), "--root", str(tmp_path)]) == 0
    out_path = tmp_path / "soup.pt"
    capsys.readouterr()
    assert S.main([str(out_path), str(ckpt(tmp_path, "tiny-denoise")), str(ckpt(tmp_path, "tiny-wide"))]) == 2
    assert "differs from" in capsys.readouterr().err and not out_path.exists()
    assert S.main([str(out_path), str(ckpt(tmp_path, "tiny-denoise"))]) == 2
    assert "at least two" in capsys.readouterr().err
    with pytest.raises(S.SoupError, match="no such checkpoint"):
        S.make_soup([ckpt(tmp_path, "tiny-denoise"), tmp_path / "gone.pt"])


def test_a_soups_card_lists_its_ingredients(tmp_path):
    from scripts.training import export_onnx as E

    parts = [{"file": "a.pt", "id": "m", "step": 3, "hours": 0.1}, {"file": "b.pt", "id": "m-seed1", "step": 5, "hours": 0.2}]
    rec = E.training_record("data", {"step": 5, "train_seconds": 1080.0, "soup": parts}, {}, {}, "cpu",
                            tmp_path / "c.yaml", tmp_path / "m.pt")
    assert rec["soup"] == parts and rec["steps"] == 5 and rec["hours"] == 0.3
    assert "soup" not in E.training_record("data", {"step": 5}, {}, {}, "cpu", tmp_path / "c.yaml", tmp_path / "m.pt")
