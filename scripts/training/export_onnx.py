"""Export a trained Restora model to ONNX, check ONNX Runtime against PyTorch, write its model card.

    /usr/bin/python3 -m scripts.training.export_onnx scripts/training/configs/denoise.yaml \
        [--checkpoint scripts/training/checkpoints/restora-denoise.pt] [--out models/restora-denoise]

Writes <out>/model.onnx (opset 17, fp32, constant-folded, dynamic N/H/W) and <out>/card.json.
Inputs: `image` (N,3,H,W) RGB [0,1]; `sigma` (denoiser, N,1,H,W, noise std on the [0,1] scale);
`mask` (inpainter, N,1,H,W, 1 = fill). Output: `output` (N,3,H*scale,W*scale), not clipped.

Parity: two seeded random inputs (different non-square sizes) go through PyTorch and through
onnxruntime-node (scripts/ort_parity.mjs; there is no Python onnxruntime here); the max abs difference
must be <= 1e-4 or the export fails and nothing in <out> is replaced. Re-exporting keeps the card's
`metrics` (filled by `restora eval`).

The noise-level estimator (task `estimate`, config `ship_with: <denoise id>`) is written as
models/<denoise id>/estimator.onnx (input `image` (N,3,H,W), output `sigma` (N,1), noise std on the
[0,1] scale) and declared in that denoiser's card under `estimator`; the engine reads `crops` crops
of `crop` px with it and takes the median for `--sigma auto`.

A denoiser trained for strengths above the noise (config `ship_as: above_noise`, `ship_with: <denoise id>`,
`from_ratio: R`; the same architecture) is written as models/<denoise id>/above-noise.onnx and declared in
that card under `above_noise`; the engine runs it instead of model.onnx when a manual sigma is more than R
times what the estimator reads.
"""
from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from .archs import build_model, count_params, load_ema
from .data import make_mask, write_atomic
from .train import ROOT, load_config, paths_for

OPSET = 17
PARITY_TOL = 1e-4
MAX_ONNX_BYTES = 20 * 1000 * 1000
# Advised window side in input pixels. Larger windows waste less on overlaps (a 1 MP image runs in
# one window); x4 stays at 512 because its 2048 px output window already takes about 1 GB on CPU.
TILE = {"denoise": 1024, "inpaint": 1024, "upscale": {2: 1024, 4: 512}}


def advised_tile(task: str, scale: int) -> int:
    t = TILE[task]
    return t[scale] if isinstance(t, dict) else t


OVERLAP = {"denoise": 128, "upscale": 32, "inpaint": 128}  # input px; measured by app/engine/tiling/tiler.test.ts: denoise (session-4 full-resolution net) 64 gave 3.6/255, 96 gave 1.28/255, 128 passes; inpaint 96 gave 1.31/255 at tile 192


def tiling_overlap(cfg) -> int:
    """The card's overlap: the config's `overlap` (input px) when a net sees further than its task's usual
    one (more blocks at low resolution), else the task's default. Measure it with the seam test."""
    o = cfg.get("overlap", OVERLAP[cfg["task"]])
    if isinstance(o, bool) or not isinstance(o, int) or o < 0:
        raise SystemExit(f"{cfg['id']}: overlap must be a whole number of pixels >= 0, got {o!r}")
    return o

INPUTS = {
    "denoise": [("image", "image", 3), ("sigma", "sigma", 1)],
    "inpaint": [("image", "image", 3), ("mask", "mask", 1)],
    "upscale": [("image", "image", 3)],
    "estimate": [("image", "image", 3)],
}
OUTPUT = {"estimate": "sigma"}  # the output's name; "output" for the rest
ESTIMATOR_CROPS = 16

# what each training folder is, and under which terms its photographs may be used
DATA_NOTES = {
    "BSD200": "BSD200 (BSDS300 train split, 199 photos; Berkeley Segmentation Dataset, free for non-commercial "
              "research and education)",
    "T91": "T91 (Yang et al., IEEE TIP 2010, 91 photos; no licence stated by the source)",
    # restora-denoise to step 67611 saw the first 21; the folder has held 50 since session 7 (the fine-tunes in
    # session 8 and 10 saw all 50)
    "debian-photos": "photographs from Debian bookworm's wallpaper packages, area-downscaled x2-x4: 21 from "
                     "plasma-workspace-wallpapers (LGPL-3) and mate-backgrounds (GPL-2+), and (since session 7; for "
                     "restora-denoise, in its fine-tunes) 29 from lomiri-wallpapers-16.04/-20.04 (CC-BY-4.0, CC-BY-SA-4.0, CC0-1.0, "
                     "CC-BY-SA-3.0), lxqt-themes (LGPL-2.1+; CC-BY-SA-3.0 upstream), sddm-theme-maldives (CC-BY-3.0) "
                     "and enlightenment-data (BSD-2-clause) (scripts/training/debian_photos.py lists authors and licences)",
}


class ExportError(RuntimeError):
    pass


def model_scale(cfg: dict) -> int:
    return int(cfg["model"].get("scale", cfg["data"].get("scale", 1))) if cfg["task"] == "upscale" else 1


def load_weights(model: nn.Module, ckpt_path: Path) -> dict:
    if not ckpt_path.exists():
        raise ExportError(f"{ckpt_path}: no checkpoint (train first, or pass --checkpoint)")
    st = torch.load(ckpt_path, map_location="cpu")
    try:
        load_ema(model, st)
    except RuntimeError as e:
        raise ExportError(f"{ckpt_path}: does not fit the model in the config ({e})") from e
    return st


def example_inputs(task: str, n: int, h: int, w: int, seed: int) -> tuple[torch.Tensor, ...]:
    """Seeded random inputs in the ranges the engine feeds (image [0,1], sigma up to 50/255, binary mask)."""
    rng = np.random.default_rng(seed)
    image = torch.from_numpy(rng.random((n, 3, h, w), dtype=np.float32))
    if task == "denoise":
        sigma = torch.from_numpy(rng.uniform(0, 50 / 255, (n, 1, h, w)).astype(np.float32))
        return image, sigma
    if task == "inpaint":
        masks = np.stack([make_mask(h, w, "medium", rng) for _ in range(n)])[:, None].astype(np.float32) / 255
        return image, torch.from_numpy(masks)
    return (image,)


def count_macs(model: nn.Module, task: str, scale: int, size: int = 256) -> float:
    """Conv multiply-accumulates per output pixel, measured with forward hooks on a size x size input."""
    total = [0]

    def hook(mod, _inp, out):
        k = mod.kernel_size[0] * mod.kernel_size[1]
        total[0] += out.numel() // out.shape[0] * (mod.in_channels // mod.groups) * k

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            model(*example_inputs(task, 1, size, size, seed=0))
    finally:
        for h in hs:
            h.remove()
    return total[0] / (size * size * scale * scale)


def export(model: nn.Module, task: str, path: Path, probe_hw: tuple[int, int]) -> None:
    names = [n for n, _, _ in INPUTS[task]]
    out_axes = {0: "N", 2: "H", 3: "W"} if task != "upscale" else {0: "N", 2: "H_out", 3: "W_out"}
    if task == "estimate":
        out_axes = {0: "N"}
    out_name = OUTPUT.get(task, "output")
    dyn = {n: {0: "N", 2: "H", 3: "W"} for n in names} | {out_name: out_axes}
    with torch.no_grad(), warnings.catch_warnings():
        # torch 1.13 warns about shape inference of the Resize scales constant; parity below is the real check
        warnings.filterwarnings("ignore", message="The shape inference of prim::Constant")
        # newer torch (2.9+) defaults to the dynamo exporter, which ignores dynamic_axes: keep the TorchScript one
        extra = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
        torch.onnx.export(model, example_inputs(task, 1, *probe_hw, seed=1), str(path), opset_version=OPSET,
                          input_names=names, output_names=[out_name], dynamic_axes=dyn,
                          do_constant_folding=True, export_params=True, **extra)
    import onnx

    m = onnx.load(str(path))
    onnx.checker.check_model(m)
    for t in m.graph.initializer:
        if t.data_type != onnx.TensorProto.FLOAT:
            raise ExportError(f"{path}: initializer {t.name} is not float32")


def run_ort(onnx_path: Path, inputs: dict[str, np.ndarray], work: Path, threads: int = 1,
            output: str = "output") -> tuple[np.ndarray, str]:
    """Runs the model in onnxruntime-node through scripts/ort_parity.mjs; returns (`output`, ORT version)."""
    node = shutil.which("node")
    if node is None:
        raise ExportError("node is not on PATH: it is needed to run onnxruntime-node for the parity check")
    spec = {"model": str(onnx_path), "threads": threads, "outDir": str(work / "ort-out"), "inputs": []}
    for name, arr in inputs.items():
        f = work / f"{name}.f32"
        np.ascontiguousarray(arr, dtype="<f4").tofile(f)
        spec["inputs"].append({"name": name, "shape": list(arr.shape), "file": str(f)})
    spec_path = work / "spec.json"
    spec_path.write_text(json.dumps(spec))
    r = subprocess.run([node, str(ROOT / "scripts" / "ort_parity.mjs"), str(spec_path)], cwd=str(ROOT),
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise ExportError(f"onnxruntime-node failed on {onnx_path.name}: {r.stderr.strip() or r.stdout.strip()}")
    res = json.loads(r.stdout.strip().splitlines()[-1])
    out = next(o for o in res["outputs"] if o["name"] == output)
    return np.fromfile(out["file"], dtype="<f4").reshape(out["shape"]), str(res.get("ort", "unknown"))


def parity(model: nn.Module, task: str, onnx_path: Path, sizes, seed: int = 0) -> dict:
    """Max abs difference ORT vs PyTorch over seeded random inputs of several (H, W): also proves H/W are dynamic."""
    worst, shapes, version = 0.0, [], "unknown"
    with tempfile.TemporaryDirectory(prefix="restora-parity-") as tmp:
        for i, (h, w) in enumerate(sizes):
            inputs = example_inputs(task, 1, h, w, seed + i)
            with torch.no_grad():
                ref = model(*inputs).numpy()
            feeds = {n: t.numpy() for (n, _, _), t in zip(INPUTS[task], inputs)}
            got, version = run_ort(onnx_path, feeds, Path(tmp), output=OUTPUT.get(task, "output"))
            if got.shape != ref.shape:
                raise ExportError(f"{onnx_path.name}: ORT output {got.shape} != PyTorch {ref.shape} for input {h}x{w}")
            worst = max(worst, float(np.abs(got.astype(np.float64) - ref).max()))
            shapes.append([1, 3, h, w])
    return {"opset": OPSET, "parity_max_abs_diff": worst, "parity_tolerance": PARITY_TOL, "parity_inputs": shapes,
            "parity_seed": seed, "runtime": f"onnxruntime-node {version} CPU"}


def architecture_text(cfg: dict, model: nn.Module) -> str:
    m = cfg["model"]
    widths = "-".join(str(w) for w in m.get("widths", []))
    blocks = "-".join(str(b) for b in m.get("blocks", []))
    levels = f"{len(m.get('widths', []))}-level U-Net of residual blocks (widths {widths}, blocks {blocks})"
    task = cfg["task"]
    if task == "denoise":
        front = ("FFDNet-like denoising autoencoder: image + noise-level map, 2x pixel-unshuffled"
                 if m.get("unshuffle", True) else
                 "Denoising autoencoder: image + noise-level map, first level at full resolution")
        return (f"{front}, {levels}, "
                "stride-2 convs down, pixel-shuffle up, additive skips, residual output")
    if task == "inpaint":
        pre = ("the hole is first filled by a parameter-free push-pull pyramid, which the network refines; "
               if m.get("prefill") else "")
        return (f"Inpainting autoencoder: hole-zeroed image + mask, {pre}2x pixel-unshuffled, {levels}, "
                "pixel-shuffle up; known pixels pass through unchanged")
    return (f"Super-resolution autoencoder at low resolution: {levels}, pixel-shuffle x{model_scale(cfg)} "
            "tail plus a bilinear upsample of the input")


def training_data_text(cfg: dict) -> str:
    notes = []
    for d in cfg["data"]["dirs"]:
        base = Path(d).name
        notes.append(DATA_NOTES.get(base, f"{base} (licence: see its source)"))
    return "; ".join(notes) + ". Validation: every 10th photo of each training folder, held out."


def default_name(cfg: dict) -> str:
    return {"denoise": "Restora Denoise", "inpaint": "Restora Inpaint"}.get(
        cfg["task"], f"Restora Upscale x{model_scale(cfg)}")


DESCRIPTIONS = {
    "denoise": "Removes noise from photos, from clean to heavy (sigma 0-50) and real camera noise. The noise "
               "level is an input map: a strength slider, or estimated from the photo (auto).",
    "inpaint": "Fills the painted (masked) parts of a photo from their surroundings: dust, scratches, small objects.",
    "upscale": "Enlarges photos by {scale}x, restoring detail that plain resizing blurs.",
}


def repo_rel(p: Path) -> str:
    try:
        return str(Path(p).resolve().relative_to(ROOT))
    except ValueError:
        return Path(p).name


def build_card(cfg, model, ckpt, old, export_info: dict, onnx_path: Path, hardware: str | None,
               config_path: Path, ckpt_path: Path) -> dict:
    """A card valid against models/card.schema.json. macs_per_pixel is per *output* pixel."""
    task = cfg["task"]
    scale = model_scale(cfg)
    io = lambda name, role, ch: {"name": name, "role": role, "channels": ch, "layout": "NCHW",  # noqa: E731
                                 "range": [0, 1], "dtype": "float32"}
    return {
        "id": cfg["id"],
        "name": cfg.get("name", old.get("name", default_name(cfg))),
        "task": task,
        "version": str(cfg.get("version", old.get("version", "0.1.0"))),
        "scale": scale,
        "file": "model.onnx",
        "sha256": hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
        "inputs": [io(n, r, c) for n, r, c in INPUTS[task]],
        "outputs": [io("output", "image", 3)],
        "size_multiple": int(model.size_multiple),
        "tiling": {"tile": advised_tile(task, scale), "overlap": tiling_overlap(cfg)},
        "fp16_safe": False,
        "color_space": "sRGB",
        "license": "MIT",
        "architecture": architecture_text(cfg, model),
        "params": int(count_params(model)),
        "macs_per_pixel": round(count_macs(model, task, scale), 1),
        "training": training_record(training_data_text(cfg), ckpt, old, export_info, hardware, config_path, ckpt_path),
        "metrics": dict(old.get("metrics", {})),
        "description": old.get("description", DESCRIPTIONS[task].format(scale=scale)),
        "source": "Trained for Restora with scripts/training (PyTorch), exported by scripts/training/export_onnx.py",
        **({"estimator": old["estimator"]} if isinstance(old.get("estimator"), dict) else {}),
        # kept while the main net keeps its architecture (the second net takes the same tiles); a new main net
        # does not change which strengths its companion is for (re-export that if it should)
        **({"above_noise": old["above_noise"]} if isinstance(old.get("above_noise"), dict)
           and old.get("params") == count_params(model) and old.get("size_multiple") == int(model.size_multiple) else {}),
    }


def training_record(data: str, ckpt: dict, old: dict, export_info: dict, hardware: str | None,
                    config_path: Path, ckpt_path: Path) -> dict:
    """A card's `training` object; `hardware` defaults to the checkpoint's, then the old card's."""
    old_training = old.get("training", {}) if isinstance(old.get("training"), dict) else {}
    hw = hardware or ckpt.get("hardware") or old_training.get("hardware") or \
        "CPU: 2-core x86-64 VM, 1 thread per run, Debian PyTorch 1.13"
    return {
        "data": data,
        "steps": int(ckpt.get("step", 0)),
        "hours": round(float(ckpt.get("train_seconds", 0.0)) / 3600, 3),
        "hardware": hw,
        "config": repo_rel(config_path),
        "checkpoint": repo_rel(ckpt_path),
        "export": export_info,
        # a weight average (soup.py): the checkpoints it is the mean of
        **({"soup": ckpt["soup"]} if ckpt.get("soup") else {}),
    }


def estimator_entry(cfg: dict, model: nn.Module, ckpt: dict, old: dict, export_info: dict, onnx_path: Path,
                    hardware: str | None, config_path: Path, ckpt_path: Path) -> dict:
    """The `estimator` object of the denoiser's card (models/card.schema.json)."""
    return {
        "file": onnx_path.name,
        "sha256": hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
        "input": "image",
        "output": "sigma",
        "crop": int(cfg["data"]["crop"]),
        "crops": ESTIMATOR_CROPS,
        "size_multiple": int(model.size_multiple),
        "description": "Noise-level estimator for --sigma auto: a small convolutional net that reads the standard "
                       "deviation of the noise (white or demosaiced/JPEG camera noise) in each crop; the engine "
                       "takes the median over the crops.",
        "architecture": f"{cfg['model'].get('depth', 5)} 3x3 convs of width {cfg['model'].get('width', 32)} on the "
                        "2x pixel-unshuffled image, per-pixel log(1 + 255 sigma) averaged over the crop",
        "params": int(count_params(model)),
        "training": training_record(training_data_text(cfg) + " White noise sigma 0-55 (a tenth clean) and simulated "
                                    "camera noise, half each; target: the std of noisy - clean.",
                                    ckpt, old, export_info, hardware, config_path, ckpt_path),
        "metrics": dict(old.get("metrics", {})),
    }


def above_noise_entry(cfg: dict, ckpt: dict, old: dict, export_info: dict, onnx_path: Path, hardware: str | None,
                      config_path: Path, ckpt_path: Path) -> dict:
    """The `above_noise` object of the denoiser's card (models/card.schema.json)."""
    return {
        "file": onnx_path.name,
        "sha256": hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
        "from_ratio": float(cfg["from_ratio"]),
        "description": "The denoiser's net for strengths above the noise: the same architecture, trained with a "
                       "fifth of its crops given a noise map 1-3x above the noise they carry (data.over_map_p), the "
                       "clean crop still the target. The engine runs it instead of the model when a manual sigma is "
                       f"more than {float(cfg['from_ratio']):g} times what the estimator reads on the image.",
        "training": training_record(training_data_text(cfg), ckpt, old, export_info, hardware, config_path, ckpt_path),
        "metrics": dict(old.get("metrics", {})),
    }


def write_json_atomic(obj: dict, path: Path) -> None:
    text = json.dumps(obj, indent=2)
    # keep short lists of numbers (ranges, shapes) on one line
    text = re.sub(r"\[\s*([-0-9.e,\s]+?)\s*\]", lambda m: "[" + ", ".join(m.group(1).split()).replace(",,", ",") + "]", text)
    json.loads(text)
    write_atomic(path, (text + "\n").encode())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("config")
    ap.add_argument("--checkpoint", help="default: scripts/training/checkpoints/<id>.pt")
    ap.add_argument("--out", help="default: models/<id>")
    ap.add_argument("--hardware", help="what it was trained on, for the card (default: kept from the card)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    try:
        cfg = load_config(args.config)
        if cfg["task"] != "estimate":  # (an estimator ships inside its denoiser's card: no tiling of its own)
            tiling_overlap(cfg)  # a bad `overlap:` stops here, before a model file is replaced without its card
        model = build_model(cfg["model"]).eval()
        ckpt_path = Path(args.checkpoint) if args.checkpoint else paths_for(cfg)[1]
        ckpt = load_weights(model, ckpt_path)
        task = cfg["task"]
        # a denoiser's net for strengths above the noise (`ship_as: above_noise`) ships in its card, as the estimator
        above = task == "denoise" and cfg.get("ship_as") == "above_noise"
        if above and not (cfg.get("ship_with") and cfg.get("from_ratio")):
            raise ExportError(f"{cfg['id']}: ship_as: above_noise needs ship_with (the denoiser's id) and from_ratio")
        if above and not 1 <= float(cfg["from_ratio"]) <= 10:
            raise ExportError(f"{cfg['id']}: from_ratio {cfg['from_ratio']} is outside 1-10 (models/card.schema.json)")
        home = cfg.get("ship_with", cfg["id"]) if task == "estimate" or above else cfg["id"]
        out = Path(args.out) if args.out else ROOT / "models" / home
        out.mkdir(parents=True, exist_ok=True)
        onnx_name = "estimator.onnx" if task == "estimate" else "above-noise.onnx" if above else "model.onnx"
        mult = int(model.size_multiple)
        # non-square, different sizes: a shape baked into the graph would fail the second run
        up = lambda v: -(-v // mult) * mult  # noqa: E731
        sizes = [(up(96), up(128)), (up(56), up(40))]
        tmp_onnx = out / f"{onnx_name}.tmp"
        try:
            export(model, task, tmp_onnx, sizes[0])
            info = parity(model, task, tmp_onnx, sizes)
            diff = info["parity_max_abs_diff"]
            print(f"{cfg['id']}: ONNX Runtime vs PyTorch max abs diff {diff:.3g} on {info['parity_inputs']}", flush=True)
            if not diff <= PARITY_TOL:
                raise ExportError(f"{cfg['id']}: parity {diff:.3g} exceeds {PARITY_TOL:g}; {out / onnx_name} not replaced")
            size = tmp_onnx.stat().st_size
            if size > MAX_ONNX_BYTES:
                raise ExportError(f"{cfg['id']}: {onnx_name} is {size / 1e6:.1f} MB, above the 20 MB limit")
            card_path = out / "card.json"
            old = json.loads(card_path.read_text()) if card_path.exists() else {}
            if (task == "estimate" or above) and not old:
                raise ExportError(f"{cfg['id']}: {card_path} does not exist; export the denoiser first")
            if above and (old.get("params") != count_params(model) or old.get("size_multiple") != mult):
                raise ExportError(f"{cfg['id']}: its net ({count_params(model)} params, size multiple {mult}) is not the "
                                  f"architecture of {old.get('id')} ({old.get('params')} params); it must take the same "
                                  "tiles")
            os.replace(tmp_onnx, out / onnx_name)
        finally:
            tmp_onnx.unlink(missing_ok=True)
        if task == "estimate":
            entry = estimator_entry(cfg, model, ckpt, old.get("estimator", {}), info, out / onnx_name, args.hardware,
                                    Path(args.config), ckpt_path)
            write_json_atomic({**old, "estimator": entry}, card_path)
            print(f"wrote {out / onnx_name} ({size / 1e6:.2f} MB, {entry['params']} params) and the estimator "
                  f"entry of {card_path}", flush=True)
            return 0
        if above:
            if old.get("above_noise", {}).get("sha256") != hashlib.sha256((out / onnx_name).read_bytes()).hexdigest():
                old = {**old, "above_noise": {k: v for k, v in old.get("above_noise", {}).items() if k != "metrics"}}  # a new net: the old one's figures are not its own
            entry = above_noise_entry(cfg, ckpt, old.get("above_noise", {}), info, out / onnx_name, args.hardware,
                                      Path(args.config), ckpt_path)
            write_json_atomic({**old, "above_noise": entry}, card_path)
            print(f"wrote {out / onnx_name} ({size / 1e6:.2f} MB) and the above_noise entry of {card_path}", flush=True)
            return 0
        card = build_card(cfg, model, ckpt, old, info, out / "model.onnx", args.hardware, Path(args.config), ckpt_path)
        write_json_atomic(card, card_path)
        print(f"wrote {out / 'model.onnx'} ({size / 1e6:.2f} MB, {card['params']} params, "
              f"{card['macs_per_pixel']:.0f} MACs/px) and {card_path}", flush=True)
        return 0
    except ExportError as e:
        print(f"export_onnx: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
