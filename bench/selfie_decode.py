"""What decoding a selfie reduced costs search: each real photo over the selfie decode size
(``query_decode_max_pixels``, 4 MP) is analysed twice, as an event photo (decoded up to
16 MP) and as a selfie (decoded to at most 4 MP), and the largest face's descriptors are
compared (Euclidean distance; search's face cut is 0.48, dlib's same-person threshold 0.6),
with the seconds and faces found each way.

Data: every photo over 4 MP in ``../shared/faces`` (the labelled identity photos; no other
real photo here is that large). Run: ``.venv/bin/python bench/selfie_decode.py``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

# `python bench/selfie_decode.py` puts bench/ on sys.path, not the repository root.
REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from common import git_state  # bench/common.py: this directory is on sys.path

from kanta.config import Settings
from kanta.faces.detection import PROFILES
from kanta.faces.pipeline import analyse_image, analysis_settings

SHARED = REPO_ROOT.parent / "shared" / "faces"
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


def large_photos(limit_pixels: int) -> list[Path]:
    """Photos under ``SHARED`` with more than ``limit_pixels`` pixels, by name."""
    found = []
    for path in sorted(SHARED.rglob("*")):
        if path.suffix.lower() in PHOTO_SUFFIXES:
            with Image.open(path) as img:
                if img.width * img.height > limit_pixels:
                    found.append(path)
    return found


def largest(faces: list) -> np.ndarray | None:
    usable = [f for f in faces if not f.excluded]
    return None if not usable else np.asarray(max(usable, key=lambda f: f.bbox.area).descriptor)


def main() -> int:
    settings = Settings()
    limit = PROFILES[settings.detection_profile].query_decode_max_pixels
    photos = large_photos(limit)
    print(f"git {git_state()}; profile {settings.detection_profile}; selfie decode size {limit / 1e6:.0f} MP")
    print(f"{'photo':<28}{'MP':>6}{'faces photo/selfie':>20}{'s photo':>9}{'s selfie':>9}{'largest face moved':>20}")
    moved = []
    for path in photos:
        data = path.read_bytes()
        row = []
        for query in (False, True):
            began = time.perf_counter()
            analysis = analyse_image(data, **analysis_settings(settings, query=query), thumbnails=False)
            row.append((analysis, time.perf_counter() - began))
        (photo, s_photo), (selfie, s_selfie) = row
        a, b = largest(photo.faces), largest(selfie.faces)
        distance = float(np.linalg.norm(a - b)) if a is not None and b is not None else float("nan")
        moved.append(distance)
        with Image.open(path) as img:
            mp = img.width * img.height / 1e6
        print(f"{path.relative_to(SHARED).as_posix():<28}{mp:>6.1f}{len(photo.faces):>10}/{len(selfie.faces):<9}"
              f"{s_photo:>9.2f}{s_selfie:>9.2f}{distance:>20.3f}")
    print(f"largest face moved: median {np.nanmedian(moved):.3f}, max {np.nanmax(moved):.3f} (search's face cut 0.48)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
