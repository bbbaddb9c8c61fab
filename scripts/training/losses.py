import torch


def charbonnier(pred, target, eps: float = 1e-3):
    return torch.sqrt((pred - target) ** 2 + eps * eps).mean()


def mse(pred, target):
    """Mean squared error: what PSNR scores (Charbonnier, nearly L1 here, aims at the median instead)."""
    return ((pred - target) ** 2).mean()


LOSSES = {"charbonnier": charbonnier, "mse": mse}


def masked_l1(pred, target, mask, hole_weight: float = 6.0):
    """L1 over the image plus extra weight on the hole (the only pixels an inpainter decides)."""
    err = (pred - target).abs()
    return err.mean() + hole_weight * (err * mask).sum() / (mask.sum() * 3 + 1e-6) * 0.1


def psnr(pred, target, mask=None) -> float:
    """PSNR in dB on the 0-1 scale, after 8-bit rounding of the prediction (as the engine writes)."""
    p = (pred.clamp(0, 1) * 255).round() / 255
    se = (p - target) ** 2
    if mask is not None:
        mse = (se * mask).sum() / (mask.sum() * se.shape[1] + 1e-9)
    else:
        mse = se.mean()
    return float(10 * torch.log10(1.0 / mse.clamp(min=1e-12)))
