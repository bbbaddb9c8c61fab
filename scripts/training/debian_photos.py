"""Extra clean training photographs from Debian's wallpaper packages, downscaled.

    /usr/bin/python3 -m scripts.training.debian_photos [--out scripts/training/data-cache/debian-photos]

BSD200 and T91 (the committed training sets) are small, JPEG-compressed photos. These 21 are
photographs (no renders or paintings; picked by eye from the two packages) shipped in Debian
bookworm's `plasma-workspace-wallpapers` and `mate-backgrounds`, under free licences (below, as the
packages' metadata and `debian/copyright` state them). The script fetches the two pinned .deb files
with `apt-get download` (Debian's archive is reachable from our machines), checks each source file's
sha256, and writes a PNG per photo, area-downscaled by 2, 3 or 4 depending on how hard the source JPEG
was compressed (bits per pixel >= 1.5: x2; >= 0.7: x3; below: x4), which averages the JPEG blocks
and the sensor noise away. The output folder is ignored by git; the denoiser's config lists it.
Every 10th file of it is held out for validation, like every other training folder.
"""
from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from .data import ROOT

PACKAGES = {
    "plasma-workspace-wallpapers": "4:5.27.5-2",
    "mate-backgrounds": "1.26.0-1",
}
PLASMA = "usr/share/wallpapers/{}/contents/images/2560x1600.jpg"
MATE = "usr/share/backgrounds/mate/nature/{}.jpg"

# (output name, package, path inside the package, sha256 prefix of the source file, author, licence)
PHOTOS = [
    ("plasma-BytheWater", "plasma-workspace-wallpapers", PLASMA.format("BytheWater"), "c272434ef39f2abf", "Maciej Wiklo", "LGPL-3"),
    ("plasma-ColorfulCups", "plasma-workspace-wallpapers", PLASMA.format("ColorfulCups"), "6e0f3a72feb5a4a9", "Dmitri Popov", "LGPL-3"),
    ("plasma-EveningGlow", "plasma-workspace-wallpapers", PLASMA.format("EveningGlow"), "586682dcb362b9f6", "Ian Hex", "LGPL-3"),
    ("plasma-FallenLeaf", "plasma-workspace-wallpapers", PLASMA.format("FallenLeaf"), "95603a6560c7e8d5", "Martin Klapetek", "LGPL-3"),
    ("plasma-Path", "plasma-workspace-wallpapers", PLASMA.format("Path"), "7477457d7f17b736", "Risto Saukonpää", "LGPL-3"),
    ("plasma-OneStandsOut", "plasma-workspace-wallpapers", PLASMA.format("OneStandsOut"), "cb507baf1dafdcae", "Risto Saukonpää", "LGPL-3"),
    ("plasma-summer_1am", "plasma-workspace-wallpapers", PLASMA.format("summer_1am"), "c868b50789591dd4", "Risto Saukonpää", "LGPL-3"),
    ("plasma-DarkestHour", "plasma-workspace-wallpapers", PLASMA.format("DarkestHour"), "8e3703fae3a3c217", "Risto Saukonpää", "LGPL-3"),
    ("plasma-Grey", "plasma-workspace-wallpapers", PLASMA.format("Grey"), "88c31d8944b7e693", "SigiSagi", "LGPL-3"),
    ("mate-Aqua", "mate-backgrounds", MATE.format("Aqua"), "5c30118205982da4", "Charles Barbin", "GPL-2+"),
    ("mate-Blinds", "mate-backgrounds", MATE.format("Blinds"), "f7aac0dcc2e06d04", "Lennart Poettering, Andrea Cimitan", "GPL-2+"),
    ("mate-Dune", "mate-backgrounds", MATE.format("Dune"), "8a67c2cb0be8c46b", "Marco Cogoni, Hylke Bons", "GPL-2+"),
    ("mate-FreshFlower", "mate-backgrounds", MATE.format("FreshFlower"), "972b0a0c4e5e3fa9", "Jens Ansorg", "GPL-2+"),
    ("mate-Garden", "mate-backgrounds", MATE.format("Garden"), "d3095ee09d425ef2", "Charles Barbin", "GPL-2+"),
    ("mate-GreenMeadow", "mate-backgrounds", MATE.format("GreenMeadow"), "8fa0de0aa4089f73", "Timothy Schellhase, Lapo Calamandrei", "GPL-2+"),
    ("mate-LadyBird", "mate-backgrounds", MATE.format("LadyBird"), "e35a9a4126ef969c", "Charles Barbin", "GPL-2+"),
    ("mate-RainDrops", "mate-backgrounds", MATE.format("RainDrops"), "3e4ea9671c28c90a", "blackcombwhistler07", "GPL-2+"),
    ("mate-Storm", "mate-backgrounds", MATE.format("Storm"), "77ca53077831d323", "Sergey Nazarov", "GPL-2+"),
    ("mate-TwoWings", "mate-backgrounds", MATE.format("TwoWings"), "665e5abf8a539907", "Charles Barbin, Hylke Bons", "GPL-2+"),
    ("mate-Wood", "mate-backgrounds", MATE.format("Wood"), "19c78500ac00a622", "Jean-François Fortin Tam", "GPL-2+"),
    ("mate-YellowFlower", "mate-backgrounds", MATE.format("YellowFlower"), "254da96256acb7ad", "Charles Barbin", "GPL-2+"),
]
DEFAULT_OUT = ROOT / "scripts/training/data-cache/debian-photos"


def downscale_factor(jpeg_bytes: int, width: int, height: int) -> int:
    bpp = jpeg_bytes * 8 / (width * height)
    return 2 if bpp >= 1.5 else 3 if bpp >= 0.7 else 4


def fetch(out: Path, debs: Path | None = None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if debs is None:
            debs = tmp / "debs"
            debs.mkdir()
            subprocess.run(["apt-get", "download"] + [f"{p}={v}" for p, v in PACKAGES.items()], cwd=debs, check=True)
        for pkg in PACKAGES:
            found = sorted(debs.glob(f"{pkg}_*.deb"))
            if not found:
                raise SystemExit(f"{pkg}: no .deb in {debs}")
            subprocess.run(["dpkg-deb", "-x", str(found[-1]), str(tmp / pkg)], check=True)
        sources = []
        for name, pkg, rel, sha, _author, _licence in PHOTOS:  # check every photo before writing any
            data = (tmp / pkg / rel).read_bytes()
            if not hashlib.sha256(data).hexdigest().startswith(sha):
                raise SystemExit(f"{pkg}: /{rel}: sha256 differs from the pinned one; the package changed")
            sources.append((name, data))
        written = []
        for name, data in sources:
            im = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            h, w = im.shape[:2]
            f = downscale_factor(len(data), w, h)
            small = cv2.resize(im, (w // f, h // f), interpolation=cv2.INTER_AREA)
            dst = out / f"{name}.png"
            tmp_dst = out / f".{name}.tmp.png"
            cv2.imwrite(str(tmp_dst), small)
            tmp_dst.replace(dst)
            written.append(dst)
    (out / "CREDITS.txt").write_text("".join(
        f"{n}.png: {a}; {lic}; from Debian package {p} {PACKAGES[p]}, /{r}\n" for n, p, r, _s, a, lic in PHOTOS))
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--debs", default=None, help="a folder that already holds the two .deb files")
    args = ap.parse_args(argv)
    written = fetch(Path(args.out), Path(args.debs) if args.debs else None)
    print(f"wrote {len(written)} photos to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
