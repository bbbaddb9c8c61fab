"""Degradations and data: noise-level estimation, camera noise statistics, bicubic, masks, holdout."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from scripts.training import data as D

ROOT = Path(__file__).resolve().parents[3]


def smooth_textured(n: int = 256) -> torch.Tensor:
    """(1,3,n,n): gradients, a disc, and one quadrant of fine periodic texture."""
    y, x = np.mgrid[0:n, 0:n] / n
    im = np.stack([0.2 + 0.6 * x, 0.3 + 0.4 * y, 0.5 + 0.3 * np.sin(3 * x + 2 * y)], 0)
    im[:, :n // 2, n // 2:] += (0.08 * np.sin(2 * np.pi * x * n / 6) * np.sin(2 * np.pi * y * n / 9))[:n // 2, n // 2:]
    im += 0.1 * ((x - 0.3) ** 2 + (y - 0.7) ** 2 < 0.02)
    return torch.from_numpy(np.clip(im, 0, 1)).float()[None]


@pytest.mark.parametrize("sigma", [15, 25, 50])
def test_pca_sigma_on_awgn(sigma):
    clean = smooth_textured()
    g = torch.Generator().manual_seed(sigma)
    noisy = clean + torch.randn(clean.shape, generator=g) * (sigma / 255)  # not clipped, as in eval
    est = float(D.pca_sigma(noisy)[0]) * 255
    assert abs(est - sigma) <= 0.1 * sigma, est


def test_pca_sigma_clean_and_batch():
    clean = smooth_textured(128)
    assert float(D.pca_sigma(clean)[0]) * 255 < 3.0
    g = torch.Generator().manual_seed(0)
    two = torch.cat([clean + torch.randn(clean.shape, generator=g) * s / 255 for s in (10, 40)])
    est = D.pca_sigma(two) * 255
    assert est.shape == (2,) and est[0] < est[1]


LEVELS = [0.25, 0.45, 0.65, 0.85]  # sRGB grey levels of four flat bands
BAND = 48


def flat_bands(n: int) -> torch.Tensor:
    c = torch.zeros(n, 3, 64, BAND * len(LEVELS))
    for i, v in enumerate(LEVELS):
        c[..., i * BAND:(i + 1) * BAND] = v
    return c


def band(x, i, m=8):  # interior of band i, away from the demosaic's 3x3 reach across band edges
    return x[..., m:-m, i * BAND + m:(i + 1) * BAND - m]


def test_camera_noise_is_signal_dependent_in_linear_light():
    clean = flat_bands(12)
    noisy = D.camera_noise(clean, np.random.default_rng(0), jpeg_p=0.0)
    assert noisy.shape == clean.shape and noisy.min() >= 0 and noisy.max() <= 1
    resid = D.srgb_to_linear(noisy) - D.srgb_to_linear(clean)
    var = np.array([[float(band(resid[k], i).var()) for i in range(len(LEVELS))] for k in range(clean.shape[0])])
    mean = var.mean(0)
    assert all(a < b for a, b in zip(mean, mean[1:])), mean  # brighter -> noisier (shot noise)
    ratios = var[:, -1] / var[:, 0]
    # linear light levels 0.05 .. 0.69: pure read noise would give ratios near 1 (only when read noise
    # dominates a sample, as at low ISO, is its ratio that small)
    assert ratios.min() > 1.0 and np.median(ratios) > 3.0, ratios


def test_camera_noise_channels_and_neighbours_correlated():
    clean = flat_bands(12)
    noisy = D.camera_noise(clean, np.random.default_rng(1), jpeg_p=0.0)
    awgn = clean + torch.randn(clean.shape, generator=torch.Generator().manual_seed(1)) * 0.02
    stats = {}
    for name, x in (("camera", noisy), ("awgn", awgn)):
        r = band(x - clean, 1)
        cross, spatial = [], []
        for k in range(r.shape[0]):
            c = np.corrcoef(r[k].reshape(3, -1).numpy())
            cross.append(max(abs(c[0, 1]), abs(c[1, 2]), abs(c[0, 2])))
            g = r[k, 1].numpy()
            spatial.append(np.corrcoef(g[:, :-1].ravel(), g[:, 1:].ravel())[0, 1])
        stats[name] = (float(np.mean(cross)), float(np.mean(spatial)))
    assert stats["camera"][0] > 0.2 and stats["awgn"][0] < 0.1, stats  # colour correction mixes channels
    assert stats["camera"][1] > 0.3 and abs(stats["awgn"][1]) < 0.1, stats  # demosaic spreads a site's noise


def test_camera_noise_jpeg_is_8bit():
    clean = flat_bands(4)
    out = D.camera_noise(clean, np.random.default_rng(2), jpeg_p=1.0)
    assert torch.allclose(out * 255, (out * 255).round(), atol=1e-4)


def test_crop_sampler_crops_are_windows_in_all_eight_orientations():
    # every pixel of two small photos tells its photo and place, so each crop must be one of the 8 rotations and
    # mirrors of a window of one photo; over a few hundred crops, both photos and all 8 orientations appear
    def photo(h, w, tag):
        y, x = np.mgrid[0:h, 0:w]
        return np.ascontiguousarray(np.stack([y, x, np.full_like(y, tag)], -1).astype(np.uint8))

    photos = [photo(40, 30, 1), photo(25, 50, 2)]
    sampler = D.CropSampler(photos, 16, seed=5)
    seen = set()
    for crops in (sampler.batch(64) for _ in range(5)):
        for c in (crops * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy():
            im = photos[c[0, 0, 2] - 1]
            y0, x0 = int(c[..., 0].min()), int(c[..., 1].min())
            window = im[y0:y0 + 16, x0:x0 + 16]
            found = [k for k in range(8) if np.array_equal(np.rot90(window[:, ::-1] if k & 4 else window, k & 3), c)]
            assert found, (y0, x0)
            seen.add((int(c[0, 0, 2]), found[0]))
    assert seen == {(tag, k) for tag in (1, 2) for k in range(8)}


def test_camera_noise_batch_is_each_image_alone():
    # the arithmetic runs on the whole batch, but each image draws its own numbers in a fixed order, so a
    # batch equals its images made one at a time from the same generator (JPEG and in-camera NR included)
    clean = torch.cat([smooth_textured(64), flat_bands(1)[..., :64, :64], smooth_textured(64).flip(-1)] * 3)
    batch = D.camera_noise(clean, np.random.default_rng(3), jpeg_p=0.5, nr_p=0.5)
    rng = np.random.default_rng(3)
    alone = torch.cat([D.camera_noise(clean[k:k + 1], rng, jpeg_p=0.5, nr_p=0.5) for k in range(len(clean))])
    # equal here; the tolerance leaves room for a BLAS that sums the 3x3 colour mix in another order for a batch,
    # which can move a JPEG rounding (by a few levels in a block), while a mix-up of images moves far more
    assert (batch - alone).abs().max() <= 8 / 255
    assert ((batch - alone).abs() > 1e-5).float().mean() < 1e-3


def test_demosaic_is_the_bilinear_kernel_and_srgb_the_closed_forms():
    # the fast forms against their definitions: a 3x3 [[1,2,1],[2,4,2],[1,2,1]]/4 filter with reflected edges
    # (each plane's sites over its site count), and the sRGB curves with ** powers
    g = torch.Generator().manual_seed(4)
    sites = torch.randn(2, 1, 10, 14, generator=g)
    m = D.bayer_masks(10, 14)
    k = torch.tensor([[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]]).view(1, 1, 3, 3).repeat(3, 1, 1, 1)
    conv = lambda x: torch.nn.functional.conv2d(torch.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect"), k, groups=3)
    want = conv(sites * m) / conv(m[None])
    assert torch.allclose(D._demosaic_noise(sites, m), want, atol=1e-6)
    x = torch.rand(1000, generator=g)
    assert torch.allclose(D.srgb_to_linear(x), torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4), atol=1e-6)
    assert torch.allclose(D.linear_to_srgb(x), torch.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1 / 2.4) - 0.055), atol=1e-6)


def matlab_imresize_down(x: np.ndarray, scale: int) -> np.ndarray:
    """Reference MATLAB imresize(x, 1/scale, 'bicubic') along both axes (HxW float), mirrored borders."""

    def cubic(t):
        t = np.abs(t)
        return np.where(t <= 1, 1.5 * t ** 3 - 2.5 * t ** 2 + 1,
                        np.where(t <= 2, -0.5 * t ** 3 + 2.5 * t ** 2 - 4 * t + 2, 0.0))

    def axis(a, n_out):
        n_in = a.shape[0]
        u = np.arange(1, n_out + 1) * scale + 0.5 * (1 - scale)  # x / (1/scale) + 0.5 (1 - scale), 1-based
        width = 4 * scale
        left = np.floor(u - width / 2)
        idx = left[:, None] + np.arange(int(math.ceil(width)) + 2)[None]
        wts = cubic((u[:, None] - idx) / scale) / scale
        wts /= wts.sum(1, keepdims=True)
        idx = idx - 1  # 0-based
        mirror = np.concatenate([np.arange(n_in), np.arange(n_in - 1, -1, -1)])
        idx = mirror[np.mod(idx, 2 * n_in).astype(int)]
        return np.einsum("ok,ok...->o...", wts, a[idx])

    h, w = x.shape
    return axis(axis(x, h // scale).T, w // scale).T


@pytest.mark.parametrize("scale", [2, 4])
def test_bicubic_down_known_values(scale):
    # a ramp 0, 2, 4, ... (8-bit): every interior low-res pixel is the mean of its scale x scale block
    w = 64
    ramp = torch.arange(w, dtype=torch.float32).mul(2 / 255).expand(1, 3, 16, w).clone()
    lr = D.bicubic_down(ramp, scale)
    assert lr.shape == (1, 3, 16 // scale, w // scale)
    got = (lr[0, 0, 0] * 255).round()
    j = torch.arange(w // scale, dtype=torch.float32)
    expect = 2 * (scale * j + (scale - 1) / 2)  # ramp value at the block centre
    assert torch.equal(got[2:-2], expect[2:-2])
    # constant in, constant out (the kernel's weights are normalised, borders included)
    flat = torch.full((1, 3, 24, 24), 100 / 255)
    assert torch.allclose(D.bicubic_down(flat, scale) * 255, torch.full((1, 3, 24 // scale, 24 // scale), 100.0))
    # rounded to 8-bit
    assert torch.equal(lr * 255, (lr * 255).round())


@pytest.mark.parametrize("scale", [2, 4])
def test_bicubic_down_matches_matlab_imresize_inside(scale):
    rng = np.random.default_rng(scale)
    hr = np.clip(np.cumsum(np.cumsum(rng.normal(0, 0.02, (64, 64)), 0), 1) * 0.2 + 0.5, 0, 1)
    ref = matlab_imresize_down(hr, scale)
    got = D.bicubic_down(torch.from_numpy(hr).float()[None, None], scale)[0, 0].double().numpy()
    b = 2  # torch renormalises the kernel at the border where MATLAB mirrors: compare the inside
    diff = np.abs(got[b:-b, b:-b] * 255 - np.round(ref[b:-b, b:-b] * 255))
    assert diff.max() <= 1.0 and diff.mean() < 0.1


@pytest.mark.parametrize("kind", ["thin", "medium", "thick"])
def test_make_mask_coverage(kind):
    lo, hi = D.MASK_SIZES[kind]["cover"]
    cover = []
    for seed in range(8):
        m = D.make_mask(256, 320, kind, np.random.default_rng(seed))
        assert m.shape == (256, 320) and m.dtype == np.uint8 and set(np.unique(m)) <= {0, 255}
        cover.append((m > 0).mean())
    assert min(cover) >= lo and max(cover) <= hi + 0.08, cover  # one last shape may overshoot the target
    assert lo <= np.mean(cover) <= hi


def test_mask_kinds_are_ordered_and_seeded():
    means = [np.mean([(D.make_mask(200, 200, k, np.random.default_rng(s)) > 0).mean() for s in range(6)])
             for k in ("thin", "medium", "thick")]
    assert means[0] < means[1] < means[2]
    a = D.make_mask(64, 64, "medium", np.random.default_rng(7))
    b = D.make_mask(64, 64, "medium", np.random.default_rng(7))
    assert np.array_equal(a, b)


def test_random_masks_shape_and_values():
    m = D.random_masks(5, 32, np.random.default_rng(0))
    assert m.shape == (5, 1, 32, 32) and set(torch.unique(m).tolist()) <= {0.0, 1.0}


def test_committed_eval_masks_are_the_seeded_ones():
    """test/fixtures/masks holds 24 masks per kind, binary, white = fill, exactly what make_masks.py makes."""
    import sys

    from PIL import Image

    sys.path.insert(0, str(ROOT / "scripts"))
    import make_masks

    base = ROOT / "test" / "fixtures" / "masks"
    for kind in ("thin", "medium", "thick"):
        files = sorted((base / kind).glob("*.png"))
        assert [f.stem for f in files] == [f"kodim{i:02d}" for i in range(1, 25)]
        lo, hi = D.MASK_SIZES[kind]["cover"]
        for f in files[:4]:
            m = np.array(Image.open(f).convert("L"))
            assert set(np.unique(m)) <= {0, 255}
            regen = make_masks.mask_for(f"{f.stem}.png", m.shape[0], m.shape[1], kind)
            assert np.array_equal(m > 0, regen > 0), f
            assert lo <= (m > 0).mean() <= hi + 0.08


def test_holdout_and_test_data_refused(tmp_path):
    files = [tmp_path / "a" / f"{i:02d}.png" for i in range(25)]
    train, val = D.split_holdout(files)
    assert [f.name for f in val] == ["09.png", "19.png"] and len(train) == 23
    forbidden = tmp_path / "datasets" / "test" / "Kodak24"
    forbidden.mkdir(parents=True)
    with pytest.raises(ValueError, match="evaluation data"):
        D.list_images([forbidden])


def test_denoise_camera_map_is_the_true_noise_std(tmp_path):
    """With camera_map true, a camera-noise sample's map is the std of its own noise (+-15 %)."""
    import cv2
    from conftest import smooth_photo
    d = tmp_path / "photos"
    d.mkdir()
    for i in range(12):
        cv2.imwrite(str(d / f"p{i}.png"), smooth_photo(160, 160, i))
    data = D.TaskData("denoise", {"dirs": [str(d)], "crop": 64, "camera_p": 1.0, "camera_crop": 128}, seed=3)
    (noisy, smap), clean = data.train_batch(6)
    for k in range(6):
        true = float((noisy[k] - clean[k]).std())
        m = float(smap[k].mean())
        assert torch.all(smap[k] == smap[k].flatten()[0])  # one level per sample
        assert 0.6 * true < m < 1.6 * true, (k, true, m)  # centre crop vs the larger crop, and jitter


def chroma_detail_ratio(x: torch.Tensor) -> float:
    """High-frequency chroma energy over high-frequency luma energy (3x3 box residual)."""
    d = x - torch.nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    y = d.mean(1, keepdim=True)
    return float(((d - y) ** 2).sum(1).mean() / ((y ** 2).mean() * 3))


def test_colour_augment_gives_sharp_chroma_and_stays_in_range():
    # a grey photo-like crop: all of its detail is luma, none is chroma
    grey = smooth_textured(128).mean(1, keepdim=True).repeat(8, 3, 1, 1)
    assert chroma_detail_ratio(grey) < 1e-6
    rng = np.random.default_rng(0)
    out = D.colour_augment(grey.clone(), rng, 1.0)
    assert out.min() >= 0 and out.max() <= 1
    assert chroma_detail_ratio(out) > 0.05  # McMaster has about 0.2, BSD200 about 0.01
    # p = 0 leaves every crop alone; p = 0.5 changes some and not others
    assert torch.equal(D.colour_augment(grey.clone(), rng, 0.0), grey)
    half = D.colour_augment(grey.clone(), np.random.default_rng(1), 0.5)
    changed = [not torch.equal(half[k], grey[k]) for k in range(8)]
    assert any(changed) and not all(changed)


def _constant_estimator(path: Path, sigma255: float) -> None:
    """A noise-estimator checkpoint that reads sigma255 (0-255 scale) on any image."""
    from scripts.training.archs import build_model
    cfg = {"arch": "noise_estimator", "width": 4, "depth": 2}
    m = build_model(cfg)
    with torch.no_grad():
        for p in m.parameters():
            p.zero_()
        m.body[-1].bias.fill_(math.log1p(sigma255))
    torch.save({"ema": m.state_dict(), "step": 0, "config": {"model": cfg}}, path)


def test_denoise_camera_map_from_the_estimator(tmp_path):
    """With camera_map estimator, a camera-noise sample's map is what the estimator reads (jitter
    0.9-1.15), whatever the noise's own std."""
    import cv2
    from conftest import smooth_photo
    d = tmp_path / "photos"
    d.mkdir()
    for i in range(12):
        cv2.imwrite(str(d / f"p{i}.png"), smooth_photo(160, 160, i))
    _constant_estimator(tmp_path / "est.pt", 40.0)
    cfg = {"dirs": [str(d)], "crop": 64, "camera_p": 1.0, "camera_crop": 128,
           "camera_map": "estimator", "estimator": str(tmp_path / "est.pt")}
    (noisy, smap), clean = D.TaskData("denoise", cfg, seed=3).train_batch(6)
    for k in range(6):
        assert float((noisy[k] - clean[k]).std()) * 255 < 20  # the camera noise is far below 40
        assert torch.all(smap[k] == smap[k].flatten()[0])
        assert 0.9 * 40 <= float(smap[k, 0, 0, 0]) * 255 <= 1.15 * 40 + 1e-4


def test_estimator_reading_is_the_median_over_corner_and_centre_crops():
    """The committed estimator: heavy noise in one corner only moves one of the five crops, so the
    reading stays near that of the clean rest; noise everywhere is read."""
    from scripts.training.archs import load_checkpoint
    estimator, _ = load_checkpoint(ROOT / "scripts/training/checkpoints/restora-denoise-estimator.pt")
    clean = smooth_textured(256)
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(clean.shape, generator=g) * (30 / 255)
    corner = clean.clone()
    corner[..., :64, :64] += noise[..., :64, :64]
    r_clean, r_corner, r_all = (float(v) * 255 for v in D.estimator_reading(estimator, torch.cat([clean, corner, clean + noise])))
    assert r_corner < r_clean + 2, (r_clean, r_corner)
    assert abs(r_all - 30) < 4.5, r_all


def test_in_camera_nr_makes_chroma_blotches():
    """After in-camera noise reduction the chroma noise is weaker and correlated over several
    pixels (blotches), where plain demosaiced noise decorrelates within 2-3 px."""
    clean = torch.full((1, 3, 192, 192), 0.5)

    def chroma_stats(noisy):
        n = noisy[0] - clean[0]
        c = n - n.mean(0, keepdim=True)
        corr = float((c[:, :, :-2] * c[:, :, 2:]).sum() / (c[:, :, :-2] ** 2).sum().sqrt() / (c[:, :, 2:] ** 2).sum().sqrt())
        return float(c.std()), corr

    plain = [chroma_stats(D.camera_noise(clean, np.random.default_rng(s), jpeg_p=0.0)) for s in range(4)]
    nr = [chroma_stats(D.camera_noise(clean, np.random.default_rng(s), jpeg_p=0.0, nr_p=1.0)) for s in range(4)]
    for (sp, cp), (sn, cn) in zip(plain, nr):
        assert cp < 0.25 and cn > cp + 0.2, (cp, cn)  # correlation 2 px apart
        assert sn < 0.8 * sp, (sp, sn)


def test_missing_training_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="training folder not found: .*debian-photos"):
        D.list_images([tmp_path / "debian-photos"])


def _fake_deb(root: Path, pkg: str, files: dict) -> None:
    import subprocess
    tree = root / f"{pkg}-tree"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN" / "control").write_text(
        f"Package: {pkg}\nVersion: 1\nArchitecture: all\nMaintainer: t <t@t>\nDescription: t\n")
    for rel, data in files.items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_bytes(data)
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(tree), str(root / f"{pkg}_1_all.deb")],
                   check=True, capture_output=True)


@pytest.mark.skipif(__import__("shutil").which("dpkg-deb") is None, reason="needs dpkg-deb")
def test_debian_photos_refuses_a_changed_package(tmp_path):
    """The extra training photos are pinned by sha256: a package whose photo changed is refused,
    nothing half-written is taken for the real set."""
    import cv2
    from scripts.training import debian_photos as P
    ok, jpg = cv2.imencode(".jpg", (np.random.default_rng(0).random((64, 96, 3)) * 255).astype(np.uint8))
    for short, (pkg, *_rest) in P.PACKAGES.items():
        _fake_deb(tmp_path / "debs", pkg, {P.source_path(short, photo): jpg.tobytes()
                                           for s, photo, *_ in P.PHOTOS if s == short})
    with pytest.raises(SystemExit, match="sha256 differs"):
        P.fetch(tmp_path / "out", debs=tmp_path / "debs")
    assert not list((tmp_path / "out").glob("*.png"))


def test_debian_photos_downscale_by_compression():
    from scripts.training.debian_photos import downscale_factor
    w, h = 2560, 1600
    assert downscale_factor(int(2.0 * w * h / 8), w, h) == 2   # lightly compressed: x2
    assert downscale_factor(int(1.0 * w * h / 8), w, h) == 3
    assert downscale_factor(int(0.4 * w * h / 8), w, h) == 4   # hard-compressed: x4 averages the blocks away


def test_debian_photos_takes_the_largest_jpeg_of_an_archive():
    """enlightenment-data's .edj backgrounds hold the photo as JPEG streams at several sizes among
    other data: the largest stream is the photo that gets used; a plain JPEG is taken whole."""
    import cv2
    from scripts.training.debian_photos import largest_jpeg
    rng = np.random.default_rng(1)
    small = cv2.imencode(".jpg", (rng.random((16, 24, 3)) * 255).astype(np.uint8))[1].tobytes()
    big = cv2.imencode(".jpg", (rng.random((48, 72, 3)) * 255).astype(np.uint8))[1].tobytes()
    archive = b"Eet\x00header" + small + b"\x00" * 37 + big + b"trailing index"
    im = cv2.imdecode(np.frombuffer(largest_jpeg(archive), np.uint8), cv2.IMREAD_COLOR)
    assert im is not None and im.shape[:2] == (48, 72)
    assert largest_jpeg(big) == big


def test_deferred_reading_gives_the_same_map_as_reading_in_process(tmp_path):
    """train.py --workers: a worker leaves the estimator's reading to the training process
    (`finish_batch`, on its device). With the same seed the batch must come out the same as when one
    process reads; the committed estimator reads differently per crop, so a mix-up of crops shows."""
    import cv2
    from conftest import smooth_photo
    d = tmp_path / "photos"
    d.mkdir()
    for i in range(12):
        cv2.imwrite(str(d / f"p{i}.png"), smooth_photo(160, 160, i))
    cfg = {"dirs": [str(d)], "crop": 64, "camera_p": 0.6, "camera_crop": 128, "camera_map": "estimator",
           "estimator": str(ROOT / "scripts/training/checkpoints/restora-denoise-estimator.pt")}
    (noisy_a, smap_a), clean_a = D.TaskData("denoise", cfg, seed=3).train_batch(8)
    deferred = D.TaskData("denoise", cfg, seed=3)
    deferred.defer_reading = True
    (noisy_b, smap_b), clean_b = deferred.train_batch(8)
    idx, cam = deferred.pending
    assert 0 < len(idx) < 8  # some camera crops, some white noise
    assert not torch.allclose(smap_a, smap_b)  # before the reading, camera rows hold only the jitter
    D.finish_batch((noisy_b, smap_b), deferred.pending, deferred.estimator(), torch.device("cpu"))
    assert torch.equal(noisy_a, noisy_b) and torch.equal(clean_a, clean_b)
    assert torch.allclose(smap_a, smap_b, rtol=1e-6, atol=1e-8)
    assert len({round(float(smap_a[k, 0, 0, 0]) * 255, 3) for k in idx.tolist()}) == len(idx)


@pytest.mark.parametrize("camera_map,over_map_p", [("estimator", 0.0), ("true", 0.0), ("estimator", 0.5)])
def test_lean_batches_arrive_as_the_worker_made_them(tmp_path, camera_map, over_map_p):
    """train.py --lean-batches: a worker sends one buffer without the white noise; the training side
    (`unpack_lean`) must give back the worker's clean crops and camera rows, the map (camera rows: jitter times the
    estimator's reading of their larger crops, as `finish_batch` makes it), and white noise of each crop's level."""
    import cv2
    from conftest import smooth_photo
    d = tmp_path / "photos"
    d.mkdir()
    for i in range(12):
        cv2.imwrite(str(d / f"p{i}.png"), smooth_photo(160, 160, i))
    cfg = {"dirs": [str(d)], "crop": 48, "camera_p": 0.4, "camera_crop": 96, "camera_map": camera_map,
           "estimator": str(ROOT / "scripts/training/checkpoints/restora-denoise-estimator.pt"),
           "over_map_p": over_map_p}
    data = D.TaskData("denoise", cfg, seed=4)
    data.defer_reading, data.defer_white = data.reads_estimator, True
    z = []
    over = 0
    for _ in range(3):
        (noisy, smap), clean = data.train_batch(16)
        rows = list(data.cam_rows)
        assert 0 < len(rows) < 16
        gen = torch.Generator().manual_seed(1)
        scale = data.map_scale.copy()
        (n2, m2), c2 = D.unpack_lean(*D.pack_lean((noisy, smap), clean, rows, data.pending, data.map_scale),
                                     data.estimator(), torch.device("cpu"), gen)
        order = D.lean_order(16, rows)  # the camera crops first, then the others
        assert sorted(order) == list(range(16)) and order[:len(rows)] == rows
        m = len(rows)
        assert torch.equal(c2, clean[order]) and torch.equal(n2[:m], noisy[rows])
        want = smap.clone()
        if data.pending is not None:
            D.finish_batch((noisy, want), data.pending, data.estimator(), torch.device("cpu"))
        assert m2.shape == smap.shape and torch.allclose(m2, want[order], rtol=1e-6, atol=1e-9)
        # the noise's own level: the map over its over_map scale (1 without over_map_p)
        level = {j: float(m2[j, 0, 0, 0]) / float(scale[order[j]]) for j in range(m, 16)}
        over += sum(float(scale[order[j]]) > 1.01 for j in range(m, 16))
        white = [j for j in range(m, 16) if level[j] > 2 / 255]
        z += [((n2[j] - c2[j]) / level[j]).flatten() for j in white]
    z = torch.cat(z)
    assert (over > 0) == (over_map_p > 0), over
    assert abs(float(z.mean())) < 0.02 and abs(float(z.std()) - 1) < 0.02  # N(0, level) per crop
    assert D.shared_floats(10).is_shared() and D.shared_floats(10).numel() == 10  # made where it is sent from


def test_worker_processes_make_different_batches(tiny_config, tmp_path):
    """Each worker process reseeds its streams: two workers must not train on the same crops and noise."""
    import yaml
    cfg = yaml.safe_load(tiny_config("denoise").read_text())
    data = D.TaskData("denoise", cfg["data"], seed=5)
    stream = D.batch_loader(data, 2, workers=2, seed=11)
    batches = [next(stream) for _ in range(4)]  # the loader takes the workers in turn
    (n0, _), c0, _ = batches[0]
    (n1, _), c1, _ = batches[1]
    assert n0.shape == (2, 3, 16, 16) and not torch.equal(c0, c1) and not torch.equal(n0, n1)
    del stream


def test_pack_photos_keeps_every_photo_and_the_same_holdout(photos, tmp_path):
    """pack_photos.py (photos for a lent GPU machine): every photo of the folder, as a JPEG close to the
    original, under the same names, so that split_holdout holds out the same photos there."""
    from scripts.training.pack_photos import pack
    (photos / "p10.png").write_bytes((photos / "p00.png").read_bytes())  # 11 photos: one held out, not the last
    out = tmp_path / "pack"
    pack([str(photos)], out, 97)
    packed = D.list_images([out / photos.name])
    originals = D.list_images([photos])
    assert [f.stem for f in packed] == [f.stem for f in originals] and all(f.suffix == ".jpg" for f in packed)
    assert [f.stem for f in D.split_holdout(packed)[1]] == [f.stem for f in D.split_holdout(originals)[1]] == ["p09"]
    for a, b in zip(originals, packed):
        x, y = D.load_rgb(a).astype(np.float64), D.load_rgb(b).astype(np.float64)
        assert x.shape == y.shape and 10 * np.log10(255 ** 2 / np.mean((x - y) ** 2)) > 38


def test_pack_photos_lossless_and_verify(photos, tmp_path):
    """--lossless packs the very pixels (WebP), replaces an earlier JPEG packing of the folder instead of
    mixing with it, and --verify finds a folder that lost a photo or never arrived."""
    from scripts.training import pack_photos as P
    out = tmp_path / "pack"
    P.pack([str(photos)], out, 97)
    P.pack([str(photos)], out, 97, lossless=True)
    dst = out / photos.name
    packed = D.list_images([dst])
    originals = D.list_images([photos])
    assert [f.stem for f in packed] == [f.stem for f in originals] and all(f.suffix == ".webp" for f in packed)
    for a, b in zip(originals, packed):
        assert np.array_equal(D.load_rgb(a), D.load_rgb(b))  # read back by the training side's decoder
    assert P.verify([dst]) == [] and P.main(["--verify", str(dst)]) == 0
    packed[3].unlink()
    assert "1 of 10 photos missing" in P.verify([dst])[0] and P.main(["--verify", str(dst)]) == 1
    assert "no MANIFEST.txt" in P.verify([tmp_path / "never-carried"])[0]


def test_over_map_crops_carry_less_noise_than_their_map(photos):
    """over_map_p: that share of the crops gets a map above its noise (1 to over_map_max times, at most the
    engine's largest sigma), the clean crop still the target; validation batches and over_map_p 0 never do."""
    cfg = {"dirs": [str(photos)], "crop": 32, "camera_p": 0.0, "sigma_max": 55, "over_map_p": 0.5,
           "over_map_max": 3.0}
    data = D.TaskData("denoise", cfg, seed=3)
    ratios = []
    for _ in range(8):
        (noisy, smap), clean = data.train_batch(32)
        level = (noisy - clean).flatten(1).std(1) * 255
        m = smap[:, 0, 0, 0] * 255
        keep = level > 5  # a level measured well enough on 32 px crops
        ratios += (m[keep] / level[keep]).tolist()
        assert float(m.max()) <= 100.01
    r = np.array(ratios)
    assert 0.3 < np.mean(r > 1.1) < 0.7 and r.max() > 2.2 and r.min() > 0.9, np.percentile(r, [0, 50, 100])
    (noisy, smap), clean = data.val_batch(32)
    level = (noisy - clean).flatten(1).std(1) * 255
    assert torch.allclose(smap[:, 0, 0, 0] * 255, torch.full_like(level, 25.0)) and abs(float(level.mean()) - 25) < 1


def test_over_map_min_leaves_low_noise_and_camera_crops_their_own_map(photos):
    """over_map_min: below that sigma a white-noise crop keeps its true map, and camera crops get no over-map."""
    cfg = {"dirs": [str(photos)], "crop": 32, "camera_p": 0.3, "camera_crop": 32, "sigma_max": 55, "over_map_p": 1.0,
           "over_map_max": 3.0, "over_map_min": 10.0}
    data = D.TaskData("denoise", cfg, seed=5)
    low, high = [], []
    for _ in range(6):
        (noisy, smap), clean = data.train_batch(32)
        white = [k for k in range(32) if k not in set(data.cam_rows)]
        assert all(float(data.map_scale[k]) == 1.0 for k in data.cam_rows)
        level = (noisy - clean).flatten(1).std(1) * 255
        for k in white:
            (low if level[k] < 8 else high if level[k] > 12 else []).append(float(smap[k, 0, 0, 0] * 255 / level[k]))
    assert low and high
    assert max(abs(r - 1) for r in low if r == r) < 0.2, low  # (their own level, as measured on 32 px)
    assert np.mean(np.array(high) > 1.2) > 0.7, high
