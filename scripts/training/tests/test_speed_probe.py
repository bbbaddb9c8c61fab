"""speed_probe.py: real train.py runs per variant, timed from their progress lines; the pick."""
from __future__ import annotations

import json
import sys
import time

import torch

from scripts.training import speed_probe as P


def test_probe_times_variants_and_picks_one_that_ran_as_asked(tiny_config, tmp_path, capsys):
    cfg = tiny_config("denoise", optim={"lr": 1.0e-3, "steps": 100000, "warmup": 1, "min_lr": 1.0e-5})
    out = tmp_path / "probe.json"
    # torch 1.13 has no torch.compile: that variant trains eagerly, and so is not picked (where torch has one, a
    # CPU compile would only make this test slow)
    no_compile = not hasattr(torch, "compile")
    rc = P.main([str(cfg), "--device", "cpu", "--workers", "0", "--lines", "3", "--timeout", "120", "--minutes", "1",
                 "--variant=--check-every 1", "--variant=--check-every 5",
                 *(["--variant=--compile"] if no_compile else []),
                 "--variant=--no-such-option", "--out", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0
    res = json.loads(out.read_text())
    by = {r["variant"]: r for r in res["results"]}
    for v in ("--check-every 1", "--check-every 5"):
        assert by[v]["s_per_step"] > 0 and 0 <= by[v]["batches_pct"] <= 100 and by[v]["startup_s"] > 0
        assert not by[v]["fell_back"] and by[v]["steps_in_run"] > 0
    if no_compile:
        assert by["--compile"]["fell_back"] and "steps_in_run" not in by["--compile"]
    assert "error" in by["--no-such-option"] and "unrecognized arguments" in by["--no-such-option"]["error"]
    assert res["pick"] in ("--check-every 1", "--check-every 5")
    assert res["pick"] == max((by["--check-every 1"], by["--check-every 5"]), key=lambda r: r["steps_in_run"])["variant"]
    assert printed.rstrip().splitlines()[-1] == f"pick: {res['pick']}"


def test_pick_counts_the_start_up_against_the_run():
    fast_but_slow_to_start = {"variant": "c", "startup_s": 100.0, "s_per_step": 0.010, "fell_back": False}
    steady = {"variant": "e", "startup_s": 10.0, "s_per_step": 0.015, "fell_back": False}
    assert P.pick([dict(fast_but_slow_to_start), dict(steady)], 2.0)["variant"] == "e"   # 2,000 vs 7,333 steps
    assert P.pick([dict(fast_but_slow_to_start), dict(steady)], 10.0)["variant"] == "c"  # 50,000 vs 39,333
    assert P.pick([{"variant": "x", "startup_s": None, "fell_back": False, "error": "..."}], 5.0) is None


def test_a_variant_that_hangs_is_killed_at_its_timeout(tiny_config, tmp_path):
    # a stuck compile or batch: train.py never prints a progress line and would ignore SIGTERM until its next
    # step; the probe kills its whole process group and goes on
    hang = tmp_path / "hang.py"
    hang.write_text("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('compiling', flush=True)\n"
                    "time.sleep(300)\n")
    t = time.time()
    r = P.probe(str(tiny_config("denoise")), "", device="cpu", workers=0, dirs=None, lines=3, timeout=1, grace=1,
                train_cmd=[sys.executable, str(hang)])
    assert time.time() - t < 15
    assert r["startup_s"] is None and "0 progress line(s)" in r["error"] and "compiling" in r["error"]
