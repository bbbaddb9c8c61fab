"""grow.py: a trained tiny denoiser gets more residual blocks, computes the same, and trains on."""
from __future__ import annotations

import pytest
import torch
import yaml

from scripts.training import grow as G
from scripts.training import train as T
from scripts.training.archs import build_model, load_ema


def trained_then_regrown(tiny_config, tmp_path, **model_over):
    cfg = tiny_config("denoise")
    assert T.main([str(cfg), "--root", str(tmp_path)]) == 0
    conf = yaml.safe_load(cfg.read_text())
    conf["model"].update(model_over)
    cfg.write_text(yaml.safe_dump(conf))
    return cfg


def test_grown_denoiser_computes_the_same_and_resumes(tiny_config, tmp_path, capsys):
    cfg = trained_then_regrown(tiny_config, tmp_path, blocks=[2, 3])  # two more blocks at the 1/2 level
    run_dir = tmp_path / "runs" / "tiny-denoise"
    ckpt_path = tmp_path / "scripts" / "training" / "checkpoints" / "tiny-denoise.pt"
    before = torch.load(run_dir / "state.pt")

    assert G.main([str(cfg), "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "grew at step 3: 2 new blocks (body.enc.1.1, body.enc.1.2)" in out
    assert not (run_dir / "state.pt").exists() and (run_dir / "state-before-grow.pt").exists()

    grown_ckpt = torch.load(ckpt_path)
    assert grown_ckpt["step"] == 3 and grown_ckpt["config"]["model"]["blocks"] == [2, 3]
    old = build_model({"arch": "denoiser", "widths": [8, 16], "blocks": [1, 1]}).eval()
    old.load_state_dict(before["ema"])
    grown = build_model(grown_ckpt["config"]["model"]).eval()
    load_ema(grown, grown_ckpt)
    x = torch.rand(2, 3, 24, 32)
    s = torch.full((2, 1, 24, 32), 0.1)
    with torch.no_grad():  # equal up to the fp16 of the committed weights
        assert float((old(x, s) - grown(x, s)).abs().max()) < 2e-3
    assert float(grown_ckpt["ema"]["body.enc.1.2.c2.weight"].abs().max()) == 0

    # training goes on from the grown weights with a fresh optimiser, at the lr scale the config asks
    conf = yaml.safe_load(cfg.read_text())
    conf["optim"]["lr_scale"] = 0.25
    cfg.write_text(yaml.safe_dump(conf))
    assert T.main([str(cfg), "--root", str(tmp_path), "--steps", "5", "--minutes", "10",
                   "--continue-schedule", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "resumed committed weights at step 3 (fresh optimiser)" in out
    assert "continuing the timed schedule from 0.500" in out and "stopped at step 5" in out
    st = torch.load(run_dir / "state.pt")
    assert st["step"] == 5 and st["lr_scale"] == 0.25
    assert float(st["model"]["body.enc.1.2.c2.weight"].abs().max()) > 0  # the new block learns
    assert st["opt"]["param_groups"][0]["lr"] <= 0.25 * 1e-3


@pytest.mark.parametrize("change, message", [
    ({"widths": [8, 24]}, "only model.blocks may change"),
    ({"blocks": [1, 1]}, "add no block"),
])
def test_grow_refuses_anything_but_more_blocks(tiny_config, tmp_path, capsys, change, message):
    cfg = trained_then_regrown(tiny_config, tmp_path, **change)
    ckpt_path = tmp_path / "scripts" / "training" / "checkpoints" / "tiny-denoise.pt"
    committed = ckpt_path.read_bytes()
    assert G.main([str(cfg), "--root", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert ckpt_path.read_bytes() == committed  # nothing written
    assert (tmp_path / "runs" / "tiny-denoise" / "state.pt").exists()


def test_grow_weights_rejects_a_partial_block():
    old = build_model({"arch": "denoiser", "widths": [8, 16], "blocks": [1, 1]}).state_dict()
    grown = build_model({"arch": "denoiser", "widths": [8, 16], "blocks": [1, 2]})
    partial = {k: v for k, v in old.items()}
    partial.pop("body.enc.1.0.c2.bias")
    with pytest.raises(G.GrowError, match="body.enc.1.0: new weights that are not a whole residual block"):
        G.grow_weights(partial, grown)
