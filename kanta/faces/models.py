"""dlib's face models, loaded on first use, once per process.

Weights come from the ``face-recognition-models`` wheel (the files face_recognition uses):
the 5-point landmark model, run by dlib, and ResNet face recognition model v1 (128-d
descriptors, 99.38% on LFW per dlib's documentation), run by ``kanta.faces.encoder`` with
NumPy. The face detector is YuNet (``kanta.faces.detection``), whose weights are compiled
into its library.
"""

from __future__ import annotations

import functools
from importlib import resources

import threadpoolctl

from kanta.faces.encoder import ResNetEncoder


class Models:
    """dlib's 5-point shape predictor (``dlib`` is the module) and the ResNet encoder
    (``kanta.faces.encoder.ResNetEncoder``)."""

    def __init__(self) -> None:
        import dlib  # heavy (C++ extension); only in workers that compute faces

        self.dlib = dlib
        # One BLAS thread per analysis: the Functions worker runs several analyses at once on
        # its thread pool, and two analyses with one thread each encoded faces 2x as fast as
        # with two threads each on 2 cores, which gained 17% for a lone analysis
        # (bench/README.md, "Face detection"). Process-wide, set once, before the first product.
        threadpoolctl.threadpool_limits(1, user_api="blas")
        folder = resources.files("face_recognition_models") / "models"
        self.shape_predictor = dlib.shape_predictor(str(folder / "shape_predictor_5_face_landmarks.dat"))
        self.encoder = ResNetEncoder.load(str(folder / "dlib_face_recognition_resnet_model_v1.dat"))


@functools.cache
def models() -> Models:
    """Return the process-wide models, loading them on first call (about 1 s)."""
    return Models()
