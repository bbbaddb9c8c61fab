"""speed_probe.py: real train.py runs per variant, timed from their progress lines; the pick."""
from __future__ import annotations

import json

from scripts.training import speed_probe as P


def test_probe_times_variants_and_picks_one_that_ran_as_asked(tiny_config, tmp_path, capsys):
    cfg = tiny_config("denoise", optim={"lr": 1.0e-3, "steps": 100000, "warmup": 1, "min_lr": 1.0e-5})
    out = tmp_path / "probe.json"
    rc = P.main([str(cfg), "--device", "cpu", "--workers", "0", "--lines", "2", "--timeout", "120", "--minutes", "1",
                 "--variant=--check-every 1", "--variant=--check-every 5",
                 "--variant=--compile",  # torch 1.13 has none: it trains eagerly, and so is not picked
                 "--variant=--no-such-option", "--out", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0
    res = json.loads(out.read_text())
    by = {r["variant"]: r for r in res["results"]}
    for v in ("--check-every 1", "--check-every 5"):
        assert by[v]["s_per_step"] > 0 and 0 <= by[v]["batches_pct"] <= 100 and by[v]["startup_s"] > 0
        assert not by[v]["fell_back"] and by[v]["steps_in_run"] > 0
    if not hasattr(__import__("torch"), "compile"):
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
