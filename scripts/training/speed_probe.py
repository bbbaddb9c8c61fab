"""Time train.py's speed options on the machine at hand, and name the one that trains the most steps.

    python3 -m scripts.training.speed_probe CONFIG --device cuda --workers 13 --minutes 6 \\
        --variant="--check-every 1" --variant="--check-every 25" --variant="--check-every 25 --compile" \\
        [--dirs D ...] [--lines 4] [--timeout 240] [--out probe.json]

Each variant is a real run of train.py on CONFIG (from the id's committed checkpoint, as the training call
will be), in a throwaway --root and its own process group, stopped with SIGTERM once it has printed `--lines`
progress lines after its first one (the first holds the start-up: workers, cudnn's search, compiling), or at
`--timeout` (SIGKILL to the group 15 s later). Per variant: seconds to the first progress line (start-up), the
median s/step between the later lines' arrivals, and the share spent waiting for batches. The pick is the
variant that would make the most steps in `--minutes` (a compile that costs a minute must pay for itself),
among those that ran as asked (a compile that fell back to eager is reported, not picked). The last line
printed is `pick: <its options>` (empty when none ran).

Only options that leave what is learned unchanged belong here (--check-every, --compile, --channels-last,
--lean-batches: the same noise distribution, drawn on the device);
--amp changes the numerics and is a recipe change.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .data import ROOT

PROGRESS = re.compile(r"^step (\d+) loss \S+ lr \S+ ([0-9.]+)s/step \(batches (\d+)%\)")


def probe(config: str, variant: str, *, device: str, workers: int, dirs: list[str] | None, lines: int,
          timeout: float, grace: float = 15.0, train_cmd: list[str] | None = None) -> dict:
    """One variant, timed (see the module's text). SIGKILL to its group `grace` seconds after SIGTERM.
    `train_cmd`: how train.py is started (tests put a stand-in)."""
    root = Path(tempfile.mkdtemp(prefix="restora-probe-"))  # train.py goes on from the repository's checkpoint
    try:
        cmd = [*(train_cmd or [sys.executable, "-m", "scripts.training.train"]), config, "--device", device,
               "--workers", str(workers), "--threads", "2", "--minutes", "60", "--root", str(root)]
        if dirs:
            cmd += ["--dirs", *dirs]
        cmd += shlex.split(variant)
        t0 = time.time()
        # its own process group (the data workers too), so that a variant stuck in a compile or a batch can be
        # killed whole: SIGTERM asks train.py to checkpoint and stop between steps, SIGKILL follows 15 s later
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)

        def kill_group():
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        stop_timer = threading.Timer(timeout, proc.terminate)  # a variant that never gets going is stopped
        kill_timer = threading.Timer(timeout + grace, kill_group)
        stop_timer.start(); kill_timer.start()
        marks, waits, fell_back, tail = [], [], False, []  # (arrival time, step) of each progress line
        for line in proc.stdout:
            tail = (tail + [line.rstrip()])[-5:]
            if "training uncompiled" in line:
                fell_back = True
            m = PROGRESS.match(line)
            if not m:
                continue
            marks.append((time.time(), int(m.group(1))))
            if len(marks) > 1:
                waits.append(int(m.group(3)))
            if len(marks) > lines:
                stop_timer.cancel()
                proc.terminate()  # train.py checkpoints (into the throwaway root) and stops
                kill_timer.cancel()
                kill_timer = threading.Timer(grace, kill_group)
                kill_timer.start()
                for _ in proc.stdout:  # drain, so that it never blocks on a full pipe while stopping
                    pass
                break
        proc.wait()
        stop_timer.cancel(); kill_timer.cancel()
        kill_group()  # the workers, if any outlived it
        first = marks[0][0] - t0 if marks else None
        # seconds a step from the lines' arrival (the printed figure has 3 decimals: +-2 % at 0.027 s): the
        # median over the intervals from the second line on (the first holds the start-up, and the interval
        # after it may still hold cudnn's search or a recompile)
        rates = [(ta - tb) / (sa - sb) for (tb, sb), (ta, sa) in zip(marks[1:], marks[2:]) if sa > sb]
        r = {"variant": variant, "startup_s": None if first is None else round(first, 1), "fell_back": fell_back}
        if rates:
            r.update(s_per_step=round(statistics.median(rates), 5), batches_pct=statistics.median(waits))
        else:
            r["error"] = f"{len(marks)} progress line(s), 3 needed: " + " | ".join(tail)
        return r
    finally:
        shutil.rmtree(root, ignore_errors=True)


def pick(results: list[dict], minutes: float) -> dict | None:
    """The variant with the most steps in `minutes`, start-up included; None when none ran as asked."""
    ok = [r for r in results if r.get("s_per_step") and not r["fell_back"]]
    for r in ok:
        r["steps_in_run"] = int(max(0.0, minutes * 60 - r["startup_s"]) / r["s_per_step"])
    return max(ok, key=lambda r: r["steps_in_run"], default=None)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config")
    ap.add_argument("--variant", action="append", required=True, help='train.py options, as one string: --variant="--check-every 25"')
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--workers", type=int, default=13)
    ap.add_argument("--dirs", nargs="+", default=None)
    ap.add_argument("--minutes", type=float, default=8.0, help="the training call's length, for the pick")
    ap.add_argument("--lines", type=int, default=4,
                    help="progress lines (100 steps each) after the first, per variant; timed from the second on")
    ap.add_argument("--timeout", type=float, default=240.0, help="seconds a variant may take in all")
    ap.add_argument("--out", default=None, help="write the results here as JSON")
    args = ap.parse_args(argv)
    results = []
    for v in args.variant:
        r = probe(args.config, v, device=args.device, workers=args.workers, dirs=args.dirs, lines=args.lines,
                  timeout=args.timeout)
        results.append(r)
        print(json.dumps(r), flush=True)
    best = pick(results, args.minutes)
    if args.out:
        Path(args.out).write_text(json.dumps({"results": results, "pick": best and best["variant"]}, indent=1) + "\n")
    for r in results:
        steps = r.get("steps_in_run")
        print(f"{r['variant'] or '(none)':40s} start-up {r['startup_s']} s, "
              + (f"{r['s_per_step']:.4f} s/step, batches {r['batches_pct']}%"
                 + (f", {steps} steps in {args.minutes:g} min" if steps is not None else "") if "s_per_step" in r
                 else r.get("error", "")) + (" (fell back to eager: not picked)" if r["fell_back"] else ""), flush=True)
    print(f"pick: {best['variant'] if best else ''}", flush=True)
    return 0 if best else 1


if __name__ == "__main__":
    sys.exit(main())
