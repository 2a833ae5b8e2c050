"""ultrapost: fixed-point post-processing for tiny face detectors.

Anchor decode, score threshold and NMS in portable fixed-point C (csrc/), bit-exact with a numpy golden model
(ultrapost.golden), with a float64 reference of each reference implementation's decisions (ultrapost.reference).
"""

from ultrapost.blazeface import BlazeFace
from ultrapost.detect import FaceDetector, detect
from ultrapost.detections import Detections
from ultrapost.priors import retinaface_priors, ultraface_priors
from ultrapost.retinaface import RetinaFace
from ultrapost.ultraface import Ultraface

__version__ = "0.1.0"
__all__ = [
    "BlazeFace",
    "Detections",
    "FaceDetector",
    "RetinaFace",
    "Ultraface",
    "detect",
    "retinaface_priors",
    "ultraface_priors",
    "__version__",
]
