"""Face detection and encoding: pure computation, no Azure or database imports.

``kanta.faces.pipeline`` decodes image bytes, finds faces with dlib's HOG detector and
encodes each as a 128-d descriptor with dlib's ResNet model (the face_recognition pipeline).
dlib is imported lazily, on the first call that needs it.
"""

#: Length of a dlib face descriptor (dlib's ``dlib_face_recognition_resnet_model_v1``: 128
#: float values); the database stores it as ``vector(128)``. The one place this length is set.
DESCRIPTOR_DIM = 128
