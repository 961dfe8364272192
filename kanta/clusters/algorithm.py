"""Clustering of face descriptors into people: pure computation, no Azure or database.

DBSCAN (Ester et al., KDD 1996; scikit-learn ``sklearn.cluster.DBSCAN``) on Euclidean
distance between dlib descriptors: faces closer than ``eps`` are neighbours, a face with
at least ``min_samples - 1`` neighbours starts or extends a cluster, the rest are noise.
"""

from __future__ import annotations

import numpy as np

#: Label of faces that belong to no cluster.
NOISE = -1


def cluster_descriptors(descriptors: np.ndarray, *, eps: float, min_samples: int) -> np.ndarray:
    """Label each descriptor with a cluster id (``0..k-1``) or ``NOISE``.

    ``descriptors``: float array of shape ``(n, 128)``. Returns ``int64`` of shape ``(n,)``.
    Cluster ids are numbered in order of each cluster's first face in the input, so the same
    input gives the same ids.
    """
    if len(descriptors) == 0:
        return np.empty(0, dtype=np.int64)
    # Imported here: scikit-learn costs ~1 s of import that HTTP-only workers never need.
    from sklearn.cluster import DBSCAN

    labels = DBSCAN(eps=eps, min_samples=min_samples, metric="euclidean").fit_predict(
        np.asarray(descriptors, dtype=np.float64)
    )
    return labels.astype(np.int64)
