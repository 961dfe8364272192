"""Face detection and encoding: pure computation, no Azure or database imports.

``kanta.faces.pipeline`` decodes image bytes, finds faces with YuNet, places dlib's 5-point
landmarks and encodes each face as a 128-d descriptor with dlib's ResNet model (the
face_recognition encoder). The models are loaded lazily, on the first call that needs them.
"""

#: Length of a dlib face descriptor (dlib's ``dlib_face_recognition_resnet_model_v1``: 128
#: float values); the database stores it as ``vector(128)``. The one place this length is set.
DESCRIPTOR_DIM = 128

#: Which pipeline indexed a photo (``images.pipeline``): YuNet boxes, dlib's 5-point landmarks
#: on them (``kanta.faces.detection``), dlib's ResNet v1 descriptors. Photos indexed by another
#: (``"dlib-hog"``: the HOG detector of earlier versions) are indexed again by the re-index
#: timer. Change it when a change of the pipeline should re-index stored photos.
PIPELINE = "yunet-dlib5-1"
