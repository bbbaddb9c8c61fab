"""Train one Restora model from a YAML config; resumable.

    /usr/bin/python3 -m scripts.training.train scripts/training/configs/denoise.yaml [--minutes M] [--device cuda]
        [--workers N] [--dirs D ...]

State: runs/<id>/state.pt (full: weights, EMA, optimiser, step; ignored by git, written every
`ckpt_seconds`) and scripts/training/checkpoints/<id>.pt (EMA weights only, fp16, committed; one file
per model, overwritten in place). Resume prefers the full state and falls back to the committed one.
A loss blow-up (NaN, or 20x the running mean) rolls back to the last snapshot and halves the lr
(`--check-every K`: the losses are read K steps at a time, which a GPU waits for less often).
Speed options for a GPU: `--compile` (torch.compile, CUDA graphs), `--channels-last`; Adam is fused there.
`speed_probe.py` times them on the machine at hand.
"""
from __future__ import annotations

import argparse
import copy
import inspect
import io
import signal
import json
import math
import os
import sys
import time
from pathlib import Path

import torch
import yaml

from .archs import build_model, count_params, load_ema
from .data import ROOT, TaskData, batch_loader, finish_batch, repo_path, unpack_lean, write_atomic
from .losses import LOSSES, masked_l1, psnr



def load_config(path: str) -> dict:
    with open(path) as f:
        cfg = yaml.safe_load(f)
    for key in ("id", "task", "model", "data", "optim"):
        if key not in cfg:
            raise ValueError(f"{path}: missing key {key!r}")
    if cfg.get("loss", "charbonnier") not in LOSSES:
        raise ValueError(f"{path}: loss {cfg['loss']!r} is not one of {sorted(LOSSES)}")
    if cfg.get("loss") and cfg["task"] not in ("denoise", "upscale"):
        raise ValueError(f"{path}: loss applies to denoise and upscale only (inpaint uses masked L1)")
    return cfg


def lr_at(step: int, optim: dict, time_frac: float = 0.0, warm_from: int = 0) -> float:
    """Linear warm-up (from step `warm_from`, which is where a run resumed without optimiser
    state), then cosine decay over whichever runs out first: steps or the time budget."""
    warm = int(optim.get("warmup", 500))
    total = int(optim["steps"])
    base = float(optim["lr"]) * float(optim.get("lr_scale", 1.0))
    if step - warm_from < warm:
        ramp = base * (step - warm_from + 1) / warm
        if step < warm:
            return ramp
        return min(ramp, lr_at(step, optim, time_frac))
    t = min(1.0, max((step - warm) / max(1, total - warm), time_frac))
    return float(optim.get("min_lr", 1e-6)) + 0.5 * (base - float(optim.get("min_lr", 1e-6))) * (1 + math.cos(math.pi * t))


def level_error(model, image, target):
    """Noise estimator: mean |log(1 + 255 estimate) - log(1 + 255 truth)|."""
    return (model.log_level(image) - torch.log1p(255 * target)).abs().mean()


def forward_loss(task, model, inputs, target, loss: str = "charbonnier"):
    if task == "estimate":
        return None, level_error(model, inputs[0], target)
    out = model(*inputs)
    if task == "inpaint":
        return out, masked_l1(out, target, inputs[1])
    return out, LOSSES[loss](out, target)


def ema_update(ema: torch.nn.Module, model: torch.nn.Module, d: float) -> None:
    """ema <- d * ema + (1 - d) * model, parameter by parameter, in two multi-tensor ops (one kernel launch
    each per chunk of tensors on a GPU, instead of two per tensor: a step there is launch-bound)."""
    with torch.no_grad():
        pe = list(ema.parameters())
        torch._foreach_mul_(pe, d)
        torch._foreach_add_(pe, [p.detach() for p in model.parameters()], alpha=1 - d)


def load_optimizer(opt: torch.optim.Optimizer, saved: dict, fused: bool) -> None:
    """Adam's saved state into `opt`, under this run's options: a saved group's own `fused` would otherwise win
    (a state saved on a GPU would ask torch for a fused CPU kernel it may not have, and a state saved unfused
    would stay so), and the moments take the parameters' memory layout (the fused kernel wants them alike;
    a run resumed with or without --channels-last changes it)."""
    saved = {**saved, "param_groups": [{**g, "fused": True if fused else None} for g in saved["param_groups"]]}
    opt.load_state_dict(saved)
    for group in opt.param_groups:
        for p in group["params"]:
            st = opt.state.get(p, {})
            for k in ("exp_avg", "exp_avg_sq"):
                if k in st and st[k].stride() != p.stride():
                    st[k] = torch.empty_like(p).copy_(st[k])


def finite(*nets: torch.nn.Module) -> list[bool]:
    """Per net, whether all its weights are finite (one GPU wait for all of them)."""
    flags = [torch.stack([torch.isfinite(p).all() for p in net.parameters()]).all() for net in nets]
    return torch.stack(flags).tolist()


def evaluate(task, model, val, device) -> float:
    model.eval()
    inputs, target = val
    with torch.no_grad():
        vals = []
        for k in range(0, target.shape[0], 8):
            inp = tuple(x[k:k + 8].to(device) for x in inputs)
            if task == "estimate":  # higher is better, like PSNR: minus the mean log error
                vals.append(-float(level_error(model, inp[0], target[k:k + 8].to(device))))
                continue
            out = model(*inp).cpu()
            m = inputs[1][k:k + 8] if task == "inpaint" else None
            vals.append(psnr(out, target[k:k + 8], m))
    model.train()
    return sum(vals) / len(vals)


def paths_for(cfg, root: Path = ROOT):
    run_dir = root / "runs" / cfg["id"]
    ckpt = root / "scripts" / "training" / "checkpoints" / f"{cfg['id']}.pt"
    return run_dir, ckpt


def save_atomic(obj, path: Path):
    buf = io.BytesIO()
    torch.save(obj, buf)
    write_atomic(path, buf.getvalue())


def committed_checkpoint(ema_state: dict, step: int, train_seconds: float, cfg: dict, hardware: str) -> dict:
    """What scripts/training/checkpoints/<id>.pt holds: the EMA weights in fp16, step, time, config, hardware.
    A weight beyond fp16's range (it would be stored as infinity) is refused."""
    ema = {k: v.detach().cpu().half() for k, v in ema_state.items()}
    bad = [k for k, v in ema.items() if not torch.isfinite(v).all()]
    if bad:
        raise ValueError(f"EMA weights not finite in fp16 (beyond +-65504?): {', '.join(bad[:3])}")
    return {"ema": ema, "step": step, "train_seconds": train_seconds, "config": cfg, "hardware": hardware}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("--minutes", type=float, default=None, help="stop after this many minutes")
    ap.add_argument("--steps", type=int, default=None, help="stop at this step (overrides config)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("RESTORA_TRAIN_THREADS", "1")))
    ap.add_argument("--root", default=str(ROOT), help="where runs/ and checkpoints/ live")
    ap.add_argument("--continue-schedule", nargs="?", type=float, const=-1.0, default=None, metavar="FRAC",
                    help="with --minutes, resume the timed cosine where the interrupted run left it (the "
                         "fraction saved in state.pt, or FRAC in [0, 1]) instead of starting a new one; e.g. "
                         "to go on with more threads")
    ap.add_argument("--workers", type=int, default=0,
                    help="make the batches in N worker processes (a GPU that one core cannot feed); the noise "
                         "estimator's readings for camera_map 'estimator' then run on --device")
    ap.add_argument("--dirs", nargs="+", default=None,
                    help="train on these folders instead of the config's data.dirs (e.g. the photos packed by "
                         "pack_photos.py on a lent GPU machine); the checkpoint's config records them")
    ap.add_argument("--check-every", type=int, default=1, metavar="K",
                    help="read the losses for the blow-up check every K steps instead of every step: on a GPU each "
                         "read waits for the step to finish; with K > 1 updates are made before their check, and a "
                         "blow-up rolls back the EMA as well")
    ap.add_argument("--compile", nargs="?", const="reduce-overhead", default=None, metavar="MODE",
                    help="run the training forward and backward through torch.compile (torch >= 2; MODE as torch.compile "
                         "takes it, default reduce-overhead: CUDA graphs, for a step bound by kernel launches). If "
                         "compiling or the compiled step fails, the run says so and goes on uncompiled")
    ap.add_argument("--channels-last", action="store_true",
                    help="weights and batches in channels-last memory order (what GPU convolutions prefer)")
    ap.add_argument("--amp", choices=["off", "bf16"], default="off",
                    help="bf16 autocast for the forward (the loss and the residual output stay fp32). It changes "
                         "the numerics: a recipe change, to be chosen by a selection rule, not a speed switch")
    ap.add_argument("--lean-batches", action="store_true",
                    help="denoise with --workers: each batch travels from its worker as one buffer without the white "
                         "noise and with one map value per crop; the training device draws the noise (the same "
                         "distribution, about 40 %% fewer bytes, one transfer instead of five)")
    ap.add_argument("--seed", type=int, default=None,
                    help="train the config again under another seed, as its own model: id <id>-seed<N> (its own "
                         "runs/ and checkpoint), e.g. the ingredients of a weight average (soup.py)")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    if args.seed is not None:
        cfg["id"], cfg["seed"] = f"{cfg['id']}-seed{args.seed}", args.seed
    if args.dirs:
        cfg["data"]["dirs"] = list(args.dirs)
    task = cfg["task"]
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed batch shapes
    torch.manual_seed(int(cfg.get("seed", 0)))
    run_dir, ckpt_path = paths_for(cfg, Path(args.root))
    run_dir.mkdir(parents=True, exist_ok=True)
    state_path = run_dir / "state.pt"
    log_path = run_dir / "log.jsonl"

    data_seed = int(cfg.get("seed", 0)) + int(time.time()) % 100000
    data = TaskData(task, cfg["data"], seed=data_seed)
    val = data.val_batch(int(cfg["data"].get("val_crop", 128)))
    batch = int(cfg["data"]["batch"])
    if args.lean_batches and (task != "denoise" or args.workers < 1):
        raise SystemExit("--lean-batches is for the denoiser's batches made by --workers")
    if args.workers > 0:  # forked before anything touches the GPU
        stream = batch_loader(data, batch, args.workers, data_seed, pin=device.type == "cuda", lean=args.lean_batches)
        reader = data.estimator().to(device) if data.reads_estimator else None
        if args.lean_batches:
            noise_gen = torch.Generator(device=device)
            noise_gen.manual_seed(data_seed)

            def next_batch():
                return unpack_lean(*next(stream), reader, device, noise_gen)
        else:
            def next_batch():
                inputs, target, pending = next(stream)
                inputs = tuple(x.to(device, non_blocking=True) for x in inputs)
                return finish_batch(inputs, pending, reader, device), target.to(device, non_blocking=True)
    else:
        def next_batch():
            inputs, target = data.train_batch(batch)
            return tuple(x.to(device) for x in inputs), target.to(device)
    model = build_model(cfg["model"]).to(device)
    layout = torch.channels_last if args.channels_last else torch.contiguous_format
    model.to(memory_format=layout)
    ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    # Adam's fused kernel on a GPU, where torch has it: one launch for all parameters, the same update
    fused = device.type == "cuda" and "fused" in inspect.signature(torch.optim.Adam).parameters

    def make_opt():
        kw = {"fused": True} if fused else {}
        return torch.optim.Adam(model.parameters(), lr=float(cfg["optim"]["lr"]), betas=(0.9, 0.99), **kw)

    opt = make_opt()
    # optim.lr_scale: the scale a run starts with when there is no full state (e.g. after grow.py);
    # a full state's own lr_scale (halved by blow-ups) wins over it
    step, lr_scale, train_seconds, best = 0, float(cfg["optim"].get("lr_scale", 1.0)), 0.0, -1.0
    warm_from = 0
    sched_frac = 0.0  # how far the timed cosine of an interrupted run had gone
    saved_frac = None  # what the full state says about that; the committed weights do not say

    if state_path.exists():
        st = torch.load(state_path, map_location="cpu")
        model.load_state_dict(st["model"]); ema.load_state_dict(st["ema"]); load_optimizer(opt, st["opt"], fused)
        step, lr_scale, train_seconds, best = st["step"], st.get("lr_scale", 1.0), st.get("train_seconds", 0.0), st.get("best", -1.0)
        saved_frac = float(st.get("sched_frac", 0.0))
        print(f"resumed full state at step {step}", flush=True)
    else:
        # committed EMA weights without optimiser moments: this id's own checkpoint (under --root, else the
        # repository's: a run in a scratch root, as on a lent GPU, goes on from it), or else (a new id, e.g. a
        # fine-tuning candidate) the one named by `init:`; step and training time go on from there, with a
        # fresh optimiser that warms up again
        repo_ckpt = paths_for(cfg, ROOT)[1]
        committed = ckpt_path if ckpt_path.exists() else repo_ckpt if repo_ckpt.exists() else None
        if committed is None and cfg.get("init"):
            committed = repo_path(cfg["init"])
            if not committed.exists():
                raise SystemExit(f"{args.config}: init checkpoint {cfg['init']} does not exist")
        if committed is not None:
            st = torch.load(committed, map_location="cpu")
            load_ema(model, st); load_ema(ema, st)
            step, train_seconds = st["step"], st.get("train_seconds", 0.0)
            warm_from = step
            saved_frac = 0.0
            how = "resumed committed weights" if committed in (ckpt_path, repo_ckpt) else f"started from {cfg['init']}"
            print(f"{how} at step {step} (fresh optimiser)", flush=True)
    if args.continue_schedule is not None and saved_frac is not None:  # a resumed run: FRAC, or the saved one
        sched_frac = args.continue_schedule if args.continue_schedule >= 0 else saved_frac
        print(f"continuing the timed schedule from {sched_frac:.3f}", flush=True)
    for name, ok in zip(("weights", "EMA"), finite(model, ema)):
        if not ok:  # a rollback would return to them forever
            raise SystemExit(f"{cfg['id']}: the {name} it resumes from are not finite (NaN or infinity); "
                             f"remove {state_path} to go on from the committed checkpoint")
    model.to(device); ema.to(device)
    print(f"{cfg['id']}: {count_params(model)} params, task {task}", flush=True)

    def uncompiled(e: Exception):
        print(f"compiled step failed ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
              "training uncompiled", flush=True)
        return model

    fwd = model  # what the training step runs: the model, or torch.compile's version of it
    if args.compile:
        if hasattr(torch, "compile"):
            try:
                fwd = torch.compile(model, mode=args.compile, dynamic=False)  # batches have one shape
            except Exception as e:  # noqa: BLE001 - e.g. a mode this torch does not know
                fwd = uncompiled(e)
        else:
            print(f"torch {torch.__version__} has no torch.compile: training uncompiled", flush=True)
    print("speed options: " + ", ".join([f"compile {args.compile}" if fwd is not model else "eager",
                                         "fused Adam" if fused else "Adam", "channels-last" if args.channels_last
                                         else "contiguous", f"amp {args.amp}", f"check every {args.check_every}"]
                                        + (["lean batches"] if args.lean_batches else [])),
          flush=True)

    def step_loss(net):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.amp == "bf16"):
            _, loss = forward_loss(task, net, inputs, target, cfg.get("loss", "charbonnier"))
        return loss.float()

    optim_cfg = dict(cfg["optim"])
    total = args.steps or int(optim_cfg["steps"])
    ema_decay = float(cfg.get("ema", 0.999))
    ckpt_every = float(cfg.get("ckpt_seconds", 240))
    val_every = int(cfg.get("val_every", 1000))
    start = time.time()
    deadline = start + args.minutes * 60 if args.minutes else None
    snapshot = copy.deepcopy(model.state_dict())
    run_loss, last_ckpt, t0 = None, time.time(), time.time()
    waited = 0.0  # seconds spent waiting for batches since the last progress line: the loader's share of a step

    def time_frac() -> float:
        if not deadline:
            return 0.0
        return sched_frac + (1.0 - sched_frac) * (time.time() - start) / (deadline - start)

    def checkpoint(final=False):
        nonlocal last_ckpt
        save_atomic({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "step": step,
                     "lr_scale": lr_scale, "train_seconds": train_seconds, "best": best, "config": cfg,
                     "sched_frac": min(1.0, time_frac())}, state_path)
        hardware = os.environ.get("RESTORA_TRAIN_HARDWARE", f"{args.device}, {args.threads} thread(s)")
        save_atomic(committed_checkpoint(ema.state_dict(), step, train_seconds, cfg, hardware), ckpt_path)
        last_ckpt = time.time()

    stop = {"now": False}

    def on_signal(signum, _frame):  # SIGTERM/SIGINT: finish the step, write the checkpoint, exit
        stop["now"] = True
        print(f"signal {signum}: checkpointing and stopping", flush=True)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    # the blow-up check reads each step's loss; reading it waits for the GPU. With --check-every K > 1 the losses
    # of K steps are read at once (one wait): those updates are then made before they are checked, so a blow-up
    # among them rolls the EMA back to the snapshot too. K = 1 checks each loss before its update. Either way an
    # update whose own loss was finite may have left non-finite weights (the next loss is then the first bad one):
    # the EMA, which has seen that update, goes back to the snapshot too when it is no longer finite, and the weights
    # are checked before anything is saved, scored or snapshotted.
    check_every = max(1, int(args.check_every))
    pending: list[tuple[int, torch.Tensor]] = []  # (step, loss) not yet checked; all but the last already applied
    snap_ema = copy.deepcopy(ema.state_dict())

    checked_at = step  # the step of the last passed weights check (never before the snapshot's)

    def rollback(at: int, why: str, ema_too: bool) -> None:
        """The model (and the EMA when it has seen a bad update) back to the snapshot, a fresh optimiser, half the
        lr; the steps from `at` on are dropped. Below 1e-4 of the lr the run stops: it is not recovering."""
        nonlocal step, opt, lr_scale
        print(f"step {at}: {why}; rolling back, lr x0.5", flush=True)
        model.load_state_dict(snapshot)
        if ema_too:
            ema.load_state_dict(snap_ema)
        opt = make_opt()
        lr_scale *= 0.5
        step = at
        pending.clear()
        if lr_scale < 1e-4:
            raise SystemExit(f"{cfg['id']}: still blowing up after repeated rollbacks (lr scale {lr_scale:.1e}); "
                             "stopping (the last checkpoint written stands)")

    def settle(check_weights: bool = False) -> bool:
        """Check the pending losses, and with `check_weights` that the weights are finite (an update whose own
        loss was finite can still leave NaN). False: something blew up and was rolled back."""
        nonlocal run_loss, checked_at
        if pending:
            vals = torch.stack([l for _, l in pending]).tolist()  # one wait for all of them
            for j, ((at, _), lv) in enumerate(zip(pending, vals)):
                if not math.isfinite(lv) or (run_loss is not None and at > 200 and lv > 20 * run_loss):
                    # its update was made (inside a group), or an earlier one left the EMA non-finite
                    rollback(at, f"loss blew up ({lv:.4g})", j < len(pending) - 1 or at < step or not finite(ema)[0])
                    return False
                run_loss = lv if run_loss is None else 0.98 * run_loss + 0.02 * lv
            pending.clear()
        if check_weights:
            ok_model, ok_ema = finite(model, ema)
            if not (ok_model and ok_ema):  # the steps since the last passed check are made again
                rollback(checked_at, f"weights not finite after step {step}", not ok_ema)
                return False
            checked_at = step
        return True

    while step < total and not stop["now"]:
        ts = time.time()
        inputs, target = next_batch()
        if args.channels_last:  # images and maps; the estimator's targets are one number a crop
            inputs = tuple(x.contiguous(memory_format=layout) if x.dim() == 4 else x for x in inputs)
            target = target.contiguous(memory_format=layout) if target.dim() == 4 else target
        waited += time.time() - ts
        optim_cfg["lr_scale"] = lr_scale
        tf = time_frac()
        for g in opt.param_groups:
            g["lr"] = lr_at(step, optim_cfg, tf, warm_from)
        try:
            loss = step_loss(fwd)
        except Exception as e:  # noqa: BLE001 - a compiler error of any kind: go on without it
            if fwd is model:
                raise
            fwd = uncompiled(e)
            loss = step_loss(fwd)
        pending.append((step, loss.detach()))
        if len(pending) >= check_every and not settle():
            continue
        opt.zero_grad(set_to_none=True)
        try:
            loss.backward()
        except Exception as e:  # noqa: BLE001 - the compiled backward failed: redo the step uncompiled
            if fwd is model:
                raise
            fwd = uncompiled(e)
            opt.zero_grad(set_to_none=True)
            loss = step_loss(fwd)  # the same weights and batch as the loss just checked (K = 1) or pending
            if pending:
                pending[-1] = (step, loss.detach())
            loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), float(cfg["optim"].get("clip", 0.5)))
        opt.step()
        ema_update(ema, model, min(ema_decay, (1 + step) / (10 + step)))
        step += 1
        train_seconds += time.time() - ts
        due_val = step % val_every == 0 or step == total
        due_ckpt = time.time() - last_ckpt > ckpt_every
        due_stop = bool(deadline and time.time() > deadline)
        # before anything is saved, scored, printed or kept as the snapshot (every 100 and 250 steps), its
        # updates and the weights are checked: nothing comes from updates that blew up
        if (due_val or due_ckpt or due_stop or step % 50 == 0) and not settle(check_weights=True):
            continue
        if step % 250 == 0:
            snapshot = copy.deepcopy(model.state_dict())
            snap_ema = copy.deepcopy(ema.state_dict())
        if step % 100 == 0:
            took = time.time() - t0
            print(f"step {step} loss {run_loss:.5f} lr {opt.param_groups[0]['lr']:.2e} "
                  f"{took / 100:.3f}s/step (batches {100 * waited / max(took, 1e-9):.0f}%)", flush=True)
            t0, waited = time.time(), 0.0
        if due_val:
            v = evaluate(task, ema, val, device)
            best = max(best, v)
            with open(log_path, "a") as f:
                f.write(json.dumps({"step": step, "loss": run_loss, "val_psnr": v, "train_seconds": train_seconds,
                                    "time": time.time()}) + "\n")
            unit = "(minus mean |log(1+255 sigma)| error)" if task == "estimate" else "dB"
            print(f"step {step} val {v:.3f} {unit} (held-out training photos)", flush=True)
        if due_ckpt:
            checkpoint()
        if due_stop:
            break
    settle(check_weights=True)  # stopped by a signal: unchecked updates that blew up leave the snapshot's weights to save
    checkpoint(final=True)
    print(f"stopped at step {step}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
