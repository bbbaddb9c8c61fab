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
