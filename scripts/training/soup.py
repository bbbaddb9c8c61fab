"""Average the weights of fine-tunes of one net ("model soup", Wortsman et al., ICML 2022) into one checkpoint.

    /usr/bin/python3 -m scripts.training.soup OUT.pt A.pt B.pt [C.pt ...]

The inputs are committed checkpoints (`{"ema", "step", "train_seconds", "config", ...}`) of the same
architecture: the net they were fine-tuned from, and its fine-tunes (e.g. configs/denoise-soup.yaml under
several `--seed`s). Runs that start from one trained net stay in its basin, so the mean of their weights is a
net of the same size and speed whose errors are averaged; whether it is better is for `validate.py` to say
on the held-out crops, never a test set.

OUT gets the mean of the EMA weights (fp16, as committed), the first input's config (not its hardware), and a
`soup` list of the ingredients (file, id, step, hours). Its `step` and `train_seconds` count all the
training that went into it: the ancestor's (the input with the fewest steps; the fine-tunes start from it,
so their counts include its) plus what each other input added. That holds only when every input starts from
the one with the fewest steps; for fine-tunes of different nets (session 11: one of session 10's soup, one of the
step-67,611 net), count the training yourself and pass `--steps N --hours H`, which replace both numbers. Nothing
is written when the inputs differ in architecture or parameter names, or there are fewer than two.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from .archs import build_model, load_ema
from .train import save_atomic


class SoupError(RuntimeError):
    pass


def make_soup(paths: list[Path]) -> dict:
    if len(paths) < 2:
        raise SoupError("a soup needs at least two checkpoints")
    sts = []
    for p in paths:
        if not p.exists():
            raise SoupError(f"{p}: no such checkpoint")
        sts.append(torch.load(p, map_location="cpu"))
    arch = sts[0]["config"]["model"]
    for p, st in zip(paths[1:], sts[1:]):
        if st["config"]["model"] != arch:
            raise SoupError(f"{p}: model {st['config']['model']} differs from {paths[0]}'s {arch}")
        if set(st["ema"]) != set(sts[0]["ema"]):
            raise SoupError(f"{p}: its parameters are not {paths[0]}'s")
    ema = {}
    for k, v in sts[0]["ema"].items():
        if v.is_floating_point():
            ema[k] = (sum(st["ema"][k].double() for st in sts) / len(sts)).to(v.dtype)
        else:  # counters (none in these nets today): the first input's
            ema[k] = v
    base = min(sts, key=lambda st: st["step"])
    step = base["step"] + sum(st["step"] - base["step"] for st in sts)
    seconds = base.get("train_seconds", 0.0) + sum(st.get("train_seconds", 0.0) - base.get("train_seconds", 0.0)
                                                   for st in sts)
    # the first input's config; not its hardware, which describes only that input's training
    out = {k: v for k, v in sts[0].items() if k not in ("ema", "step", "train_seconds", "soup", "hardware")}
    out.update({"ema": ema, "step": int(step), "train_seconds": float(seconds),
                "soup": [{"file": p.name, "id": st["config"].get("id", ""), "step": int(st["step"]),
                          "hours": round(float(st.get("train_seconds", 0.0)) / 3600, 3)} for p, st in zip(paths, sts)]})
    load_ema(build_model(arch), out)  # the average must load into the model its config describes
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--steps", type=int, help="all the training in the soup, in steps, when the inputs have "
                    "different ancestors (default: the ancestor's plus what each fine-tune added)")
    ap.add_argument("--hours", type=float, help="the same in hours; give both or neither")
    args = ap.parse_args(argv)
    if (args.steps is None) != (args.hours is None) or (args.steps is not None and (args.steps < 1 or args.hours <= 0)):
        print("soup: give --steps and --hours together, both positive", file=sys.stderr)
        return 2
    try:
        st = make_soup([Path(p) for p in args.checkpoints])
    except SoupError as e:
        print(f"soup: {e}", file=sys.stderr)
        return 2
    if args.steps is not None:
        st.update(step=args.steps, train_seconds=args.hours * 3600)
    save_atomic(st, Path(args.out))
    print(f"{args.out}: mean of {len(args.checkpoints)} checkpoints, {st['step']} steps, "
          f"{st['train_seconds'] / 3600:.2f} h of training in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
