"""Training data and degradations.

Images are HWC uint8 in memory; batches are NCHW float32 RGB in [0, 1].
Validation images are held out of the *training* photos (every 10th file of each folder, sorted):
nothing under shared/datasets/test is ever read here.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
import torch.utils.data

from .archs import load_checkpoint

ROOT = Path(__file__).resolve().parents[2]  # the repository; relative paths in configs start here


def repo_path(path) -> Path:
    """A path from a config: as it is when absolute, else relative to the repository root."""
    path = Path(path)
    return path if path.is_absolute() else ROOT / path


IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temp file and a rename: a reader (or a killed run) never sees
    half a file. The one writer for checkpoints, cards, masks and the cached training photos."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _forbid_test(path: Path) -> None:
    parts = [p.lower() for p in path.resolve().parts]
    if "test" in parts and "datasets" in parts:
        raise ValueError(f"refusing to read evaluation data for training: {path}")


def list_images(dirs) -> list[Path]:
    files = []
    for d in dirs:
        d = Path(d)
        _forbid_test(d)
        if not d.is_dir():
            raise FileNotFoundError(f"training folder not found: {d} (folders under scripts/training/data-cache "
                                    "are made by a script; see scripts/training/README.md, 'Training data')")
        files += sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_EXTS)
    return files


def split_holdout(files: list[Path], every: int = 10) -> tuple[list[Path], list[Path]]:
    """Deterministic split: the 10th, 20th, ... file of each folder is held out for validation."""
    train, val = [], []
    by_dir: dict[Path, list[Path]] = {}
    for f in files:
        by_dir.setdefault(f.parent, []).append(f)
    for group in by_dir.values():
        for i, f in enumerate(sorted(group)):
            (val if (i + 1) % every == 0 else train).append(f)
    return train, val


def load_rgb(path: Path) -> np.ndarray:
    im = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if im is None:
        raise ValueError(f"cannot read {path}")
    return np.ascontiguousarray(im[:, :, ::-1])


class CropSampler:
    """Random crops with flips and 90-degree rotations from in-memory images."""

    def __init__(self, images: list[np.ndarray], crop: int, seed: int = 0):
        self.images = [im for im in images if min(im.shape[:2]) >= crop]
        if not self.images:
            raise ValueError(f"no training image is at least {crop} px on its short side")
        self.crop = crop
        # each image also as an (H, W) array of 3-byte pixels: a rotated crop copies twice as fast that way
        self.pixels = [np.ascontiguousarray(im).view("V3")[..., 0] for im in self.images]
        self.rng = np.random.default_rng(seed)
        areas = np.array([im.shape[0] * im.shape[1] for im in self.images], dtype=np.float64)
        self.p = areas / areas.sum()

    def batch(self, n: int) -> torch.Tensor:
        out = np.empty((n, self.crop, self.crop, 3), np.uint8)
        pick = self.rng.choice(len(self.images), size=n, p=self.p)  # (drawn for the whole batch at once)
        room = np.array([[self.images[i].shape[0], self.images[i].shape[1]] for i in pick]) - self.crop + 1
        yx = self.rng.integers(0, room)
        flip = self.rng.random(n) < 0.5
        turns = self.rng.integers(0, 4, n)
        px = out.view("V3")[..., 0]
        for k in range(n):
            y, x = yx[k]
            c = self.pixels[pick[k]][y:y + self.crop, x:x + self.crop]
            px[k] = np.rot90(c[:, ::-1] if flip[k] else c, turns[k])
        return torch.from_numpy(np.ascontiguousarray(out.transpose(0, 3, 1, 2))).float().div_(255.0)


def center_crops(images: list[np.ndarray], size: int) -> torch.Tensor:
    out = []
    for im in images:
        h, w = im.shape[:2]
        s = min(size, h, w)
        y, x = (h - s) // 2, (w - s) // 2
        c = cv2.resize(im[y:y + s, x:x + s], (size, size)) if s != size else im[y:y + s, x:x + s]
        out.append(c)
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float().div_(255.0)


def colour_augment(clean: torch.Tensor, rng: np.random.Generator, p: float) -> torch.Tensor:
    """Random per-channel affine colour maps (channel permutation, gains of 0.4-1, a fifth of them
    negative, offsets that keep [0, 1]) on a share `p` of the crops, in place.

    Why: the training photos (BSD200 and T91, both JPEG-born) have almost no fine chroma detail: the
    high-frequency chroma energy is under 1 % of the luma's in BSD200 (4 % in T91) against 19 % in
    McMaster. A denoiser trained on them learns that any fine chroma is noise and wipes saturated
    colour texture. Unequal channel gains turn the photos' sharp luma edges into sharp colour edges."""
    n = clean.shape[0]
    for k in range(n):
        if rng.random() >= p:
            continue
        perm = rng.permutation(3)
        gains = rng.uniform(0.4, 1.0, 3) * np.where(rng.random(3) < 0.2, -1.0, 1.0)
        lo = np.minimum(0.0, gains)
        offs = -lo + rng.uniform(0.0, 1.0 - np.abs(gains))
        g = torch.from_numpy(gains.astype(np.float32)).view(3, 1, 1)
        o = torch.from_numpy(offs.astype(np.float32)).view(3, 1, 1)
        clean[k] = (clean[k][torch.from_numpy(perm)] * g + o).clamp(0, 1)
    return clean


# ----------------------------------------------------------------------------------------------
# noise level estimation (Chen, Zhu & Heng, ICCV 2015): PCA of 8x8x3 patches. Ported exactly by
# app/engine/pipelines/noise.ts so that `--sigma auto` means the same in training and in use.

def pca_sigma(img: torch.Tensor, patch: int = 8, stride: int = 3) -> torch.Tensor:
    """img: (N,3,H,W) in [0,1]. Returns (N,) estimated noise std on the [0,1] scale."""
    n = img.shape[0]
    # float32 products (2-3x faster on CPU; eigenvalues agree with float64 to ~1e-3 of sigma),
    # float64 eigen-decomposition
    p = F.unfold(img.float(), patch, stride=stride)  # (N, 3*patch*patch, L)
    p = p - p.mean(dim=2, keepdim=True)
    cov = (p @ p.transpose(1, 2) / p.shape[2]).double()
    ev = torch.linalg.eigvalsh(cov)  # ascending
    out = torch.empty(n, dtype=torch.float64)
    d = ev.shape[1]
    for k in range(n):
        e = ev[k]
        sigma2 = e[0].clamp(min=0)
        for i in range(d, 0, -1):  # smallest i eigenvalues
            sub = e[:i]
            tau = sub.mean()
            if int((sub > tau).sum()) == int((sub < tau).sum()):
                sigma2 = tau.clamp(min=0)
                break
        out[k] = sigma2.sqrt()
    return out.float()


# ----------------------------------------------------------------------------------------------
# realistic camera noise: Poisson-Gaussian in linear light on a Bayer mosaic, bilinear demosaic
# (spatial + channel correlation), a colour-correction mix, sRGB, optional JPEG.

# (the powers as exp(log(.) * p): torch's pow with a fractional exponent is 4-6x slower on a CPU, and the
# data workers of a GPU run spend much of their time here; the results agree to 1e-7)
def srgb_to_linear(x):
    return torch.where(x <= 0.04045, x / 12.92, x.add(0.055).div_(1.055).log_().mul_(2.4).exp_())


def linear_to_srgb(x):
    x = x.clamp(0, 1)
    return torch.where(x <= 0.0031308, x * 12.92, x.clamp(min=1e-8).log_().mul_(1 / 2.4).exp_().mul_(1.055).sub_(0.055))


def _bilinear(x: torch.Tensor) -> torch.Tensor:
    """(N,C,H,W) -> the same, each plane filtered by [[1,2,1],[2,4,2],[1,2,1]] / 4 with reflected edges,
    as its two separable halves (a grouped conv2d is several times slower on a CPU for a batch)."""
    p = F.pad(x, (1, 1, 1, 1), mode="reflect")
    r = p[..., 1:-1] + 0.5 * (p[..., :-2] + p[..., 2:])
    return r[..., 1:-1, :] + 0.5 * (r[..., :-2, :] + r[..., 2:, :])


def _demosaic_noise(noise_sites: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """noise_sites: (N,1,H,W) noise at each Bayer site; masks (3,H,W) RGGB site masks. Bilinear
    demosaicing: each plane's sites, interpolated by the neighbouring sites of that colour."""
    planes = noise_sites * masks.unsqueeze(0)  # (N,3,H,W)
    return _bilinear(planes) / _bilinear(masks.unsqueeze(0).to(planes))


def bayer_masks(h: int, w: int) -> torch.Tensor:
    m = torch.zeros(3, h, w)
    m[0, 0::2, 0::2] = 1
    m[1, 0::2, 1::2] = 1
    m[1, 1::2, 0::2] = 1
    m[2, 1::2, 1::2] = 1
    return m


def jpeg(img: torch.Tensor, quality: int) -> torch.Tensor:
    """img (3,H,W) [0,1] -> JPEG round trip (4:2:0, like most cameras)."""
    a = (img.clamp(0, 1).permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)[:, :, ::-1]
    ok, buf = cv2.imencode(".jpg", a, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    assert ok
    b = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]
    return torch.from_numpy(np.ascontiguousarray(b)).permute(2, 0, 1).float() / 255.0


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """(C,H,W) -> the same, each plane blurred by a Gaussian of std sigma px (reflected edges)."""
    if sigma < 0.05:
        return x
    r = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-r, r + 1, dtype=x.dtype)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[0]
    y = F.conv2d(F.pad(x.unsqueeze(0), (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    y = F.conv2d(F.pad(y, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)
    return y[0]


def nr_params(rng: np.random.Generator) -> tuple[float, float, float]:
    """The numbers `in_camera_nr` takes, drawn: the chroma blur's std, the share of the chroma std kept, the luma blur's std."""
    return float(rng.uniform(1.0, 3.0)), float(rng.uniform(0.2, 0.7)), float(rng.uniform(0.0, 0.8))


def in_camera_nr(nrgb: torch.Tensor, params: tuple[float, float, float]) -> torch.Tensor:
    """What a camera's own noise reduction leaves of the sensor noise (3,H,W): the chroma part
    (noise minus its channel mean) blurred into blotches (Gaussian std 1-3 px) and kept at
    20-70 % of its std; the luma part lightly smoothed (std 0-0.8 px). Applied to the noise only:
    a paired reference from the same camera went through the same processing. `params`: those
    three numbers, as `nr_params` draws them."""
    chroma_blur, keep, luma_blur = params
    y = nrgb.mean(0, keepdim=True)
    c = nrgb - y
    cb = gaussian_blur(c, chroma_blur)
    cb = cb * (keep * c.std() / cb.std().clamp(min=1e-12))
    return gaussian_blur(y, luma_blur) + cb


def camera_noise(clean: torch.Tensor, rng: np.random.Generator, jpeg_p: float = 0.5, nr_p: float = 0.0) -> torch.Tensor:
    """clean (N,3,H,W) sRGB [0,1] -> noisy sRGB [0,1] with realistic, correlated sensor noise;
    a fraction nr_p of the images as after in-camera noise reduction (`in_camera_nr`).
    Each image's random numbers are drawn in one go and in a fixed order, so a batch gets exactly
    what the same images would get one at a time from the same generator (tested); the arithmetic
    is done on the whole batch."""
    n, _, h, w = clean.shape
    lin = srgb_to_linear(clean)
    masks = bayer_masks(h, w)
    site_signal = (lin * masks).sum(1, keepdim=True).clamp_(min=0)  # (N,1,H,W): the signal at each Bayer site
    a, b = np.empty(n), np.empty(n)
    sites = torch.empty(n, 1, h, w)
    ccm = np.empty((n, 3, 3), np.float32)
    nr: list = [None] * n
    quality: list = [None] * n
    for k in range(n):
        # shot (signal-dependent) and read noise, log-uniform like real ISO ranges
        a[k] = 10 ** rng.uniform(-4.0, -1.9)
        b[k] = 10 ** rng.uniform(-6.0, -3.2)
        sites[k] = torch.from_numpy(rng.standard_normal((1, h, w)).astype(np.float32))
        # colour correction mixes channels (and so correlates their noise); rows sum to 1
        off = rng.uniform(-0.3, 0.3, size=(3, 3)).astype(np.float32)
        ccm[k] = np.eye(3, dtype=np.float32) + off - np.diag(off.sum(1))
        if nr_p > 0 and rng.random() < nr_p:
            nr[k] = nr_params(rng)
        if rng.random() < jpeg_p:
            quality[k] = int(rng.integers(70, 96))
    a_t = torch.from_numpy(a.astype(np.float32)).view(n, 1, 1, 1)
    b_t = torch.from_numpy(b.astype(np.float32)).view(n, 1, 1, 1)
    sites.mul_(site_signal.mul_(a_t).add_(b_t).sqrt_())
    nrgb = torch.einsum("nij,njhw->nihw", torch.from_numpy(ccm), _demosaic_noise(sites, masks))
    for k in range(n):
        if nr[k] is not None:
            nrgb[k] = in_camera_nr(nrgb[k], nr[k])
    noisy = linear_to_srgb(lin + nrgb)
    for k in range(n):
        if quality[k] is not None:
            noisy[k] = jpeg(noisy[k], quality[k])
    return noisy


# ----------------------------------------------------------------------------------------------
# super-resolution degradation: antialiased bicubic (a = -0.5, as MATLAB imresize), 8-bit rounding

def bicubic_down(hr: torch.Tensor, scale: int) -> torch.Tensor:
    h, w = hr.shape[-2:]
    lr = F.interpolate(hr, size=(h // scale, w // scale), mode="bicubic", align_corners=False, antialias=True)
    return (lr.clamp(0, 1) * 255).round() / 255


# ----------------------------------------------------------------------------------------------
# procedural masks (white/1 = fill). Also used by scripts/make_masks.py for the committed eval masks.

MASK_SIZES = {
    # brush width range (px), number of strokes, blob radius range, target coverage
    "thin": dict(width=(2, 6), strokes=(4, 10), blob=(3, 8), cover=(0.02, 0.06)),
    "medium": dict(width=(8, 18), strokes=(3, 7), blob=(10, 24), cover=(0.06, 0.15)),
    "thick": dict(width=(20, 40), strokes=(2, 5), blob=(24, 56), cover=(0.15, 0.30)),
}


def make_mask(h: int, w: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Strokes, blobs and rectangles until the coverage target is reached. uint8 {0,255}, HxW."""
    spec = MASK_SIZES[kind]
    scale = math.sqrt(h * w) / 512.0
    m = np.zeros((h, w), np.uint8)
    target = rng.uniform(*spec["cover"])
    for _ in range(200):
        r = rng.random()
        if r < 0.6:  # brush stroke: a random walk of thick line segments
            x, y = rng.uniform(0, w), rng.uniform(0, h)
            width = max(1, int(rng.uniform(*spec["width"]) * scale))
            ang = rng.uniform(0, 2 * math.pi)
            for _ in range(int(rng.integers(3, 9))):
                ang += rng.uniform(-1.2, 1.2)
                length = rng.uniform(15, 60) * scale
                nx = float(np.clip(x + length * math.cos(ang), 0, w - 1))
                ny = float(np.clip(y + length * math.sin(ang), 0, h - 1))
                cv2.line(m, (int(x), int(y)), (int(nx), int(ny)), 255, width)
                x, y = nx, ny
        elif r < 0.85:  # blob
            cx, cy = int(rng.uniform(0, w)), int(rng.uniform(0, h))
            ax = max(1, int(rng.uniform(*spec["blob"]) * scale))
            ay = max(1, int(ax * rng.uniform(0.5, 1.5)))
            cv2.ellipse(m, (cx, cy), (ax, ay), rng.uniform(0, 180), 0, 360, 255, -1)
        else:  # rectangle
            rw = max(2, int(rng.uniform(*spec["blob"]) * 1.5 * scale))
            rh = max(2, int(rw * rng.uniform(0.4, 1.6)))
            x0, y0 = int(rng.uniform(0, w - 1)), int(rng.uniform(0, h - 1))
            cv2.rectangle(m, (x0, y0), (x0 + rw, y0 + rh), 255, -1)
        if (m > 0).mean() >= target:
            break
    return m


def random_masks(n: int, size: int, rng: np.random.Generator, kinds=("thin", "medium", "thick")) -> torch.Tensor:
    ms = []
    for _ in range(n):
        kind = kinds[int(rng.integers(0, len(kinds)))]
        # masks are drawn on a larger canvas and cropped, so that crops see stroke ends and edges
        big = make_mask(size * 2, size * 2, kind, rng)
        y, x = rng.integers(0, size + 1, size=2)
        ms.append(big[y:y + size, x:x + size])
    return torch.from_numpy(np.stack(ms)).float().div_(255.0).unsqueeze(1)


def estimator_reading(estimator: torch.nn.Module, noisy: torch.Tensor) -> torch.Tensor:
    """(N,3,S,S) -> (N,) what `estimator` reads, as `--sigma auto` reads a photo but on fewer crops:
    the median over crops of min(96, S) px at the four corners and the centre."""
    s = noisy.shape[-1]
    c = min(96, s) // 2 * 2
    e, m = s - c, (s - c) // 2
    boxes = dict.fromkeys([(0, 0), (0, e), (e, 0), (e, e), (m, m)])
    with torch.no_grad():
        r = torch.stack([estimator(noisy[..., y:y + c, x:x + c])[:, 0] for y, x in boxes], 1)
    return r.quantile(0.5, dim=1)


# ----------------------------------------------------------------------------------------------
# task batches: (inputs tuple, target)

class TaskData:
    def __init__(self, task: str, cfg: dict, seed: int = 0):
        self.task = task
        self.cfg = cfg
        dirs = [os.path.expanduser(d) for d in cfg["dirs"]]
        train_files, val_files = split_holdout(list_images(dirs))
        self.train_images = [load_rgb(f) for f in train_files]
        self.val_images = [load_rgb(f) for f in val_files]
        self.scale = int(cfg.get("scale", 1))
        self.crop = int(cfg["crop"]) * (self.scale if task == "upscale" else 1)
        self.sampler = CropSampler(self.train_images, self.crop, seed)
        self.rng = np.random.default_rng(seed + 1)
        self._cam_samplers: dict[int, CropSampler] = {}
        self._estimator = None
        # defer_reading: camera_map "estimator" batches leave the estimator's reading to `finish_batch`
        # (in the training process, on its device) and keep what it needs in `pending`
        self.defer_reading = False
        self.pending = None
        # defer_white (train.py --lean-batches): white-noise rows are left without their noise, which the
        # training device draws (`unpack_lean`); `cam_rows` lists the camera-noise rows of the last batch
        self.defer_white = False
        self.cam_rows: list[int] = []
        # per crop of the last denoise batch: its map over the noise it carries (over_map_p; camera rows: 1, as
        # their map already holds it), for `pack_lean`
        self.map_scale = None

    @property
    def reads_estimator(self) -> bool:
        """Whether camera-noise crops get the noise estimator's reading as their map (camera_map "estimator")."""
        return self.task == "denoise" and str(self.cfg.get("camera_map", "true")) == "estimator"

    def reseed(self, seed: int) -> None:
        """New random streams (crops, degradations), e.g. one per data worker process."""
        self.sampler.rng = np.random.default_rng(seed)
        self.rng = np.random.default_rng(seed + 1)
        self._cam_samplers = {}

    def estimator(self):
        """The noise estimator checkpoint in cfg["estimator"] (relative to the repo root), loaded once."""
        if self._estimator is None:
            self._estimator, _ = load_checkpoint(repo_path(self.cfg["estimator"]))
        return self._estimator

    def cam_sampler(self, size: int) -> "CropSampler":
        if size not in self._cam_samplers:
            self._cam_samplers[size] = CropSampler(self.train_images, size, int(self.rng.integers(1 << 30)))
        return self._cam_samplers[size]

    def degrade(self, clean: torch.Tensor, rng: np.random.Generator, val: bool = False):
        t = self.task
        if t == "denoise":
            n = clean.shape[0]
            cam_p = 0.0 if val else float(self.cfg.get("camera_p", 0.4))
            noisy = torch.empty_like(clean)
            smap = torch.empty(n, 1, *clean.shape[-2:])
            is_cam = rng.random(n) < cam_p
            smax = float(self.cfg.get("sigma_max", 55))
            # training draws its white noise in float32 (twice as fast, the same distribution); validation keeps
            # float64, so its seeded noise, and the scores logged over the sessions, stay as they were
            normal = np.float64 if val else np.float32
            self.cam_rows = np.nonzero(is_cam)[0].tolist()
            # over_map_p (session 21): that share of the crops, white or camera noise, gets a map above the noise it
            # carries, up to over_map_max times it (log-uniform), with the clean crop still the target, so that a map
            # above a photo's noise (a manual strength above Auto's reading) removes at least as much noise instead of
            # keeping it as texture. Not drawn for validation, and with over_map_p 0 the batches are as before.
            # over_map_min (sigma, 0 by default): only white-noise crops with at least that much noise get an
            # over-map, and camera crops none: session 21's run (without it) learnt to smooth nearly clean crops
            # whose map was a few sigma above their noise, and so changed clean photos more at Auto's reading
            over_p = 0.0 if val else float(self.cfg.get("over_map_p", 0.0))
            over_min = float(self.cfg.get("over_map_min", 0.0))
            self.map_scale = np.ones(n, dtype=np.float32)
            if over_p > 0:
                over = rng.random(n) < over_p
                top = math.log(float(self.cfg.get("over_map_max", 3.0)))
                self.map_scale[over] = np.exp(rng.uniform(0, top, int(over.sum())))
                if over_min > 0:
                    self.map_scale[is_cam] = 1.0
            map_cap = float(self.cfg.get("over_map_cap", 100)) / 255  # the largest sigma the engine takes
            for k in range(n):
                if is_cam[k]:
                    continue
                s = 25.0 if val else rng.uniform(0, smax)
                if s < over_min:
                    self.map_scale[k] = 1.0
                m = max(s / 255, min(s * float(self.map_scale[k]) / 255, map_cap))
                if self.defer_white and not val:
                    smap[k] = m  # the noise itself (std m / map_scale) is drawn on the training device (`unpack_lean`)
                    self.map_scale[k] = m * 255 / s if s > 0 else 1.0
                    continue
                noise = rng.standard_normal(clean[k].shape, dtype=normal).astype(np.float32, copy=False)
                noisy[k] = clean[k] + torch.from_numpy(noise) * (s / 255)
                smap[k] = m
            if is_cam.any():
                idx = torch.from_numpy(np.nonzero(is_cam)[0])
                # camera_map "true" (the default): the map carries the noise's own standard deviation
                # (of noisy - clean over the larger crop), as the learned estimator reads it at
                # inference. camera_map "pca": what the PCA estimator reads, which is about 1/8 of
                # the truth for demosaiced or JPEG noise. Camera noise is made on a larger crop
                # (`camera_crop`) so that either reading has enough pixels; the centre is trained on.
                # camera_map "estimator": what the shipped noise estimator (`estimator`, a checkpoint)
                # reads on that crop, the median over 5 crops of 96 px (corners and centre), as
                # `--sigma auto` reads a photo; the denoiser then learns what the reading means for
                # camera noise, biases included (it reads about 1.9x the truth below sigma 3 and about
                # 0.66x at 6-12 on held-out crops).
                mode = str(self.cfg.get("camera_map", "true"))
                by_pca = mode == "pca"
                big_n = int(self.cfg.get("camera_crop", 128))
                c = clean.shape[-1]
                big = None
                if big_n > c:
                    try:
                        big = self.cam_sampler(big_n).batch(len(idx))
                        if not val:
                            big = colour_augment(big, rng, float(self.cfg.get("colour_aug", 0.0)))
                    except ValueError:  # no photo that large (tiny test sets): read on the crop itself
                        pass
                if big is None:
                    big = clean[idx]
                cam_big = camera_noise(big, rng, nr_p=float(self.cfg.get("camera_nr_p", 0.0)))
                if by_pca:
                    est = pca_sigma(cam_big, stride=int(self.cfg.get("camera_est_stride", 2)))
                elif mode == "estimator" and self.defer_reading:
                    # the reading is left to whoever holds the estimator on the training device
                    # (`finish_batch`): only the jitter goes into the map here
                    self.pending = (idx, cam_big)
                    est = torch.ones(len(idx))
                elif mode == "estimator":
                    est = estimator_reading(self.estimator(), cam_big)
                else:
                    est = (cam_big - big).flatten(1).std(1)
                o = (big.shape[-1] - c) // 2
                for j, k in enumerate(idx.tolist()):  # (row by row: an indexed assignment is 15x slower)
                    clean[k] = big[j, :, o:o + c, o:o + c]
                    noisy[k] = cam_big[j, :, o:o + c, o:o + c]
                    smap[k] = est[j] * float(rng.uniform(0.9, 1.15)) * float(self.map_scale[k])
                    self.map_scale[k] = 1.0  # (lean batches: a camera row's noise comes made; its map holds the scale)
            return (noisy, smap), clean
        if t == "estimate":
            # white noise (sigma 0-55, a tenth of them clean) or camera noise; target: the noise's std
            n = clean.shape[0]
            cam_p = float(self.cfg.get("camera_p", 0.5))
            is_cam = rng.random(n) < cam_p
            noisy = clean.clone()
            target = torch.empty(n, 1)
            if is_cam.any():
                idx = torch.from_numpy(np.nonzero(is_cam)[0])
                noisy[idx] = camera_noise(clean[idx], rng)
            for k in range(n):
                if not is_cam[k]:
                    s = 0.0 if rng.random() < 0.1 else rng.uniform(0, float(self.cfg.get("sigma_max", 55)))
                    noisy[k] = clean[k] + torch.from_numpy(rng.standard_normal(clean[k].shape).astype(np.float32)) * (s / 255)
                target[k] = (noisy[k] - clean[k]).std()
            return (noisy,), target
        if t == "upscale":
            return (bicubic_down(clean, self.scale),), clean
        if t == "inpaint":
            mask = random_masks(clean.shape[0], clean.shape[-1], rng,
                                ("medium",) if val else ("thin", "medium", "thick"))
            return (clean * (1 - mask), mask), clean
        raise ValueError(t)

    def train_batch(self, n: int):
        self.pending = None
        clean = self.sampler.batch(n)
        if self.task == "denoise":
            clean = colour_augment(clean, self.rng, float(self.cfg.get("colour_aug", 0.0)))
        return self.degrade(clean, self.rng)

    def val_batch(self, size: int = 128):
        rng = np.random.default_rng(1234)
        return self.degrade(center_crops(self.val_images, size), rng, val=True)


# ----------------------------------------------------------------------------------------------
# batches made in worker processes (train.py --workers N), for a GPU that one CPU core cannot feed

class BatchStream(torch.utils.data.IterableDataset):
    """Endless training batches of `data` (a TaskData), each worker process with its own random streams.
    Yields (inputs, target, pending): `pending` is (indices, noisy camera crops) whose estimator reading
    `finish_batch` still has to put into the noise map (empty when there is none). With `lean` (denoise only),
    yields `pack_lean`'s (buffer, layout) instead, for `unpack_lean`."""

    def __init__(self, data: TaskData, batch: int, seed: int, lean: bool = False):
        super().__init__()
        self.data, self.batch, self.seed, self.lean = data, batch, seed, lean

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        wid = info.id if info is not None else 0
        torch.set_num_threads(1)
        d = self.data
        d.reseed(self.seed + 7919 * (wid + 1))
        d.defer_reading = d.reads_estimator
        d.defer_white = self.lean
        empty = (torch.zeros(0, dtype=torch.long), torch.zeros(0, 3, 1, 1))
        while True:
            inputs, target = d.train_batch(self.batch)
            if self.lean:
                yield pack_lean(inputs, target, d.cam_rows, d.pending, d.map_scale)
            else:
                yield inputs, target, (d.pending or empty)


def pack_lean(inputs: tuple, target: torch.Tensor, cam_rows: list[int], pending,
              map_scale=None) -> tuple[torch.Tensor, tuple]:
    """A denoise batch made with `defer_white`, as one float buffer in shared memory and a small layout tuple:
    the clean crops, the camera-noise rows of the noisy crops, the larger camera crops the estimator still has to
    read (when `pending`), and one map value per crop. That is one transfer between processes instead of five,
    and about 40 % fewer bytes: the white noise and the constant maps are made on the training device.
    The camera crops come first (`lean_order`), so that the training side needs no index tensor: one built
    there would be copied to the GPU synchronously, making the CPU wait for every queued step."""
    noisy, smap = inputs
    n, c, h, w = target.shape
    big = pending[1] if pending is not None else torch.zeros(0, c, 1, 1)
    m = len(cam_rows)
    sizes = [target.numel(), m * c * h * w, big.numel(), n, n]
    flat = shared_floats(int(sum(sizes)))
    a = np.cumsum([0] + sizes)
    order = lean_order(n, cam_rows)
    clean, rows, level = flat[a[0]:a[1]].view_as(target), flat[a[1]:a[2]].view(m, c, h, w), flat[a[3]:a[4]]
    scale = flat[a[4]:a[5]]
    for j, k in enumerate(order):
        clean[j] = target[k]
        level[j] = smap[k, 0, 0, 0]
        scale[j] = 1.0 if map_scale is None else float(map_scale[k])
        if j < m:
            rows[j] = noisy[k]
    flat[a[2]:a[3]].view_as(big).copy_(big)
    return flat, (tuple(target.shape), m, tuple(big.shape), pending is not None)


def lean_order(n: int, cam_rows: list[int]) -> list[int]:
    """The order `pack_lean` sends a batch's crops in: the camera-noise crops, then the others."""
    cam = set(cam_rows)
    return list(cam_rows) + [k for k in range(n) if k not in cam]


def shared_floats(n: int) -> torch.Tensor:
    """n float32s made in shared memory at once: a worker's tensor is otherwise moved there when it is sent,
    a second allocation and copy (about twice the time: on a VM each new page costs a fault)."""
    try:
        x = torch.empty(0).set_(torch.UntypedStorage._new_shared(4 * n))
        if x.numel() == n:
            return x
    except (AttributeError, TypeError, RuntimeError):  # a torch without these
        pass
    return torch.empty(n).share_memory_()


def unpack_lean(flat: torch.Tensor, layout: tuple, estimator, device, generator: torch.Generator) -> tuple:
    """`pack_lean`'s buffer -> ((noisy, map), clean) on `device`, as `degrade` and `finish_batch` make them (the
    crops in `lean_order`): white noise N(0, level) drawn here (with `generator`) on the crops that have no camera
    noise, the camera rows as the worker made them, and the camera rows' maps multiplied by the estimator's reading
    of their larger crops. Only slices of the buffer: nothing here waits for the device."""
    shape, m, big_shape, deferred = layout
    n, c, h, w = shape
    flat = flat.to(device, non_blocking=True)
    sizes = [n * c * h * w, m * c * h * w, int(np.prod(big_shape)), n, n]
    a = np.cumsum([0] + sizes)
    clean = flat[a[0]:a[1]].view(shape)
    level = flat[a[3]:a[4]].clone()
    std = level / flat[a[4]:a[5]]  # the white noise's own level: the map over its over_map scale
    noisy = torch.randn(shape, device=device, generator=generator).mul_(std.view(n, 1, 1, 1)).add_(clean)
    if m:
        noisy[:m] = flat[a[1]:a[2]].view(m, c, h, w)
        if deferred:
            with torch.no_grad():
                level[:m] *= estimator_reading(estimator, flat[a[2]:a[3]].view(big_shape))
    return (noisy, level.view(n, 1, 1, 1).expand(n, 1, h, w).contiguous()), clean


def batch_loader(data: TaskData, batch: int, workers: int, seed: int, pin: bool = False, lean: bool = False):
    """An iterator over `BatchStream` batches made by `workers` forked processes (the photos in memory
    are shared with them, not copied). Start it before the model goes to a GPU."""
    loader = torch.utils.data.DataLoader(BatchStream(data, batch, seed, lean), batch_size=None, num_workers=workers,
                                         pin_memory=pin, prefetch_factor=4, persistent_workers=True,
                                         multiprocessing_context="fork")
    return iter(loader)


def finish_batch(inputs: tuple, pending, estimator, device) -> tuple:
    """Put the estimator's reading of the pending camera crops into the noise map (in place, on `device`):
    the map holds each crop's jitter, and the reading multiplies it, as `degrade` does in one process."""
    idx, cam = pending
    if len(idx):
        with torch.no_grad():
            r = estimator_reading(estimator, cam.to(device, non_blocking=True))
        inputs[1][idx.to(device, non_blocking=True)] *= r.view(-1, 1, 1, 1)  # (idx is pinned: no wait)
    return inputs
