"""export_onnx.py round trip on tiny models: ONNX Runtime (onnxruntime-node) parity, dynamic H/W, card."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import onnx
import yaml
import pytest
import torch
import torch.nn as nn

from scripts.training import export_onnx as E
from scripts.training.archs import build_model
from scripts.training.train import load_config

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = ROOT / "models" / "card.schema.json"

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node runs onnxruntime-node")


def tiny_checkpoint(cfg_path: Path, tmp_path: Path, step=42, seconds=5400.0) -> Path:
    cfg = load_config(str(cfg_path))
    torch.manual_seed(0)
    m = build_model(cfg["model"])
    ck = tmp_path / f"{cfg['id']}.pt"
    torch.save({"ema": {k: v.half() for k, v in m.state_dict().items()}, "step": step,
                "train_seconds": seconds, "config": cfg}, ck)
    return ck


def validate(card: Path):
    r = subprocess.run(["node", str(ROOT / "scripts" / "training" / "tests" / "validate_card.mjs"), str(SCHEMA), str(card)],
                       capture_output=True, text=True, cwd=str(ROOT))
    return r.returncode, r.stdout + r.stderr


@pytest.mark.parametrize("task", ["denoise", "inpaint", "upscale"])
def test_export_round_trip(task, tiny_config, tmp_path):
    cfg = tiny_config(task)
    ck = tiny_checkpoint(cfg, tmp_path)
    out = tmp_path / "models" / f"tiny-{task}"
    assert E.main([str(cfg), "--checkpoint", str(ck), "--out", str(out)]) == 0

    m = onnx.load(str(out / "model.onnx"))
    assert m.opset_import[0].version == 17
    names = [i.name for i in m.graph.input]
    assert names == {"denoise": ["image", "sigma"], "inpaint": ["image", "mask"], "upscale": ["image"]}[task]
    assert [o.name for o in m.graph.output] == ["output"]
    for i in m.graph.input:  # N, H, W symbolic; channels fixed
        dims = i.type.tensor_type.shape.dim
        assert [d.dim_param for d in dims] == ["N", "", "H", "W"]
        assert dims[1].dim_value == (3 if i.name == "image" else 1)
        assert i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT

    card = json.loads((out / "card.json").read_text())
    ex = card["training"]["export"]
    assert 0 <= ex["parity_max_abs_diff"] <= 1e-4 and ex["opset"] == 17
    assert len(ex["parity_inputs"]) == 2 and ex["parity_inputs"][0] != ex["parity_inputs"][1]
    model = build_model(load_config(str(cfg))["model"])
    assert card["id"] == f"tiny-{task}" and card["task"] == task
    assert card["scale"] == (2 if task == "upscale" else 1)
    assert card["size_multiple"] == model.size_multiple
    assert card["params"] == sum(p.numel() for p in model.parameters())
    # x2 and single-scale models get 1024 px windows (a 1 MP image in one pass); x4 stays at 512
    assert card["tiling"] == {"tile": 1024, "overlap": {"inpaint": 128, "denoise": 128}.get(task, 32)}
    assert card["fp16_safe"] is False and card["color_space"] == "sRGB" and card["license"] == "MIT"
    assert card["training"]["steps"] == 42 and card["training"]["hours"] == 1.5
    assert card["inputs"][0] == {"name": "image", "role": "image", "channels": 3, "layout": "NCHW",
                                 "range": [0, 1], "dtype": "float32"}
    assert card["macs_per_pixel"] > 0
    import hashlib
    assert card["sha256"] == hashlib.sha256((out / "model.onnx").read_bytes()).hexdigest()

    # an unseen size: the graph really has dynamic H and W (and the output follows the scale)
    mult = model.size_multiple
    h, w = 5 * mult, 3 * mult
    inputs = E.example_inputs(task, 1, h, w, seed=9)
    with torch.no_grad():
        ref = model.eval()
        ref.load_state_dict({k: v.float() for k, v in torch.load(ck)["ema"].items()})
        want = ref(*inputs).numpy()
    got, _ = E.run_ort(out / "model.onnx", {n: t.numpy() for (n, _, _), t in zip(E.INPUTS[task], inputs)}, tmp_path)
    assert got.shape == want.shape == (1, 3, h * card["scale"], w * card["scale"])
    assert np.abs(got - want).max() <= 1e-4

    if SCHEMA.exists():
        rc, msg = validate(out / "card.json")
        assert rc == 0, msg


def test_reexport_keeps_metrics_and_fails_on_bad_parity(tiny_config, tmp_path, monkeypatch):
    cfg = tiny_config("denoise")
    ck = tiny_checkpoint(cfg, tmp_path)
    out = tmp_path / "models" / "tiny-denoise"
    assert E.main([str(cfg), "--checkpoint", str(ck), "--out", str(out), "--hardware", "1x test GPU"]) == 0
    card = json.loads((out / "card.json").read_text())
    card["metrics"] = {"Kodak24/sigma25/psnr": 31.9}
    (out / "card.json").write_text(json.dumps(card))
    assert E.main([str(cfg), "--checkpoint", str(ck), "--out", str(out)]) == 0
    again = json.loads((out / "card.json").read_text())
    assert again["metrics"] == {"Kodak24/sigma25/psnr": 31.9}
    assert again["training"]["hardware"] == "1x test GPU"  # kept from the card when not given

    # ORT disagreeing with PyTorch: non-zero exit, the shipped model and card stay as they were
    before = (out / "model.onnx").read_bytes(), (out / "card.json").read_text()
    real = E.run_ort
    monkeypatch.setattr(E, "run_ort", lambda *a, **k: (lambda r: (r[0] + 1e-3, r[1]))(real(*a, **k)))
    assert E.main([str(cfg), "--checkpoint", str(ck), "--out", str(out)]) == 1
    assert ((out / "model.onnx").read_bytes(), (out / "card.json").read_text()) == before
    assert not (out / "model.onnx.tmp").exists()


def test_config_overlap_reaches_the_card(tiny_config, tmp_path):
    # a net grown at low resolution sees further than its task's default overlap covers: the config says so
    cfg = tiny_config("denoise", overlap=192)
    ck = tiny_checkpoint(cfg, tmp_path)
    out = tmp_path / "models" / "tiny-denoise"
    assert E.main([str(cfg), "--checkpoint", str(ck), "--out", str(out)]) == 0
    assert json.loads((out / "card.json").read_text())["tiling"] == {"tile": 1024, "overlap": 192}
    before = (out / "model.onnx").read_bytes(), (out / "card.json").read_text()
    other = tmp_path / "other"
    other.mkdir()
    ck2 = tiny_checkpoint(cfg, other)  # other weights: a new model.onnx, had the export gone on
    ck2_state = torch.load(ck2)
    ck2_state["ema"] = {k: v + 0.01 for k, v in ck2_state["ema"].items()}
    torch.save(ck2_state, ck2)
    for wrong in (-8, 12.5, True):
        bad = tiny_config("denoise", overlap=wrong)
        with pytest.raises(SystemExit, match="overlap must be"):
            E.main([str(bad), "--checkpoint", str(ck2), "--out", str(out)])
        # refused before anything is written: the shipped model and its card stay together
        assert ((out / "model.onnx").read_bytes(), (out / "card.json").read_text()) == before


def test_missing_or_mismatched_checkpoint(tiny_config, tmp_path, capsys):
    cfg = tiny_config("denoise")
    assert E.main([str(cfg), "--checkpoint", str(tmp_path / "nope.pt"), "--out", str(tmp_path / "o")]) == 1
    assert "no checkpoint" in capsys.readouterr().err
    other = tiny_checkpoint(tiny_config("upscale"), tmp_path)
    assert E.main([str(cfg), "--checkpoint", str(other), "--out", str(tmp_path / "o")]) == 1
    assert "does not fit the model" in capsys.readouterr().err


def test_count_macs_known_values():
    conv = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 8, 1))
    assert E.count_macs(conv, "upscale", scale=1) == 3 * 4 * 9 + 4 * 8
    # stride 2 then per output pixel of a x2 model: a quarter of the conv's work per input pixel, /4 again
    down = nn.Conv2d(3, 6, 2, stride=2)
    assert E.count_macs(down, "upscale", scale=2) == pytest.approx(3 * 6 * 4 / 4 / 4)


@pytest.mark.skipif(not SCHEMA.exists(), reason="models/card.schema.json not written yet")
def test_schema_rejects_a_broken_card(tmp_path):
    bad = tmp_path / "card.json"
    bad.write_text(json.dumps({"id": "x", "task": "denoise"}))
    rc, msg = validate(bad)
    assert rc == 1 and "required" in msg


def test_estimator_ships_inside_the_denoisers_card(tiny_config, tmp_path):
    den_cfg = tiny_config("denoise")
    out = tmp_path / "models" / "tiny-denoise"
    assert E.main([str(den_cfg), "--checkpoint", str(tiny_checkpoint(den_cfg, tmp_path)), "--out", str(out)]) == 0
    est_cfg = tiny_config("estimate", ship_with="tiny-denoise")
    ck = tiny_checkpoint(est_cfg, tmp_path, step=7, seconds=36.0)
    assert E.main([str(est_cfg), "--checkpoint", str(ck), "--out", str(tmp_path / "nowhere")]) == 1  # no card there
    assert E.main([str(est_cfg), "--checkpoint", str(ck), "--out", str(out)]) == 0
    m = onnx.load(str(out / "estimator.onnx"))
    assert [i.name for i in m.graph.input] == ["image"] and [o.name for o in m.graph.output] == ["sigma"]
    dims = m.graph.output[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "N" and dims[1].dim_value == 1
    card = json.loads((out / "card.json").read_text())
    est = card["estimator"]
    import hashlib
    assert est["sha256"] == hashlib.sha256((out / "estimator.onnx").read_bytes()).hexdigest()
    assert {k: est[k] for k in ("file", "input", "output", "crop", "size_multiple")} == \
        {"file": "estimator.onnx", "input": "image", "output": "sigma", "crop": 16, "size_multiple": 2}
    assert est["crops"] > 0 and est["training"]["steps"] == 7 and est["training"]["export"]["parity_max_abs_diff"] <= 1e-4
    assert card["sha256"] == hashlib.sha256((out / "model.onnx").read_bytes()).hexdigest()  # the denoiser untouched
    rc, msg = validate(out / "card.json")
    assert rc == 0, msg
    # re-exporting the denoiser keeps the estimator entry
    assert E.main([str(den_cfg), "--checkpoint", str(tiny_checkpoint(den_cfg, tmp_path)), "--out", str(out)]) == 0
    assert json.loads((out / "card.json").read_text())["estimator"] == est


def test_above_noise_net_ships_inside_the_denoisers_card(tiny_config, tmp_path):
    den_cfg = tiny_config("denoise")
    out = tmp_path / "models" / "tiny-denoise"
    assert E.main([str(den_cfg), "--checkpoint", str(tiny_checkpoint(den_cfg, tmp_path)), "--out", str(out)]) == 0
    est_cfg = tiny_config("estimate", ship_with="tiny-denoise")
    assert E.main([str(est_cfg), "--checkpoint", str(tiny_checkpoint(est_cfg, tmp_path)), "--out", str(out)]) == 0
    import hashlib
    den_sha = json.loads((out / "card.json").read_text())["sha256"]
    # a denoiser of the same architecture, shipped as the net for strengths above the noise
    above_cfg = tiny_config("denoise", id="tiny-denoise-over", ship_with="tiny-denoise", ship_as="above_noise", from_ratio=1.25)
    ck = tiny_checkpoint(above_cfg, tmp_path, step=9, seconds=12.0)
    assert E.main([str(above_cfg), "--checkpoint", str(ck), "--out", str(tmp_path / "nowhere")]) == 1  # no card there
    assert E.main([str(above_cfg), "--checkpoint", str(ck), "--out", str(out)]) == 0
    card = json.loads((out / "card.json").read_text())
    above = card["above_noise"]
    assert above["file"] == "above-noise.onnx" and above["from_ratio"] == 1.25
    assert above["sha256"] == hashlib.sha256((out / "above-noise.onnx").read_bytes()).hexdigest()
    assert above["training"]["steps"] == 9 and above["training"]["export"]["parity_max_abs_diff"] <= 1e-4
    m = onnx.load(str(out / "above-noise.onnx"))
    assert [i.name for i in m.graph.input] == ["image", "sigma"] and [o.name for o in m.graph.output] == ["output"]
    assert card["sha256"] == den_sha and "estimator" in card  # the denoiser and its estimator untouched
    rc, msg = validate(out / "card.json")
    assert rc == 0, msg
    # re-exporting the denoiser keeps the entry
    assert E.main([str(den_cfg), "--checkpoint", str(tiny_checkpoint(den_cfg, tmp_path)), "--out", str(out)]) == 0
    assert json.loads((out / "card.json").read_text())["above_noise"] == above
    # another architecture (other widths) is refused: it would not take the same tiles
    wide = dict(yaml.safe_load(den_cfg.read_text())["model"])
    wide["widths"] = [w * 2 for w in wide["widths"]]
    other_cfg = tiny_config("denoise", id="tiny-denoise-wide", model=wide, ship_with="tiny-denoise", ship_as="above_noise", from_ratio=1.25)
    assert E.main([str(other_cfg), "--checkpoint", str(tiny_checkpoint(other_cfg, tmp_path)), "--out", str(out)]) == 1
    assert json.loads((out / "card.json").read_text())["above_noise"] == above
    # without from_ratio, or with one the schema refuses: refused before anything is written
    bad_cfg = tiny_config("denoise", id="tiny-denoise-bad", ship_with="tiny-denoise", ship_as="above_noise")
    assert E.main([str(bad_cfg), "--checkpoint", str(tiny_checkpoint(bad_cfg, tmp_path)), "--out", str(out)]) == 1
    low_cfg = tiny_config("denoise", id="tiny-denoise-low", ship_with="tiny-denoise", ship_as="above_noise", from_ratio=0.9)
    assert E.main([str(low_cfg), "--checkpoint", str(tiny_checkpoint(low_cfg, tmp_path)), "--out", str(out)]) == 1
    assert json.loads((out / "card.json").read_text())["above_noise"] == above
    # a main net of another architecture drops the entry (its tiles would not fit the second net)
    wide_main = tiny_config("denoise", model=wide)
    assert E.main([str(wide_main), "--checkpoint", str(tiny_checkpoint(wide_main, tmp_path)), "--out", str(out)]) == 0
    assert "above_noise" not in json.loads((out / "card.json").read_text())
