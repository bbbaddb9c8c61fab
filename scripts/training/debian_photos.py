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

from .data import ROOT, write_atomic

# short name -> (Debian package, version, path of a photo inside it, licence)
PACKAGES = {
    "plasma": ("plasma-workspace-wallpapers", "4:5.27.5-2", "usr/share/wallpapers/{}/contents/images/2560x1600.jpg", "LGPL-3"),
    "mate": ("mate-backgrounds", "1.26.0-1", "usr/share/backgrounds/mate/nature/{}.jpg", "GPL-2+"),
}

# (package short name, photo, sha256 prefix of the source file, author); written as <package>-<photo>.png
PHOTOS = [
    ("plasma", "BytheWater", "c272434ef39f2abf", "Maciej Wiklo"),
    ("plasma", "ColorfulCups", "6e0f3a72feb5a4a9", "Dmitri Popov"),
    ("plasma", "EveningGlow", "586682dcb362b9f6", "Ian Hex"),
    ("plasma", "FallenLeaf", "95603a6560c7e8d5", "Martin Klapetek"),
    ("plasma", "Path", "7477457d7f17b736", "Risto Saukonpää"),
    ("plasma", "OneStandsOut", "cb507baf1dafdcae", "Risto Saukonpää"),
    ("plasma", "summer_1am", "c868b50789591dd4", "Risto Saukonpää"),
    ("plasma", "DarkestHour", "8e3703fae3a3c217", "Risto Saukonpää"),
    ("plasma", "Grey", "88c31d8944b7e693", "SigiSagi"),
    ("mate", "Aqua", "5c30118205982da4", "Charles Barbin"),
    ("mate", "Blinds", "f7aac0dcc2e06d04", "Lennart Poettering, Andrea Cimitan"),
    ("mate", "Dune", "8a67c2cb0be8c46b", "Marco Cogoni, Hylke Bons"),
    ("mate", "FreshFlower", "972b0a0c4e5e3fa9", "Jens Ansorg"),
    ("mate", "Garden", "d3095ee09d425ef2", "Charles Barbin"),
    ("mate", "GreenMeadow", "8fa0de0aa4089f73", "Timothy Schellhase, Lapo Calamandrei"),
    ("mate", "LadyBird", "e35a9a4126ef969c", "Charles Barbin"),
    ("mate", "RainDrops", "3e4ea9671c28c90a", "blackcombwhistler07"),
    ("mate", "Storm", "77ca53077831d323", "Sergey Nazarov"),
    ("mate", "TwoWings", "665e5abf8a539907", "Charles Barbin, Hylke Bons"),
    ("mate", "Wood", "19c78500ac00a622", "Jean-François Fortin Tam"),
    ("mate", "YellowFlower", "254da96256acb7ad", "Charles Barbin"),
]
DEFAULT_OUT = ROOT / "scripts/training/data-cache/debian-photos"


def downscale_factor(jpeg_bytes: int, width: int, height: int) -> int:
    bpp = jpeg_bytes * 8 / (width * height)
    return 2 if bpp >= 1.5 else 3 if bpp >= 0.7 else 4


def source_path(short: str, photo: str) -> str:
    return PACKAGES[short][2].format(photo)


def fetch(out: Path, debs: Path | None = None) -> list[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if debs is None:
            debs = tmp / "debs"
            debs.mkdir()
            subprocess.run(["apt-get", "download"] + [f"{p}={v}" for p, v, *_ in PACKAGES.values()], cwd=debs, check=True)
        for short, (pkg, *_rest) in PACKAGES.items():
            found = sorted(debs.glob(f"{pkg}_*.deb"))
            if not found:
                raise SystemExit(f"{pkg}: no .deb in {debs}")
            subprocess.run(["dpkg-deb", "-x", str(found[-1]), str(tmp / short)], check=True)
        sources = []
        for short, photo, sha, _author in PHOTOS:  # check every photo before writing any
            data = (tmp / short / source_path(short, photo)).read_bytes()
            if not hashlib.sha256(data).hexdigest().startswith(sha):
                raise SystemExit(f"{PACKAGES[short][0]}: /{source_path(short, photo)}: sha256 differs from the "
                                 "pinned one; the package changed")
            sources.append((f"{short}-{photo}", data))
    written = []
    for name, data in sources:
        im = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        h, w = im.shape[:2]
        f = downscale_factor(len(data), w, h)
        png = cv2.imencode(".png", cv2.resize(im, (w // f, h // f), interpolation=cv2.INTER_AREA))[1]
        write_atomic(out / f"{name}.png", png.tobytes())
        written.append(out / f"{name}.png")
    write_atomic(out / "CREDITS.txt", "".join(
        f"{short}-{photo}.png: {author}; {PACKAGES[short][3]}; from Debian package {PACKAGES[short][0]} "
        f"{PACKAGES[short][1]}, /{source_path(short, photo)}\n" for short, photo, _sha, author in PHOTOS).encode())
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
