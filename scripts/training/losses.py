import torch


def charbonnier(pred, target, eps: float = 1e-3):
    return torch.sqrt((pred - target) ** 2 + eps * eps).mean()


def mse(pred, target):
    """Mean squared error: what PSNR scores (Charbonnier, nearly L1 here, aims at the median instead)."""
    return ((pred - target) ** 2).mean()


def psnr_loss(pred, target, floor: float = 1e-5):
    """The mean over the batch of each crop's log10 MSE (a "PSNR loss"), plus 8 to keep it positive.

    Every crop weighs the same in dB, whatever its noise level: with the plain MSE a crop at sigma 50 (MSE
    about 2e-3) outweighs one at sigma 2 (about 4e-5) fifty times, and the session-10 MSE fine-tunes lost
    0.2-0.5 dB at sigma 2-5 and on clean photos while gaining at sigma 25. `floor` (50 dB) caps the weight
    of crops that are already nearly perfect (sigma near 0)."""
    per = ((pred - target) ** 2).flatten(1).mean(1)
    return torch.log10(per + floor).mean() + 8.0


LOSSES = {"charbonnier": charbonnier, "mse": mse, "psnr": psnr_loss}


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
