"""From a model file and a photo to faces: running the model (runners), recognizing its family (recognize),
pre-processing (preprocess), and ``detect`` / ``FaceDetector`` (detect)."""
