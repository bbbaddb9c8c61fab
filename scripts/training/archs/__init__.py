from pathlib import Path

import torch

from .estimator import NoiseEstimator
from .unet import Denoiser, Inpainter, Upscaler

ARCHS = {"denoiser": Denoiser, "inpainter": Inpainter, "upscaler": Upscaler, "noise_estimator": NoiseEstimator}


def build_model(cfg: dict):
    """cfg: {"arch": name, **kwargs} from a training YAML's `model` section."""
    kwargs = dict(cfg)
    name = kwargs.pop("arch")
    if name not in ARCHS:
        raise ValueError(f"unknown arch {name!r}; known: {sorted(ARCHS)}")
    return ARCHS[name](**kwargs)


def count_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def load_ema(model, st: dict) -> None:
    """Load a checkpoint's weights into `model`: its EMA when it has one (fp16 as committed), as float."""
    weights = st["ema"] if "ema" in st else st
    model.load_state_dict({k: v.float() for k, v in weights.items()})


def load_checkpoint(path) -> tuple:
    """(model in eval mode, checkpoint dict): the model its own config describes, with its weights."""
    st = torch.load(Path(path), map_location="cpu")
    model = build_model(st["config"]["model"])
    load_ema(model, st)
    return model.eval(), st
