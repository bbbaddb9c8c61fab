#!/usr/bin/python3
"""Make the tiny real ONNX models the engine tests run (test/fixtures/models/<id>/).

Every model follows our ONNX I/O convention: NCHW float32 RGB in [0,1], dynamic height and width,
inputs `image` (N,3,H,W), `sigma` (denoiser, N,1,H,W, noise std on the [0,1] scale), `mask`
(inpainter, N,1,H,W, 1 = fill); output `output` (N,3,H*scale,W*scale). They are small enough
(a few KB) to commit, but they are real convolutional nets (stride-2 and pixel-(un)shuffle, so the
tiler's alignment and padding matter) with fixed, seeded weights that do something sensible:

  tiny-denoise     image + sigma -> blur toward a smoothed image, strength from sigma (multiple 4)
  tiny-upscale-x2  bilinear x2 + a small learned-like residual (pixel shuffle)
  tiny-upscale-x4  the same at x4
  tiny-inpaint     normalised-convolution fill of the masked pixels; known pixels pass through

a tiny noise-level estimator (test/fixtures/models/tiny-estimator/estimator.onnx; no card.json, so
the registry does not list it: tests copy it beside a copy of tiny-denoise and declare it in the
card's `estimator` object). Input `image` (N,3,H,W), output `sigma` (N,1): the mean absolute
3x3 high-pass (centre minus the 3x3 mean, depthwise, valid positions only) over all channels and
pixels of each crop, a simple known function tests can recompute in JS. Built with onnx.helper only.

and hostile files for the inspection tests (test/fixtures/models/hostile/):
  not-onnx.onnx, one-channel.onnx, external-data.onnx (initializer stored at ../../etc/passwd),
  classifier.onnx (N,10 output), fixed-size.onnx (static 1x3x32x32), huge-scale.onnx (x16 output).

Run: /usr/bin/python3 scripts/make_fixture_models.py   (Debian torch 1.13 CPU, onnx)
     /usr/bin/python3 scripts/make_fixture_models.py estimator   (only the estimator; onnx only)
"""
from __future__ import annotations

import hashlib
import json
import os
import sys

try:
    import torch
except ImportError:  # `python3` may be a pyenv shim without torch: use Debian's interpreter
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
    raise

import onnx
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "models")
OPSET = 17


def gauss_kernel(size: int, sigma: float) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-(r ** 2) / (2 * sigma ** 2))
    k = torch.outer(g, g)
    return k / k.sum()


class DepthwiseBlur(nn.Module):
    """Fixed 5x5 Gaussian per channel (zero padding, as a real conv layer would have)."""

    def __init__(self, ch: int, size: int = 5, sigma: float = 1.2):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, size, padding=size // 2, groups=ch, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(gauss_kernel(size, sigma).expand(ch, 1, size, size))

    def forward(self, x):
        return self.conv(x)


class TinyDenoiser(nn.Module):
    """out = image + k(sigma) * (blur(image) - image) + small U-Net-ish residual. size multiple 4."""

    def __init__(self):
        super().__init__()
        self.blur = DepthwiseBlur(3)
        self.unshuffle = nn.PixelUnshuffle(2)
        self.head = nn.Conv2d(16, 8, 3, padding=1)
        self.down = nn.Conv2d(8, 8, 2, stride=2)
        self.mid = nn.Conv2d(8, 8, 3, padding=1)
        self.up = nn.Sequential(nn.Conv2d(8, 32, 1), nn.PixelShuffle(2))
        self.tail = nn.Conv2d(8, 12, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        with torch.no_grad():
            self.tail.weight.mul_(0.05)
            self.tail.bias.zero_()

    def forward(self, image, sigma):
        k = torch.clamp(sigma * 8.0, 0.0, 1.0)
        smooth = image + k * (self.blur(image) - image)
        x = self.unshuffle(torch.cat([image, sigma], 1))
        h = F.leaky_relu(self.head(x), 0.1)
        m = F.leaky_relu(self.mid(self.down(h)), 0.1)
        h = h + self.up(m)
        return smooth + self.shuffle(self.tail(h)) * k


class TinyUpscaler(nn.Module):
    def __init__(self, scale: int):
        super().__init__()
        self.scale = scale
        self.head = nn.Conv2d(3, 8, 3, padding=1)
        self.tail = nn.Sequential(nn.Conv2d(8, 3 * scale * scale, 3, padding=1), nn.PixelShuffle(scale))
        with torch.no_grad():
            self.tail[0].weight.mul_(0.05)
            self.tail[0].bias.zero_()

    def forward(self, image):
        base = F.interpolate(image, scale_factor=self.scale, mode="bilinear", align_corners=False)
        return base + self.tail(F.leaky_relu(self.head(image), 0.1))


class TinyInpainter(nn.Module):
    """Normalised convolution: fill = blur(known) / blur(1 - mask), repeated at two radii."""

    def __init__(self):
        super().__init__()
        self.b1 = DepthwiseBlur(4, 7, 2.0)
        self.b2 = DepthwiseBlur(4, 7, 6.0)

    def forward(self, image, mask):
        known = image * (1 - mask)
        a = torch.cat([known, 1 - mask], 1)
        s1 = self.b1(a)
        s2 = self.b2(self.b2(a))
        num = s1[:, :3] + 0.05 * s2[:, :3]
        den = s1[:, 3:4] + 0.05 * s2[:, 3:4] + 1e-4
        return known + mask * (num / den)


def count_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def export(model: nn.Module, inputs: dict, path: str) -> None:
    names = list(inputs)
    dyn = {n: {2: "height", 3: "width"} for n in names}
    dyn["output"] = {2: "out_height", 3: "out_width"}
    model.eval()
    with torch.no_grad():
        torch.onnx.export(model, tuple(inputs.values()), path, input_names=names, output_names=["output"],
                          dynamic_axes=dyn, opset_version=OPSET, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path))


def tensor(name, role, ch):
    return {"name": name, "role": role, "channels": ch, "layout": "NCHW", "range": [0, 1], "dtype": "float32"}


def card(mid, name, task, scale, inputs, mult, tile, overlap, params, macs, desc):
    return {
        "id": mid, "name": name, "task": task, "version": "0.0.1", "scale": scale,
        "inputs": inputs, "outputs": [tensor("output", "image", 3)],
        "size_multiple": mult, "tiling": {"tile": tile, "overlap": overlap},
        "fp16_safe": True, "color_space": "sRGB", "license": "MIT", "architecture": name,
        "params": params, "macs_per_pixel": macs,
        "training": {"data": "none (fixed, seeded weights)", "steps": 0, "hours": 0, "hardware": "none"},
        "metrics": {}, "description": desc, "source": "scripts/make_fixture_models.py",
    }


def write_model(mid, model, inputs, card_json):
    d = os.path.join(ROOT, mid)
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, "model.onnx")
    export(model, inputs, p)
    with open(p, "rb") as f:
        card_json["sha256"] = hashlib.sha256(f.read()).hexdigest()
    with open(os.path.join(d, "card.json"), "w") as f:
        json.dump(card_json, f, indent=2)
        f.write("\n")
    print(f"{mid}: {os.path.getsize(p)} bytes")


def hostile():
    d = os.path.join(ROOT, "hostile")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "not-onnx.onnx"), "wb") as f:
        f.write(b"this is not an ONNX model, just text pretending\n" * 4)

    def graph_model(nodes, inputs, outputs, inits=()):
        g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])
        m.ir_version = 8
        return m

    dims = ["N", 1, "H", "W"]
    # one-channel in, one-channel out: the wrong contract for an RGB model
    w = helper.make_tensor("w", TensorProto.FLOAT, [1, 1, 3, 3], [1 / 9] * 9)
    m = graph_model([helper.make_node("Conv", ["image", "w"], ["output"], pads=[1, 1, 1, 1])],
                    [helper.make_tensor_value_info("image", TensorProto.FLOAT, dims)],
                    [helper.make_tensor_value_info("output", TensorProto.FLOAT, dims)], [w])
    onnx.save(m, os.path.join(d, "one-channel.onnx"))

    # external data escaping the folder: the initializer's bytes "live" in ../../etc/passwd
    w = helper.make_tensor("w", TensorProto.FLOAT, [3, 3, 1, 1], [0.0] * 9)
    w.ClearField("float_data")
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "../../etc/passwd"), ("offset", "0"), ("length", "36")):
        e = w.external_data.add()
        e.key, e.value = k, v
    rgb = ["N", 3, "H", "W"]
    m = graph_model([helper.make_node("Conv", ["image", "w"], ["output"])],
                    [helper.make_tensor_value_info("image", TensorProto.FLOAT, rgb)],
                    [helper.make_tensor_value_info("output", TensorProto.FLOAT, rgb)], [w])
    onnx.save(m, os.path.join(d, "external-data.onnx"))

    # a classifier: (N,3,H,W) -> (N,3) global average, not an image
    m = graph_model([helper.make_node("GlobalAveragePool", ["image"], ["p"]),
                     helper.make_node("Flatten", ["p"], ["output"])],
                    [helper.make_tensor_value_info("image", TensorProto.FLOAT, rgb)],
                    [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3])])
    onnx.save(m, os.path.join(d, "classifier.onnx"))

    # static 32x32 input
    m = graph_model([helper.make_node("Identity", ["image"], ["output"])],
                    [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 32, 32])],
                    [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 32, 32])])
    onnx.save(m, os.path.join(d, "fixed-size.onnx"))

    # x16 output: an absurd scale for a photo model
    sc = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, 16, 16])
    m = graph_model([helper.make_node("Resize", ["image", "", "scales"], ["output"], mode="nearest")],
                    [helper.make_tensor_value_info("image", TensorProto.FLOAT, rgb)],
                    [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3, "H2", "W2"])], [sc])
    onnx.save(m, os.path.join(d, "huge-scale.onnx"))

    # a plain user model that passes inspection: RGB x2 (nearest), names not ours
    sc = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, 2, 2])
    m = graph_model([helper.make_node("Resize", ["input_rgb", "", "scales"], ["sr"], mode="nearest")],
                    [helper.make_tensor_value_info("input_rgb", TensorProto.FLOAT, rgb)],
                    [helper.make_tensor_value_info("sr", TensorProto.FLOAT, ["N", 3, "H2", "W2"])], [sc])
    onnx.save(m, os.path.join(ROOT, "hostile", "user-nearest-x2.onnx"))
    for n in sorted(os.listdir(d)):
        print(f"hostile/{n}: {os.path.getsize(os.path.join(d, n))} bytes")


def tiny_estimator():
    """estimator.onnx: sigma = mean |x - mean3x3(x)| per crop, (N,3,H,W) -> (N,1), H and W dynamic."""
    d = os.path.join(ROOT, "tiny-estimator")
    os.makedirs(d, exist_ok=True)
    k = [-1 / 9] * 9
    k[4] = 8 / 9
    w = helper.make_tensor("hp", TensorProto.FLOAT, [3, 1, 3, 3], k * 3)
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [-1, 1])
    nodes = [
        helper.make_node("Conv", ["image", "hp"], ["d"], group=3),
        helper.make_node("Abs", ["d"], ["a"]),
        helper.make_node("ReduceMean", ["a"], ["m"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Reshape", ["m", "shape"], ["sigma"]),
    ]
    g = helper.make_graph(nodes, "tiny_estimator",
                          [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])],
                          [helper.make_tensor_value_info("sigma", TensorProto.FLOAT, ["N", 1])], initializer=[w, shape])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    p = os.path.join(d, "estimator.onnx")
    onnx.save(m, p)
    with open(p, "rb") as f:
        print(f"tiny-estimator/estimator.onnx: {os.path.getsize(p)} bytes, sha256 {hashlib.sha256(f.read()).hexdigest()}")


def pca_parity_images():
    """Tiny noisy PNGs + the noise level scripts/training/data.py:pca_sigma reads on each, so the
    TypeScript port (app/engine/pipelines/noise.ts) is tested against the Python original."""
    import cv2
    import numpy as np

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from scripts.training.data import pca_sigma

    out = os.path.join(ROOT, "..", "images")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(2024)
    expected = {}
    for name, (w, h, sigma, texture) in {"pca-a.png": (64, 48, 20, 0.0), "pca-b.png": (160, 120, 8, 0.15), "pca-c.png": (33, 20, 0, 0.0)}.items():
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        u, v = x / w, y / h
        base = np.stack([0.5 + 0.3 * np.sin(3 * u + v), 0.4 + 0.25 * np.cos(2 * v - u), 0.3 + 0.2 * u * v], -1)
        base += texture * (np.sin(x * 0.9) * np.sin(y * 0.7))[..., None]
        noisy = base * 255 + rng.standard_normal(base.shape) * sigma
        img = np.clip(np.round(noisy), 0, 255).astype(np.uint8)
        cv2.imwrite(os.path.join(out, name), img[:, :, ::-1])
        back = cv2.imread(os.path.join(out, name), cv2.IMREAD_COLOR)[:, :, ::-1]
        t = torch.from_numpy(np.ascontiguousarray(back)).permute(2, 0, 1).float().div(255.0)[None]
        # the float64 value before pca_sigma's final cast, to compare at full precision
        expected[name] = float(pca_sigma(t)[0].double()) * 255
    with open(os.path.join(out, "pca-expected.json"), "w") as f:
        json.dump({"note": "pca_sigma(img) * 255 from scripts/training/data.py (float32 result)", "sigma255": expected}, f, indent=2)
        f.write("\n")
    print("pca parity:", expected)


def main():
    if sys.argv[1:] == ["estimator"]:
        tiny_estimator()
        return
    pca_parity_images()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    img = torch.rand(1, 3, 32, 32)
    one = torch.rand(1, 1, 32, 32)

    m = TinyDenoiser()
    write_model("tiny-denoise", m, {"image": img, "sigma": one * 0.1},
                card("tiny-denoise", "Tiny denoiser (test fixture)", "denoise", 1,
                     [tensor("image", "image", 3), tensor("sigma", "sigma", 1)], 4, 64, 16, count_params(m), 900,
                     "Blurs toward a Gaussian-smoothed image with a strength set by the sigma map, plus a small "
                     "pixel-unshuffled conv residual. For tests only."))
    for s in (2, 4):
        torch.manual_seed(s)
        m = TinyUpscaler(s)
        write_model(f"tiny-upscale-x{s}", m, {"image": img},
                    card(f"tiny-upscale-x{s}", f"Tiny x{s} upscaler (test fixture)", "upscale", s,
                         [tensor("image", "image", 3)], 1, 48, 8, count_params(m), 300 * s * s,
                         "Bilinear upsampling plus a small pixel-shuffle conv residual. For tests only."))
    m = TinyInpainter()
    write_model("tiny-inpaint", m, {"image": img, "mask": (one > 0.8).float()},
                card("tiny-inpaint", "Tiny inpainter (test fixture)", "inpaint", 1,
                     [tensor("image", "image", 3), tensor("mask", "mask", 1)], 1, 64, 24, count_params(m), 400,
                     "Normalised-convolution fill of the masked pixels; known pixels pass through. For tests only."))
    tiny_estimator()
    hostile()


if __name__ == "__main__":
    main()
