"""Extra clean training photographs from Debian's wallpaper packages, downscaled.

    /usr/bin/python3 -m scripts.training.debian_photos [--out scripts/training/data-cache/debian-photos]

BSD200 and T91 (the committed training sets) are small, JPEG-compressed photos. These 50 are
photographs (no renders or paintings; picked by eye) shipped in Debian bookworm's
`plasma-workspace-wallpapers`, `mate-backgrounds`, `lomiri-wallpapers-16.04`, `lomiri-wallpapers-20.04`,
`lxqt-themes`, `sddm-theme-maldives` and `enlightenment-data`, under free licences (below, per photo, as
the packages' `debian/copyright` states them). The script fetches the seven pinned .deb files with
`apt-get download` (Debian's archive is reachable from our machines; about 560 MB, most of it
enlightenment-data), checks each source file's sha256, and writes a PNG per photo, area-downscaled by
2, 3 or 4 depending on how hard the source JPEG was compressed (bits per pixel >= 1.5: x2; >= 0.7:
x3; below: x4), which averages the JPEG blocks and the sensor noise away. The output folder is
ignored by git; the denoiser's config lists it. Every 10th file of it is held out for validation,
like every other training folder.
"""
from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from .data import ROOT, write_atomic

# short name -> (Debian package, version, path of a photo inside it)
PACKAGES = {
    "plasma": ("plasma-workspace-wallpapers", "4:5.27.5-2", "usr/share/wallpapers/{}/contents/images/2560x1600.jpg"),
    "mate": ("mate-backgrounds", "1.26.0-1", "usr/share/backgrounds/mate/nature/{}.jpg"),
    "lomiri16": ("lomiri-wallpapers-16.04", "20.04.0-2", "usr/share/backgrounds/{}.jpg"),
    "lomiri20": ("lomiri-wallpapers-20.04", "20.04.0-2", "usr/share/backgrounds/{}.jpg"),
    "lxqt": ("lxqt-themes", "1.2.0-1", "usr/share/lxqt/wallpapers/{}"),
    "maldives": ("sddm-theme-maldives", "0.19.0-5", "usr/share/sddm/themes/maldives/{}.jpg"),
    # an Eet archive that holds the photo as JPEG streams at several sizes; the largest is taken
    "e": ("enlightenment-data", "0.25.4-2", "usr/share/enlightenment/data/backgrounds/{}.edj"),
}
LXQT = "LGPL-2.1+ (debian/copyright, Files: *; upstream's wallpapers/License says CC-BY-SA-3.0)"
E = "BSD-2-clause (debian/copyright, Files: *)"
E_AUTHOR = "Carsten Haitzler and Enlightenment contributors"

# (package short name, photo, sha256 prefix of the source file, author, licence as debian/copyright states it);
# written as <package>-<photo without extension>.png
PHOTOS = [
    ("plasma", "BytheWater", "c272434ef39f2abf", "Maciej Wiklo", "LGPL-3"),
    ("plasma", "ColorfulCups", "6e0f3a72feb5a4a9", "Dmitri Popov", "LGPL-3"),
    ("plasma", "EveningGlow", "586682dcb362b9f6", "Ian Hex", "LGPL-3"),
    ("plasma", "FallenLeaf", "95603a6560c7e8d5", "Martin Klapetek", "LGPL-3"),
    ("plasma", "Path", "7477457d7f17b736", "Risto Saukonpää", "LGPL-3"),
    ("plasma", "OneStandsOut", "cb507baf1dafdcae", "Risto Saukonpää", "LGPL-3"),
    ("plasma", "summer_1am", "c868b50789591dd4", "Risto Saukonpää", "LGPL-3"),
    ("plasma", "DarkestHour", "8e3703fae3a3c217", "Risto Saukonpää", "LGPL-3"),
    ("plasma", "Grey", "88c31d8944b7e693", "SigiSagi", "LGPL-3"),
    ("mate", "Aqua", "5c30118205982da4", "Charles Barbin", "GPL-2+"),
    ("mate", "Blinds", "f7aac0dcc2e06d04", "Lennart Poettering, Andrea Cimitan", "GPL-2+"),
    ("mate", "Dune", "8a67c2cb0be8c46b", "Marco Cogoni, Hylke Bons", "GPL-2+"),
    ("mate", "FreshFlower", "972b0a0c4e5e3fa9", "Jens Ansorg", "GPL-2+"),
    ("mate", "Garden", "d3095ee09d425ef2", "Charles Barbin", "GPL-2+"),
    ("mate", "GreenMeadow", "8fa0de0aa4089f73", "Timothy Schellhase, Lapo Calamandrei", "GPL-2+"),
    ("mate", "LadyBird", "e35a9a4126ef969c", "Charles Barbin", "GPL-2+"),
    ("mate", "RainDrops", "3e4ea9671c28c90a", "blackcombwhistler07", "GPL-2+"),
    ("mate", "Storm", "77ca53077831d323", "Sergey Nazarov", "GPL-2+"),
    ("mate", "TwoWings", "665e5abf8a539907", "Charles Barbin, Hylke Bons", "GPL-2+"),
    ("mate", "Wood", "19c78500ac00a622", "Jean-François Fortin Tam", "GPL-2+"),
    ("mate", "YellowFlower", "254da96256acb7ad", "Charles Barbin", "GPL-2+"),
    ("lomiri16", "Dragonfly_by_Bolly", "af5af17841009732", "\"Bolly\"", "CC-BY-SA-4.0"),
    ("lomiri16", "Picture_0B_by_freespace", "c8c0ab18e48d9e04", "Trevor \"Freespace\"", "CC-BY-4.0"),
    ("lomiri16", "Wine_by_Jakkub_Mede", "d2e96e6d4da40dd8", "Jakub Mede", "CC-BY-4.0"),
    ("lomiri16", "aitzgorri_by_Aitzol_Berasategi", "66268e7b48f8854d", "Aitzol Berasategi", "CC-BY-4.0"),
    ("lomiri16", "free_by_Peter_Nerlich", "85a5453c2fed514c", "Peter Nerlich", "CC-BY-SA-4.0"),
    ("lomiri16", "friends_by_Aitzol_Berasategi", "cc40e313c74e421e", "Aitzol Berasategi", "CC-BY-4.0"),
    ("lomiri16", "greentock_by_Peter_Nerlich", "e7b20e2db9dcd6e2", "Peter Nerlich", "CC-BY-SA-4.0"),
    ("lomiri16", "life_by_Aitzol_Berasategi", "4c119350ead80201", "Aitzol Berasategi", "CC-BY-4.0"),
    ("lomiri16", "picosdeeuropa_by_Aitzol_Berasategi", "414d0072b2f6f2c5", "Aitzol Berasategi", "CC-BY-4.0"),
    ("lomiri16", "seeding_by_Clements_Engelhardt", "a5634d1ab5e41a35", "Clemens Engelhardt", "CC0-1.0"),
    ("lomiri16", "sunset_by_Aitzol_Berasategi", "474dab6a4b9f94dc", "Aitzol Berasategi", "CC-BY-4.0"),
    ("lomiri20", "Kleiber_by_Lukas_Baubkus", "6572410c09f4492c", "Lukas Baubkus", "CC-BY-SA-3.0"),
    ("lxqt", "beam.png", "3d199194b048cb79", "stefonarch", LXQT),
    ("lxqt", "fog.jpg", "a8235344ee6b5ab1", "stefonarch", LXQT),
    ("lxqt", "after-the-rain.jpg", "e6cb8b3e09b904cc", "stefonarch", LXQT),
    ("lxqt", "this-is-not-windows.jpg", "2d885e0438c0ab24", "stefonarch", LXQT),
    ("lxqt", "flowers.png", "3a935d8be4d6c978", "stefonarch", LXQT),
    ("maldives", "background", "032d28ee4f3d885e", "Nevit Dilmen", "CC-BY-3.0"),
    ("e", "Bamboo", "53ea365cefdf42f4", E_AUTHOR, E),
    ("e", "God-Rays", "95791b71c50280c5", E_AUTHOR, E),
    ("e", "Green-Maple", "78178a3f9af4372a", E_AUTHOR, E),
    ("e", "Lichen-Branches", "2a2f3a09e02dbfa5", E_AUTHOR, E),
    ("e", "Mountain", "9e05a784efaac919", E_AUTHOR, E),
    ("e", "Red-Maple", "53ea5bf96fe8227c", E_AUTHOR, E),
    ("e", "Sea-of-Lanterns", "d880dc109bf6d4eb", E_AUTHOR, E),
    ("e", "Snow-Trees", "09da5c21c6ff0262", E_AUTHOR, E),
    ("e", "Spruce-Needles", "e4ba168d17daffec", E_AUTHOR, E),
    ("e", "Sunset-Clouds", "9b2041d7107f966e", E_AUTHOR, E),
    ("e", "White-Flower", "6e464125ba760eda", E_AUTHOR, E),
]
DEFAULT_OUT = ROOT / "scripts/training/data-cache/debian-photos"


def downscale_factor(jpeg_bytes: int, width: int, height: int) -> int:
    bpp = jpeg_bytes * 8 / (width * height)
    return 2 if bpp >= 1.5 else 3 if bpp >= 0.7 else 4


def source_path(short: str, photo: str) -> str:
    return PACKAGES[short][2].format(photo)


def largest_jpeg(data: bytes) -> bytes:
    """The largest JPEG stream in a file: the file itself, or the biggest one held in an Eet archive (.edj)."""
    if data[:3] == b"\xff\xd8\xff":
        return data
    starts = [m.start() for m in re.finditer(b"\xff\xd8\xff", data)] + [len(data)]
    return max((data[a:b] for a, b in zip(starts, starts[1:])), key=len, default=b"")


def fetch(out: Path, debs: Path | None = None) -> list[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if debs is None:
            debs = tmp / "debs"
            debs.mkdir()
            subprocess.run(["apt-get", "download"] + [f"{p}={v}" for p, v, _path in PACKAGES.values()], cwd=debs,
                           check=True)
        for short, (pkg, *_rest) in PACKAGES.items():
            found = sorted(debs.glob(f"{pkg}_*.deb"))
            if not found:
                raise SystemExit(f"{pkg}: no .deb in {debs}")
            subprocess.run(["dpkg-deb", "-x", str(found[-1]), str(tmp / short)], check=True)
        sources = []
        for short, photo, sha, *_rest in PHOTOS:  # check every photo before writing any
            data = (tmp / short / source_path(short, photo)).read_bytes()
            if not hashlib.sha256(data).hexdigest().startswith(sha):
                raise SystemExit(f"{PACKAGES[short][0]}: /{source_path(short, photo)}: sha256 differs from the "
                                 "pinned one; the package changed")
            sources.append((f"{short}-{Path(photo).stem}", data if photo.endswith(".png") else largest_jpeg(data)))
    written = []
    for name, data in sources:
        im = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        h, w = im.shape[:2]
        f = downscale_factor(len(data), w, h)
        png = cv2.imencode(".png", cv2.resize(im, (w // f, h // f), interpolation=cv2.INTER_AREA))[1]
        write_atomic(out / f"{name}.png", png.tobytes())
        written.append(out / f"{name}.png")
    write_atomic(out / "CREDITS.txt", "".join(
        f"{short}-{Path(photo).stem}.png: {author}; {licence}; from Debian package {PACKAGES[short][0]} "
        f"{PACKAGES[short][1]}, /{source_path(short, photo)}\n" for short, photo, _sha, author, licence in PHOTOS).encode())
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--debs", default=None, help="a folder that already holds the .deb files")
    args = ap.parse_args(argv)
    written = fetch(Path(args.out), Path(args.debs) if args.debs else None)
    print(f"wrote {len(written)} photos to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
