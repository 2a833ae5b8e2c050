"""ultrapost: fixed-point post-processing for tiny face detectors.

Anchor decode, score threshold and NMS, and the pre-processing of camera frames, in portable fixed-point C
(csrc/), bit-exact with a numpy golden model (ultrapost.golden), with a float64 reference of each reference
implementation's decisions (ultrapost.reference).

Subpackages by role, imports pointing down only: core (the binding, config preparation, priors), golden and
reference (the twins), families (one post-processor per model family), pipeline (from a model file and a photo),
firmware (Cortex-M tooling), bench (timing and peers), cli (the command line).
"""

from ultrapost._version import __version__
from ultrapost.core.detections import Detections
from ultrapost.core.priors import retinaface_priors, ultraface_priors
from ultrapost.families.blazeface import BlazeFace
from ultrapost.families.boxes import nms
from ultrapost.families.retinaface import RetinaFace
from ultrapost.families.ultraface import Ultraface
from ultrapost.families.yunet import YuNet
from ultrapost.pipeline.detect import FaceDetector, detect
from ultrapost.pipeline.preprocessor import Preprocessor, resize, warp_affine, warp_perspective

__all__ = [
    "BlazeFace",
    "Detections",
    "FaceDetector",
    "Preprocessor",
    "RetinaFace",
    "Ultraface",
    "YuNet",
    "detect",
    "nms",
    "resize",
    "warp_affine",
    "warp_perspective",
    "retinaface_priors",
    "ultraface_priors",
    "__version__",
]
