"""Grow a trained model into a deeper one with more residual blocks, keeping what it computes.

    /usr/bin/python3 -m scripts.training.grow <config> [--root .]

<config> is the model's YAML after its `model.blocks` were raised (same id, arch and widths). The
script reads the committed checkpoint (scripts/training/checkpoints/<id>.pt, EMA weights) and, when
present, the full run state (runs/<id>/state.pt, whose EMA it prefers: it is newer and not fp16),
builds the config's model, copies every old weight into the tensor of the same name and shape, and
zeroes the second conv (weight and bias) of every new ResBlock, so each new block starts as the
identity and the grown net computes what the old one did (checked on a random input; the script
stops if they differ by more than 1e-5, and writes nothing). Every old weight must find its place and
every new one must belong to a new ResBlock; anything else (a changed width, another arch) is
refused. It then writes the committed checkpoint for the grown model (same step and training time)
and moves runs/<id>/state.pt to runs/<id>/state-before-grow.pt: its optimiser moments do not fit the
new parameters, so `train.py` resumes from the committed weights with a fresh optimiser and a warm-up.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from .archs import build_model, count_params
from .data import ROOT
from .export_onnx import example_inputs
from .train import committed_checkpoint, load_config, paths_for, save_atomic

TOL = 1e-5


class GrowError(RuntimeError):
    pass


def grow_weights(old: dict, model: torch.nn.Module) -> list[str]:
    """Load `old` (name -> tensor) into `model`; zero the second conv of every block that `old` lacks.
    Returns the names of the new ResBlocks."""
    new = model.state_dict()
    for k, v in old.items():
        if k not in new:
            raise GrowError(f"old weight {k} has no place in the grown model")
        if new[k].shape != v.shape:
            raise GrowError(f"{k}: shape {tuple(v.shape)} -> {tuple(new[k].shape)}; only blocks may be added")
    added = sorted(k for k in new if k not in old)
    blocks = sorted({k.rsplit(".", 2)[0] for k in added})
    for b in blocks:
        if {k for k in added if k.startswith(b + ".")} != {f"{b}.{c}.{p}" for c in ("c1", "c2") for p in ("weight", "bias")}:
            raise GrowError(f"{b}: new weights that are not a whole residual block")
    merged = dict(new)
    merged.update({k: v.float() for k, v in old.items()})
    for b in blocks:
        merged[f"{b}.c2.weight"] = torch.zeros_like(new[f"{b}.c2.weight"])
        merged[f"{b}.c2.bias"] = torch.zeros_like(new[f"{b}.c2.bias"])
    model.load_state_dict(merged)
    return blocks


def grow(config: str, root: Path = ROOT) -> dict:
    cfg = load_config(config)
    run_dir, ckpt_path = paths_for(cfg, root)
    state_path = run_dir / "state.pt"
    if not ckpt_path.exists():
        raise GrowError(f"{ckpt_path}: no committed checkpoint to grow")
    ckpt = torch.load(ckpt_path, map_location="cpu")
    old_weights, step, seconds = ckpt["ema"], ckpt["step"], ckpt.get("train_seconds", 0.0)
    if state_path.exists():
        st = torch.load(state_path, map_location="cpu")
        old_weights, step, seconds = st["ema"], st["step"], st.get("train_seconds", seconds)
    old_cfg = ckpt["config"]["model"]
    if {k: v for k, v in old_cfg.items() if k != "blocks"} != {k: v for k, v in cfg["model"].items() if k != "blocks"}:
        raise GrowError(f"{config}: only model.blocks may change (was {old_cfg}, now {cfg['model']})")

    old = build_model(old_cfg).eval()
    old.load_state_dict({k: v.float() for k, v in old_weights.items()})
    model = build_model(cfg["model"]).eval()
    blocks = grow_weights(old.state_dict(), model)
    if not blocks:
        raise GrowError(f"{config}: model.blocks {cfg['model'].get('blocks')} add no block to {old_cfg.get('blocks')}")
    with torch.no_grad():
        inputs = example_inputs(cfg["task"], 1, 64, 64, seed=0)  # the exporter's parity inputs
        diff = float((old(*inputs) - model(*inputs)).abs().max())
    if diff > TOL:
        raise GrowError(f"grown model differs from the old one by {diff:.3g} (> {TOL})")

    grown = committed_checkpoint(model.state_dict(), step, seconds, cfg, ckpt.get("hardware", ""))
    save_atomic(grown | {"grown_from": {"blocks": old_cfg.get("blocks"), "step": step}}, ckpt_path)
    if state_path.exists():
        state_path.replace(run_dir / "state-before-grow.pt")
    return {"step": step, "blocks": blocks, "params": (count_params(old), count_params(model)), "diff": diff}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config")
    ap.add_argument("--root", default=str(ROOT), help="where runs/ and checkpoints/ live")
    args = ap.parse_args(argv)
    try:
        r = grow(args.config, Path(args.root))
    except GrowError as e:
        print(f"grow: {e}", file=sys.stderr)
        return 2
    print(f"grew at step {r['step']}: {len(r['blocks'])} new blocks ({', '.join(r['blocks'])}); "
          f"params {r['params'][0]} -> {r['params'][1]}; max abs diff {r['diff']:.2g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
