"""train.py on tiny configs: a few steps, checkpoint, resume (full state and committed weights), blow-up rollback."""
from __future__ import annotations

import json
import math

import pytest
import torch

from scripts.training import train as T


def run(cfg, root, *extra):
    return T.main([str(cfg), "--root", str(root), *extra])


def spoil_loss(monkeypatch, at_call: int, spoil) -> dict:
    """forward_loss's `at_call`-th call (from 1) returns spoil(loss); returns the call counter."""
    real = T.forward_loss
    calls = {"n": 0}

    def spoiled(task, model, inputs, target, loss_name="charbonnier"):
        out, loss = real(task, model, inputs, target, loss_name)
        calls["n"] += 1
        return out, spoil(loss) if calls["n"] == at_call else loss

    monkeypatch.setattr(T, "forward_loss", spoiled)
    return calls


@pytest.mark.parametrize("task", ["denoise", "inpaint", "upscale", "estimate"])
def test_three_steps_write_checkpoints(task, tiny_config, tmp_path):
    cfg = tiny_config(task)
    assert run(cfg, tmp_path) == 0
    state = torch.load(tmp_path / "runs" / f"tiny-{task}" / "state.pt")
    ckpt = torch.load(tmp_path / "scripts" / "training" / "checkpoints" / f"tiny-{task}.pt")
    assert state["step"] == 3 and ckpt["step"] == 3
    assert set(ckpt) >= {"ema", "step", "train_seconds", "config"}
    assert all(v.dtype == torch.float16 for v in ckpt["ema"].values())
    assert ckpt["config"]["id"] == f"tiny-{task}" and ckpt["train_seconds"] > 0
    log = [json.loads(line) for line in (tmp_path / "runs" / f"tiny-{task}" / "log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 3 and math.isfinite(log[-1]["val_psnr"])


def test_resume_full_state_then_committed_weights(tiny_config, tmp_path, capsys):
    cfg = tiny_config("denoise")
    assert run(cfg, tmp_path) == 0
    first = torch.load(tmp_path / "runs" / "tiny-denoise" / "state.pt")
    capsys.readouterr()
    assert run(cfg, tmp_path, "--steps", "5") == 0
    out = capsys.readouterr().out
    assert "resumed full state at step 3" in out and "stopped at step 5" in out
    second = torch.load(tmp_path / "runs" / "tiny-denoise" / "state.pt")
    assert second["step"] == 5 and second["train_seconds"] > first["train_seconds"]
    assert not torch.equal(first["model"]["head.weight"], second["model"]["head.weight"])

    # without the (ignored) full state, resume from the committed fp16 EMA weights
    (tmp_path / "runs" / "tiny-denoise" / "state.pt").unlink()
    committed = torch.load(tmp_path / "scripts" / "training" / "checkpoints" / "tiny-denoise.pt")
    assert run(cfg, tmp_path, "--steps", "6") == 0
    out = capsys.readouterr().out
    assert "resumed committed weights at step 5 (fresh optimiser)" in out and "stopped at step 6" in out
    third = torch.load(tmp_path / "runs" / "tiny-denoise" / "state.pt")
    assert third["step"] == 6
    # one step from the committed weights: the EMA moved from them, but only a little
    d = (third["ema"]["head.weight"] - committed["ema"]["head.weight"].float()).abs().max()
    assert 0 < d < 0.05


def test_blow_up_rolls_back_and_halves_lr(tiny_config, tmp_path, capsys, monkeypatch):
    cfg = tiny_config("denoise")
    calls = spoil_loss(monkeypatch, 2, lambda loss: loss * float("nan"))  # the second step's loss is NaN
    assert run(cfg, tmp_path) == 0
    out = capsys.readouterr().out
    assert "step 1: loss blew up (nan); rolling back, lr x0.5" in out
    st = torch.load(tmp_path / "runs" / "tiny-denoise" / "state.pt")
    assert st["step"] == 3 and st["lr_scale"] == 0.5
    assert calls["n"] == 4  # the failed step was retried, not counted
    assert all(torch.isfinite(v).all() for v in st["model"].values())
    assert all(torch.isfinite(v).all() for v in st["ema"].values())


def test_ema_update_is_the_weighted_mean():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Conv2d(4, 3, 1))
    ema = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Conv2d(4, 3, 1))
    want = [0.9 * e.detach().clone() + 0.1 * m.detach() for e, m in zip(ema.parameters(), model.parameters())]
    T.ema_update(ema, model, 0.9)
    for e, w in zip(ema.parameters(), want):
        assert torch.allclose(e, w, atol=1e-7)
    assert all(not torch.equal(e, m) for e, m in zip(ema.parameters(), model.parameters()))


def test_a_scratch_root_goes_on_from_the_repositorys_checkpoint(tiny_config, tmp_path, capsys, monkeypatch):
    # as on a lent GPU (--root /tmp/root, or the speed probe's throwaway root): the id's committed checkpoint in
    # the repository is where the run starts, not the config's beginning
    cfg = tiny_config("denoise")
    repo = tmp_path / "repo"
    assert run(cfg, repo) == 0
    monkeypatch.setattr(T, "ROOT", repo)
    capsys.readouterr()
    assert run(cfg, tmp_path / "scratch", "--steps", "5") == 0
    out = capsys.readouterr().out
    assert "resumed committed weights at step 3 (fresh optimiser)" in out and "stopped at step 5" in out
    assert (tmp_path / "scratch" / "scripts" / "training" / "checkpoints" / "tiny-denoise.pt").exists()
    assert torch.load(repo / "scripts" / "training" / "checkpoints" / "tiny-denoise.pt")["step"] == 3  # untouched


def test_bad_config_is_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\ntask: denoise\n")
    with pytest.raises(ValueError, match="missing key 'model'"):
        T.load_config(str(bad))


def test_loss_is_chosen_by_the_config(tiny_config, tmp_path, monkeypatch):
    """loss: mse trains on the mean squared error (the logged loss is MSE-sized, not Charbonnier-sized);
    an unknown loss, or a loss for a task that has its own, is refused before anything runs."""
    seen = []
    real = T.LOSSES["mse"]
    monkeypatch.setitem(T.LOSSES, "mse", lambda p, t: seen.append(1) or real(p, t))
    assert run(tiny_config("denoise", loss="mse"), tmp_path) == 0
    assert len(seen) == 3
    assert T.forward_loss("denoise", lambda x, s: x, (torch.zeros(1, 3, 4, 4), None), torch.full((1, 3, 4, 4), 0.1),
                          "mse")[1].item() == pytest.approx(0.01)
    with pytest.raises(ValueError, match="loss 'l3' is not one of"):
        T.load_config(str(tiny_config("denoise", loss="l3")))
    with pytest.raises(ValueError, match="denoise and upscale only"):
        T.load_config(str(tiny_config("inpaint", loss="mse")))


def test_psnr_loss_weighs_every_crop_the_same_in_db(tiny_config, tmp_path):
    """loss: psnr (session 11): halving the error of a nearly clean crop lowers the loss as much as halving that
    of a heavily noisy one (with the MSE the noisy crop counts far more), and it trains."""
    from scripts.training.losses import psnr_loss

    target = torch.zeros(2, 3, 8, 8)
    pred = torch.stack([torch.full((3, 8, 8), 0.01), torch.full((3, 8, 8), 0.2)])  # about 40 dB and 14 dB
    base = psnr_loss(pred, target, floor=0).item()
    low, high = pred.clone(), pred.clone()
    low[0] /= 2 ** 0.5
    high[1] /= 2 ** 0.5
    assert base - psnr_loss(low, target, floor=0).item() == pytest.approx(base - psnr_loss(high, target, floor=0).item(), rel=1e-4)
    assert T.LOSSES["mse"](pred, target) - T.LOSSES["mse"](low, target) < 0.01 * (T.LOSSES["mse"](pred, target) - T.LOSSES["mse"](high, target))
    assert psnr_loss(target, target).item() > 0  # the floor keeps it finite and positive (the blow-up check compares to 20x)
    assert run(tiny_config("denoise", loss="psnr"), tmp_path) == 0


def test_init_starts_a_new_id_from_another_models_weights(tiny_config, tmp_path, capsys):
    """A fine-tuning candidate (its own id) starts from another model's committed weights and step, with a
    fresh optimiser; once it has its own state, init is ignored; a missing init file stops with its name."""
    assert run(tiny_config("denoise"), tmp_path) == 0
    base = tmp_path / "scripts" / "training" / "checkpoints" / "tiny-denoise.pt"
    cand = tiny_config("denoise", id="tiny-cand", init=str(base))
    capsys.readouterr()
    assert run(cand, tmp_path, "--steps", "4") == 0
    out = capsys.readouterr().out
    assert f"started from {base} at step 3 (fresh optimiser)" in out and "stopped at step 4" in out
    st = torch.load(tmp_path / "runs" / "tiny-cand" / "state.pt")
    d = (st["ema"]["head.weight"] - torch.load(base)["ema"]["head.weight"].float()).abs().max()
    assert st["step"] == 4 and 0 < d < 0.05
    assert run(cand, tmp_path, "--steps", "5") == 0
    assert "resumed full state at step 4" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="init checkpoint .*nowhere.pt does not exist"):
        run(tiny_config("denoise", id="tiny-lost", init=str(tmp_path / "nowhere.pt")), tmp_path)


def test_lr_schedule():
    opt = {"lr": 1e-3, "steps": 100, "warmup": 10, "min_lr": 1e-5}
    assert T.lr_at(0, opt) == pytest.approx(1e-4)
    assert T.lr_at(10, opt) == pytest.approx(1e-3)
    assert T.lr_at(100, opt) == pytest.approx(1e-5)
    assert T.lr_at(55, opt | {"lr_scale": 0.5}) < T.lr_at(55, opt)


def test_noise_estimator_learns_the_level(tiny_config, tmp_path):
    """A few hundred steps on white noise only: the estimate orders noise levels and lands near them."""
    from scripts.training.archs import build_model
    from scripts.training.data import TaskData
    cfg = T.load_config(str(tiny_config("estimate")))
    cfg["data"].update(camera_p=0.0, crop=32, batch=8)
    torch.manual_seed(0)
    m = build_model({"arch": "noise_estimator", "width": 16, "depth": 3})
    data = TaskData("estimate", cfg["data"], seed=1)
    opt = torch.optim.Adam(m.parameters(), lr=2e-3)
    for _ in range(600):
        (noisy,), target = data.train_batch(8)
        loss = T.level_error(m, noisy, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    clean = data.sampler.batch(4)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        est = [float(m(clean + torch.randn(clean.shape, generator=g) * s / 255).median()) * 255 for s in (5, 20, 45)]
    assert est[0] < est[1] < est[2], est
    assert abs(est[1] - 20) < 8 and abs(est[2] - 45) < 15, est


def test_timed_run_can_continue_its_schedule(tiny_config, tmp_path, capsys):
    """A timed run saves how far its cosine went; --continue-schedule picks it up from there (given
    or saved), so stopping a run to restart it with more threads does not restart the decay."""
    import yaml
    cfg = tiny_config("denoise")
    conf = yaml.safe_load(cfg.read_text())
    conf["optim"]["steps"] = 1000  # the step count alone would keep the lr near its peak
    cfg.write_text(yaml.safe_dump(conf))
    assert run(cfg, tmp_path, "--minutes", "10", "--steps", "3") == 0
    st = torch.load(tmp_path / "runs" / "tiny-denoise" / "state.pt")
    assert 0 < st["sched_frac"] < 0.1  # a few steps of a ten-minute budget
    capsys.readouterr()
    assert run(cfg, tmp_path, "--minutes", "10", "--steps", "5", "--continue-schedule", "0.9") == 0
    out = capsys.readouterr().out
    assert "continuing the timed schedule from 0.900" in out
    st = torch.load(tmp_path / "runs" / "tiny-denoise" / "state.pt")
    assert st["sched_frac"] >= 0.9
    # the lr in use is near the end of the cosine, not back at its peak
    optim = T.load_config(str(cfg))["optim"]
    last_lr = st["opt"]["param_groups"][0]["lr"]
    assert last_lr == pytest.approx(T.lr_at(4, optim, 0.9), rel=0.05)
    assert last_lr < 0.1 * float(optim["lr"]) < T.lr_at(4, optim, 0.0)
    assert run(cfg, tmp_path, "--minutes", "10", "--steps", "6", "--continue-schedule") == 0
    assert "continuing the timed schedule from 0.9" in capsys.readouterr().out


def test_workers_feed_the_training_loop(tiny_config, tmp_path, capsys):
    """--workers 2: batches from worker processes (camera crops read by the estimator in the training
    process); the run checkpoints and its validation is finite. --dirs replaces the config's folders."""
    photos = tmp_path / "photos"
    cfg = tiny_config("denoise", data={"dirs": ["/nonexistent"], "crop": 16, "batch": 2, "camera_p": 0.5,
                                       "camera_crop": 24, "camera_map": "estimator", "val_crop": 32,
                                       "estimator": "scripts/training/checkpoints/restora-denoise-estimator.pt"})
    assert run(cfg, tmp_path, "--workers", "2", "--steps", "4", "--dirs", str(photos)) == 0
    assert "stopped at step 4" in capsys.readouterr().out
    ckpt = torch.load(tmp_path / "scripts" / "training" / "checkpoints" / "tiny-denoise.pt")
    assert ckpt["step"] == 4 and ckpt["config"]["data"]["dirs"] == [str(photos)]
    log = [json.loads(line) for line in (tmp_path / "runs" / "tiny-denoise" / "log.jsonl").read_text().splitlines()]
    assert math.isfinite(log[-1]["val_psnr"])


def test_lean_batches_train_and_are_refused_without_workers(tiny_config, tmp_path, capsys):
    """--lean-batches: the white noise drawn in the training process; a run with workers checkpoints with a
    finite validation, and the option is refused where there are no worker batches to make lean."""
    cfg = tiny_config("denoise", data={"dirs": ["/nonexistent"], "crop": 16, "batch": 4, "camera_p": 0.5,
                                       "camera_crop": 24, "camera_map": "estimator", "val_crop": 32,
                                       "estimator": "scripts/training/checkpoints/restora-denoise-estimator.pt"})
    photos = str(tmp_path / "photos")
    assert run(cfg, tmp_path, "--workers", "2", "--steps", "4", "--dirs", photos, "--lean-batches") == 0
    out = capsys.readouterr().out
    assert "stopped at step 4" in out and "lean batches" in out
    log = [json.loads(line) for line in (tmp_path / "runs" / "tiny-denoise" / "log.jsonl").read_text().splitlines()]
    assert math.isfinite(log[-1]["val_psnr"])
    with pytest.raises(SystemExit, match="--lean-batches"):
        run(cfg, tmp_path, "--steps", "5", "--dirs", photos, "--lean-batches")


@pytest.mark.parametrize("bad_call", [3, 8])
def test_blow_up_with_losses_read_in_groups(tiny_config, tmp_path, capsys, monkeypatch, bad_call):
    # --check-every 4: updates are made before their loss is read. A NaN among them (call 3: inside a group,
    # its update already made, and the next one too; call 8: the last of a group, checked before its own
    # update) rolls the model (and the EMA when it saw the update) back to the snapshot and halves the lr;
    # nothing NaN is saved, and the run still reaches its steps
    cfg = tiny_config("denoise", optim={"lr": 1.0e-3, "steps": 10, "warmup": 1, "min_lr": 1.0e-5})
    calls = spoil_loss(monkeypatch, bad_call, lambda loss: loss * float("nan"))
    assert T.main([str(cfg), "--root", str(tmp_path), "--check-every", "4"]) == 0
    out = capsys.readouterr().out
    assert f"step {bad_call - 1}: loss blew up (nan); rolling back, lr x0.5" in out
    st = torch.load(tmp_path / "runs" / "tiny-denoise" / "state.pt")
    assert st["step"] == 10 and st["lr_scale"] == 0.5
    assert all(torch.isfinite(v).all() for v in st["model"].values())
    assert all(torch.isfinite(v).all() for v in st["ema"].values())
    # the steps from the bad one on were dropped and made again
    assert calls["n"] == 10 + (4 - (bad_call - 1) % 4 if bad_call % 4 else 1)


def _identity_with_backward(grad):
    """x -> x, whose gradient is grad(g): stands in for a compiled backward that fails, or a NaN gradient."""

    class Identity(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            return grad(g)

    return Identity.apply


def _backward_fails(g):
    raise RuntimeError("compiled backward failed")


_no_backward = _identity_with_backward(_backward_fails)
_nan_grad = _identity_with_backward(lambda g: g * float("nan"))  # a finite loss whose update leaves NaN weights


class _FakeCompiled(torch.nn.Module):
    """What a failed torch.compile looks like to the loop: calling it raises, or its backward does."""

    def __init__(self, model, fails: str):
        super().__init__()
        self.model, self.fails, self.calls = model, fails, 0

    def forward(self, *a):
        self.calls += 1
        if self.fails == "forward":
            raise RuntimeError("inductor: no C compiler\nmore detail")
        return _no_backward(self.model(*a))


@pytest.mark.parametrize("check_every", ["1", "4"])
@pytest.mark.parametrize("fails", ["forward", "backward"])
def test_compile_failure_falls_back_to_the_eager_model(tiny_config, tmp_path, capsys, monkeypatch, fails, check_every):
    # a GPU call must not be lost to a compiler problem: the step is made again uncompiled, once, and the run goes on
    made = []

    def fake_compile(model, mode=None, dynamic=None):
        made.append((_FakeCompiled(model, fails), mode))
        assert dynamic is False  # a graph per batch shape
        return made[-1][0]

    monkeypatch.setattr(torch, "compile", fake_compile, raising=False)
    cfg = tiny_config("denoise")
    assert run(cfg, tmp_path, "--compile", "--check-every", check_every) == 0
    out = capsys.readouterr().out
    assert made[0][1] == "reduce-overhead" and made[0][0].calls == 1
    assert "speed options: compile reduce-overhead" in out
    assert out.count("training uncompiled") == 1 and "RuntimeError: " in out and "more detail" not in out
    st = torch.load(tmp_path / "runs" / "tiny-denoise" / "state.pt")
    assert st["step"] == 3
    assert all(torch.isfinite(v).all() for v in st["model"].values())
    assert any(g["params"] for g in st["opt"]["param_groups"]) and st["opt"]["state"]  # the updates were made


def test_compile_without_torch_compile_trains_uncompiled(tiny_config, tmp_path, capsys, monkeypatch):
    monkeypatch.delattr(torch, "compile", raising=False)
    assert run(tiny_config("denoise"), tmp_path, "--compile", "default") == 0
    out = capsys.readouterr().out
    assert "has no torch.compile: training uncompiled" in out and "speed options: eager" in out
    assert "stopped at step 3" in out

    def refuses(model, mode=None, dynamic=None):
        raise RuntimeError(f"Unrecognized mode={mode}")

    monkeypatch.setattr(torch, "compile", refuses, raising=False)
    assert run(tiny_config("denoise"), tmp_path / "b", "--compile", "fastest") == 0
    out = capsys.readouterr().out
    assert "compiled step failed (RuntimeError: Unrecognized mode=fastest); training uncompiled" in out
    assert "speed options: eager" in out and "stopped at step 3" in out


def test_channels_last_and_bf16_train_and_save_usable_weights(tiny_config, tmp_path, capsys):
    cfg = tiny_config("denoise")
    assert run(cfg, tmp_path, "--channels-last", "--amp", "bf16") == 0
    out = capsys.readouterr().out
    assert "channels-last" in out and "amp bf16" in out and "stopped at step 3" in out
    ckpt = torch.load(tmp_path / "scripts" / "training" / "checkpoints" / "tiny-denoise.pt")
    # the committed weights load into a plain (contiguous) model and run
    from scripts.training.archs import build_model, load_ema
    net = build_model(ckpt["config"]["model"])
    load_ema(net, ckpt)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        y = net(x, torch.full((1, 1, 32, 32), 0.1))
    assert y.shape == x.shape and torch.isfinite(y).all()
    log = [json.loads(line) for line in (tmp_path / "runs" / "tiny-denoise" / "log.jsonl").read_text().splitlines()]
    assert math.isfinite(log[-1]["val_psnr"])


def test_channels_last_trains_every_task(tiny_config, tmp_path):
    # the estimator's targets are one number a crop: only images and maps change layout
    for task in ("estimate", "inpaint", "upscale"):
        assert run(tiny_config(task), tmp_path / task, "--channels-last") == 0


def test_resume_takes_this_runs_optimiser_options(tiny_config, tmp_path, capsys):
    # a state saved by a GPU run (fused Adam) resumes on a CPU, and a run resumed with --channels-last gets its
    # Adam moments in the parameters' layout (a fused kernel refuses mixed layouts)
    cfg = tiny_config("denoise")
    assert run(cfg, tmp_path) == 0
    state = tmp_path / "runs" / "tiny-denoise" / "state.pt"
    st = torch.load(state)
    for g in st["opt"]["param_groups"]:
        g["fused"] = True
    torch.save(st, state)
    assert run(cfg, tmp_path, "--steps", "5", "--channels-last") == 0
    assert "resumed full state at step 3" in capsys.readouterr().out
    st = torch.load(state)
    assert st["step"] == 5 and all(g["fused"] is None for g in st["opt"]["param_groups"])
    model = st["model"]
    conv = next(k for k, v in model.items() if v.dim() == 4 and v.shape[1] > 1 and v.shape[-1] > 1)
    assert model[conv].is_contiguous(memory_format=torch.channels_last) and not model[conv].is_contiguous()
    # the saved moments of that conv are in the same layout as it
    idx = list(model).index(conv)  # the optimiser numbers parameters in model order (no buffers in these nets)
    for k in ("exp_avg", "exp_avg_sq"):
        assert st["opt"]["state"][idx][k].stride() == model[conv].stride()


@pytest.mark.parametrize("check_every,at_call", [("1", 2), ("4", 3)])  # K = 4: the NaN loss ends its group
def test_an_update_that_leaves_nan_weights_is_rolled_back_in_the_ema_too(tiny_config, tmp_path, capsys, monkeypatch,
                                                                          check_every, at_call):
    # step 1's loss is finite but its update makes the weights NaN, and the EMA mixes them in; whichever check
    # finds it first (step 2's NaN loss, or the weights' check before a save), the model and the EMA go back
    cfg = tiny_config("denoise", optim={"lr": 1.0e-3, "steps": 6, "warmup": 1, "min_lr": 1.0e-5})
    spoil_loss(monkeypatch, at_call, _nan_grad)
    assert run(cfg, tmp_path, "--check-every", check_every) == 0
    out = capsys.readouterr().out
    assert "rolling back, lr x0.5" in out
    st = torch.load(tmp_path / "runs" / "tiny-denoise" / "state.pt")
    assert st["step"] == 6 and st["lr_scale"] == 0.5
    assert all(torch.isfinite(v).all() for v in st["model"].values())
    assert all(torch.isfinite(v).all() for v in st["ema"].values())
    ckpt = torch.load(tmp_path / "scripts" / "training" / "checkpoints" / "tiny-denoise.pt")
    assert all(torch.isfinite(v.float()).all() for v in ckpt["ema"].values())


def _finite_state(root) -> bool:
    st = torch.load(root / "runs" / "tiny-denoise" / "state.pt")
    return all(torch.isfinite(v).all() for part in ("model", "ema") for v in st[part].values())


def test_nan_weights_are_never_scored(tiny_config, tmp_path, capsys, monkeypatch):
    # K = 4 and validation every 2 steps: step 1's NaN gradient is caught by the weights check before the score
    cfg = tiny_config("denoise", val_every=2, optim={"lr": 1.0e-3, "steps": 6, "warmup": 1, "min_lr": 1.0e-5})
    spoil_loss(monkeypatch, 2, _nan_grad)
    assert run(cfg, tmp_path, "--check-every", "4") == 0
    assert "weights not finite after step 2; rolling back" in capsys.readouterr().out
    log = [json.loads(line) for line in (tmp_path / "runs" / "tiny-denoise" / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log] == [2, 4, 6] and all(math.isfinite(e["val_psnr"]) for e in log)
    assert _finite_state(tmp_path)


def test_nan_weights_from_the_last_step_are_not_saved_as_the_end(tiny_config, tmp_path, capsys, monkeypatch):
    cfg = tiny_config("denoise")  # 3 steps; the third update leaves NaN
    calls = spoil_loss(monkeypatch, 3, _nan_grad)
    assert run(cfg, tmp_path) == 0
    out = capsys.readouterr().out
    assert "step 0: weights not finite after step 3; rolling back" in out and "stopped at step 3" in out
    assert calls["n"] == 6  # all three made again from the last checked weights (the start)
    log = [json.loads(line) for line in (tmp_path / "runs" / "tiny-denoise" / "log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 3 and math.isfinite(log[-1]["val_psnr"])
    assert _finite_state(tmp_path)


def test_a_signal_after_a_nan_update_saves_the_checked_weights(tiny_config, tmp_path, capsys, monkeypatch):
    import os
    import signal as sig

    def nan_and_stop(loss):
        os.kill(os.getpid(), sig.SIGTERM)  # train.py's handler: finish the step, checkpoint, stop
        return _nan_grad(loss)

    cfg = tiny_config("denoise", optim={"lr": 1.0e-3, "steps": 6, "warmup": 1, "min_lr": 1.0e-5})
    spoil_loss(monkeypatch, 2, nan_and_stop)
    assert run(cfg, tmp_path) == 0
    out = capsys.readouterr().out
    assert "signal" in out and "weights not finite after step 2" in out
    assert _finite_state(tmp_path)
    ckpt = torch.load(tmp_path / "scripts" / "training" / "checkpoints" / "tiny-denoise.pt")
    assert all(torch.isfinite(v.float()).all() for v in ckpt["ema"].values())


def test_a_run_that_keeps_blowing_up_stops(tiny_config, tmp_path, monkeypatch):
    real = T.forward_loss
    monkeypatch.setattr(T, "forward_loss", lambda *a: (real(*a)[0], real(*a)[1] * float("nan")))
    with pytest.raises(SystemExit, match="still blowing up after repeated rollbacks"):
        run(tiny_config("denoise"), tmp_path)


def test_a_nan_state_is_refused_at_resume(tiny_config, tmp_path):
    cfg = tiny_config("denoise")
    assert run(cfg, tmp_path) == 0
    state = tmp_path / "runs" / "tiny-denoise" / "state.pt"
    st = torch.load(state)
    st["model"]["head.weight"][0] = float("nan")
    torch.save(st, state)
    with pytest.raises(SystemExit, match="weights it resumes from are not finite"):
        run(cfg, tmp_path, "--steps", "5")


def test_committed_weights_beyond_fp16_are_refused():
    with pytest.raises(ValueError, match="not finite in fp16"):
        T.committed_checkpoint({"w": torch.tensor([1.0, 1e6])}, 1, 1.0, {}, "cpu")
