"""Model configurations as firmware data: a :class:`ModelSpec` is one post-processing configuration (family, input
size, thresholds, input kind and int8 quantization, raw or decoded boxes...), the same arguments as
:class:`ultrapost.Ultraface`. It gives the prepared :class:`~ultrapost.core.config.FixedConfig` a firmware compiles
in (``ultrapost codegen``), and the host's config for the same model (float32 inputs never reach a firmware: the
host converts them at the boundary, ``golden.convert_f32``, and the board runs the I32 config of the same model).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from ultrapost.core import config
from ultrapost.core.yunet_config import OUTPUT_NAMES as YUNET_OUTPUTS
from ultrapost.core.yunet_config import YuNetConfig, padded_size
from ultrapost.families.blazeface import BlazeFace
from ultrapost.families.retinaface import RetinaFace
from ultrapost.families.ultraface import Ultraface
from ultrapost.families.yunet import PRESETS as YUNET_PRESETS
from ultrapost.families.yunet import YuNet
from ultrapost.families.yunet_cases import REAL_QUANT as YUNET_QUANT

FAMILIES = ("ultraface", "ultraslim", "blazeface", "yunet", "retinaface_packed")
NMS_KINDS = tuple(config.NMS_KINDS)
INPUT_KINDS = ("s8", "i32", "f32")
ULTRASLIM_QUANT = (1 / 255, -128)  # NXP ultraslim int8 output: one scale and zero point for all six columns
BLAZEFACE_QUANT = ((0.25, 0), (0.5, 0))  # int8 logits and regressors (pixels) of the generated BlazeFace heads
# The shared data's int8-output packed RetinaFace: one scale and zero point for all 16 columns (its metadata).
PACKED_QUANT = (0.10123563557863235, 2)
PACKED_COLUMNS = {"box": 0, "score": 4, "keypoint": 6, "width": 16}  # [loc 4 | conf 2 | landms 10]
_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class ModelSpec:
    """One model configuration, as ultrapost.Ultraface's arguments plus the input kind and its quantization.

    family "ultraslim" is NXP's int8 ultraslim: 128x128, finest level dropped, decoded corners clipped to [0, 1],
    one [172, 6] tensor (scores in columns 0-1, corners in 2-5) with a single scale and zero point. family
    "blazeface" is MediaPipe's BlazeFace (ultrapost.BlazeFace): logits [N, 1] and regressors [N, 16] (box, then
    6 keypoints), anchors of the MediaPipe model of this input size (128: short range, 896; 192: full range, 2304;
    other sizes: the short-range strides). nms, score_test, pixel_size ("+1 pixel" IoU areas) and
    class_thresholds (multi-class Ultraface: one threshold per class column from 1 on, labels out) are the
    post-processors' arguments of the same names. family "yunet" is OpenCV's YuNet (ultrapost.YuNet): input_size
    is the frame (padded to multiples of 32), candidate_limit is top_k (None: all), preset "opencv" or
    "single-test"; int8 (s8) outputs with each output's scale and zero point (tensor_quant: ((name, scale,
    zero_point), ...) for the 12 outputs; default: those of the int8out model in the shared data) or float32 (f32),
    which the firmware reads natively (as float32 bit patterns, in integers). family "retinaface_packed" is
    Pytorch_Retinaface mobilenet0.25's one packed output (rows [loc 4 | class logits 2 | landmarks 10], its priors
    at input_size, ultrapost.RetinaFace; :meth:`retinaface_packed` gives detect.py's decisions), read in place
    through up_run_keypoints; int8 with one scale and zero point for all 16 columns (score_quant == box_quant).
    """

    name: str = "ultraface"
    family: str = "ultraface"
    input_size: tuple[int, int] = (320, 240)
    input_kind: str = "s8"
    score_threshold: float = 0.7
    iou_threshold: float = 0.3
    candidate_limit: int | None = 200
    max_detections: int | None = None
    priors: str = "trained"
    drop_finest_level: bool = False
    logits: bool = False
    decoded: bool = False
    clip: bool = False
    score_quant: tuple[float, int] | None = (1 / 256, -128)
    box_quant: tuple[float, int] | None = (0.04, 0)
    nms: str = "hard"
    score_test: str = ">"
    pixel_size: tuple[int, int] | None = None
    class_thresholds: tuple[float, ...] | None = None
    soft_sigma: float = 0.5
    eps: float | None = None  # IoU epsilon (Ultraface's eps); None: the family's default
    preset: str | None = None  # yunet: "opencv" (the default) or "single-test"
    tensor_quant: tuple[tuple[str, float, int], ...] | None = None  # yunet s8: (output, scale, zero point) x 12

    def __post_init__(self):
        if self.family == "yunet":
            self._check_yunet()
            return
        if self.family == "retinaface_packed":
            bad = {
                "--decoded": self.decoded,
                "--drop-finest-level": self.drop_finest_level,
                "--clip": self.clip,
                "--class-thresholds": self.class_thresholds is not None,
                "--priors stride": self.priors != "trained",
            }
            if any(bad.values()):
                raise ValueError(
                    "retinaface_packed has Pytorch_Retinaface's priors, raw deltas and one face class: no "
                    + ", ".join(k for k, v in bad.items() if v)
                )
            if self.input_kind == "s8" and (
                self.score_quant is None or tuple(self.score_quant) != tuple(self.box_quant)
            ):
                raise ValueError("a packed int8 output has one scale and zero point for all its columns")
        if not _NAME_RE.match(self.name):
            raise ValueError(f"name must be a lower-case C identifier (it prefixes the C names), got {self.name!r}")
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")
        if self.input_kind not in INPUT_KINDS:
            raise ValueError(f"input kind must be one of {INPUT_KINDS}, got {self.input_kind!r}")
        if self.nms not in NMS_KINDS:
            raise ValueError(f"nms must be one of {NMS_KINDS}, got {self.nms!r}")
        if self.score_test not in (">", ">="):
            raise ValueError(f"score test must be '>' or '>=', got {self.score_test!r}")
        if self.family == "blazeface" and (self.logits or self.decoded or self.class_thresholds or self.pixel_size):
            raise ValueError("blazeface has its own score and box kinds: no --logits, --decoded, classes or pads")
        if self.family == "blazeface" and self.eps is not None:
            raise ValueError("blazeface's IoU has no epsilon: no --eps")
        if self.class_thresholds is not None and (self.logits or self.family != "ultraface"):
            raise ValueError("class thresholds (multi-class) need an ultraface head with probabilities")
        if self.family == "ultraslim" and (self.logits or not self.decoded):
            raise ValueError("ultraslim holds probabilities and decoded corners: no --logits, and --decoded is implied")
        if self.logits and self.decoded:
            raise ValueError("logits with decoded boxes is not an Ultraface head: choose --logits or --decoded")
        if self.input_kind == "s8" and (self.score_quant is None or self.box_quant is None):
            raise ValueError("int8 inputs need the score and box quantization (scale and zero point)")
        if self.single_tensor and self.input_kind == "s8" and tuple(self.score_quant) != tuple(self.box_quant):
            raise ValueError("ultraslim is one int8 tensor: its scores and boxes share one scale and zero point")

    def _check_yunet(self):
        if not _NAME_RE.match(self.name):
            raise ValueError(f"name must be a lower-case C identifier (it prefixes the C names), got {self.name!r}")
        if self.input_kind not in ("s8", "f32"):
            raise ValueError(f"yunet outputs are int8 (s8) or float32 (f32), got {self.input_kind!r}")
        if self.preset not in (None, *YUNET_PRESETS):
            raise ValueError(f"yunet preset must be one of {tuple(YUNET_PRESETS)}, got {self.preset!r}")
        others = {
            "--logits": self.logits,
            "--decoded": self.decoded,
            "--clip": self.clip,
            "--drop-finest-level": self.drop_finest_level,
            "--pixel-size": self.pixel_size is not None,
            "--class-thresholds": self.class_thresholds is not None,
            "--eps": self.eps is not None,
            "--priors stride": self.priors != "trained",
            f"--nms {self.nms}": self.nms != "hard",
            "--score-test >=": self.score_test != ">",
            "--score-scale / --box-scale": self.score_quant is not None or self.box_quant is not None,
        }
        bad = [k for k, v in others.items() if v]
        if bad:
            raise ValueError(
                "yunet has its own decode, tests and NMS (--yunet-preset opencv or single-test) and a quantization "
                "per output: no " + ", ".join(bad)
            )
        if self.tensor_quant is not None:
            names = [q[0] for q in self.tensor_quant]
            if sorted(names) != sorted(YUNET_OUTPUTS):
                raise ValueError(f"tensor_quant must name each of {', '.join(YUNET_OUTPUTS)} once, got {names}")
            if self.input_kind != "s8":
                raise ValueError("tensor_quant is the int8 outputs' quantization: --input-kind s8")

    @classmethod
    def yunet(cls, name: str = "yunet", **overrides) -> ModelSpec:
        """OpenCV's YuNet with FaceDetectorYN's defaults (score 0.9, NMS 0.3, top_k 5000) on a 320x320 frame, int8
        outputs quantized as the shared data's int8out model."""
        base = dict(
            name=name,
            family="yunet",
            input_size=(320, 320),
            input_kind="s8",
            score_threshold=0.9,
            iou_threshold=0.3,
            candidate_limit=5000,
            score_quant=None,
            box_quant=None,
            preset="opencv",
        )
        base.update(overrides)
        return cls(**base)

    @classmethod
    def retinaface_packed(cls, name: str = "retinaface_packed", **overrides) -> ModelSpec:
        """Pytorch_Retinaface mobilenet0.25's packed output at 640x640 with detect.py's decisions (p > 0.02, the
        5000 best, py_cpu_nms at 0.4 with "+1 pixel" areas on the input grid, 750 kept), class logits, int8 as the
        shared data's int8-output model; "+1 pixel" areas follow input_size unless pixel_size is given."""
        size = overrides.get("input_size", (640, 640))
        base = dict(
            name=name,
            family="retinaface_packed",
            input_size=size,
            input_kind="s8",
            score_threshold=0.02,
            iou_threshold=0.4,
            candidate_limit=5000,
            max_detections=750,
            logits=True,
            eps=0.0,
            pixel_size=tuple(size),
            score_quant=PACKED_QUANT,
            box_quant=PACKED_QUANT,
        )
        base.update(overrides)
        return cls(**base)

    @classmethod
    def ultraslim(cls, name: str = "ultraslim", **overrides) -> ModelSpec:
        """NXP's ultraslim with its NXP example's threshold (p_face > 0.5)."""
        base = dict(
            name=name,
            family="ultraslim",
            input_size=(128, 128),
            input_kind="s8",
            score_threshold=0.5,
            drop_finest_level=True,
            decoded=True,
            clip=True,
            score_quant=ULTRASLIM_QUANT,
            box_quant=ULTRASLIM_QUANT,
        )
        base.update(overrides)
        return cls(**base)

    @classmethod
    def blazeface(cls, name: str = "blazeface", **overrides) -> ModelSpec:
        """MediaPipe's BlazeFace short range (128x128, 896 anchors; 192x192: full range, 2304): weighted NMS at
        0.3, score >= 0.5, the 200 best candidates; int8 logits scale 1/4 and regressors scale 1/2 (pixels)."""
        base = dict(
            name=name,
            family="blazeface",
            input_size=(128, 128),
            input_kind="s8",
            score_threshold=0.5,
            nms="weighted",
            score_test=">=",
            score_quant=BLAZEFACE_QUANT[0],
            box_quant=BLAZEFACE_QUANT[1],
        )
        base.update(overrides)
        return cls(**base)

    @property
    def single_tensor(self) -> bool:
        return self.family == "ultraslim"

    @property
    def num_classes(self) -> int:
        """Score columns per row."""
        if self.family == "blazeface":
            return 1
        return 2 if self.class_thresholds is None else 1 + len(self.class_thresholds)

    @property
    def num_keypoints(self) -> int:
        return 6 if self.family == "blazeface" else 5 if self.family in ("yunet", "retinaface_packed") else 0

    @property
    def box_columns(self) -> int:
        return 4 + 2 * self.num_keypoints

    def processor(self):
        """The post-processor this spec describes: an ultrapost.Ultraface, ultrapost.BlazeFace or ultrapost.YuNet."""
        if self.family == "yunet":
            return YuNet(
                self.input_size,
                score_threshold=self.score_threshold,
                iou_threshold=self.iou_threshold,
                top_k=0 if self.candidate_limit is None else self.candidate_limit,
                preset=self.preset or "opencv",
                max_detections=self.max_detections,
            )
        if self.family == "retinaface_packed":
            return RetinaFace.model(
                "mnet",
                self.input_size,
                score_threshold=self.score_threshold,
                iou_threshold=self.iou_threshold,
                nms=self.nms,
                candidate_limit=self.candidate_limit,
                max_detections=self.max_detections,
                eps=0.0 if self.eps is None else self.eps,
                pixel_size=self.pixel_size,
                score_test=self.score_test,
                logits=self.logits,
                soft_sigma=self.soft_sigma,
            )
        if self.family == "blazeface":
            return BlazeFace(
                self.input_size,
                score_threshold=self.score_threshold,
                iou_threshold=self.iou_threshold,
                nms=self.nms,
                score_test=self.score_test,
                candidate_limit=self.candidate_limit,
                max_detections=self.max_detections,
                soft_sigma=self.soft_sigma,
            )
        return Ultraface(
            self.input_size,
            score_threshold=self.score_threshold,
            iou_threshold=self.iou_threshold,
            candidate_limit=self.candidate_limit,
            max_detections=self.max_detections,
            priors=self.priors,
            drop_finest_level=self.drop_finest_level,
            logits=self.logits,
            clip=self.clip,
            nms=self.nms,
            pixel_size=self.pixel_size,
            score_test=self.score_test,
            soft_sigma=self.soft_sigma,
            class_thresholds=self.class_thresholds,
            **({} if self.eps is None else {"eps": self.eps}),
        )

    def quantization(self):
        if self.input_kind != "s8":
            return None
        if self.family == "yunet":
            if self.tensor_quant is None:
                return dict(YUNET_QUANT)
            return {k: (float(scale), int(zp)) for k, scale, zp in self.tensor_quant}
        if self.family == "retinaface_packed":  # conf, loc, landms: the one tensor's scale and zero point
            return (tuple(self.score_quant),) * 3
        return (tuple(self.score_quant), tuple(self.box_quant))

    def host_config(self, pp=None):
        """(FixedConfig, Core) for the spec's own input kind (F32 for float inputs); yunet: (YuNetConfig,
        YuNetCore), the same on the host and the firmware."""
        pp = pp or self.processor()
        if self.family == "yunet":
            kind = config.INPUT_S8 if self.input_kind == "s8" else config.INPUT_F32
            return pp.config(kind, padded_size(*self.input_size), self.quantization())
        if self.family in ("blazeface", "retinaface_packed"):
            return pp.config(self.input_kind, self.quantization())
        return pp.config(self.input_kind, self.decoded, self.quantization())

    def firmware_config(self, pp=None):
        """(FixedConfig, Core) a firmware runs: the spec's, with I32 in place of F32 (converted on the host)."""
        pp = pp or self.processor()
        if self.family == "yunet":
            return self.host_config(pp)
        kind = "i32" if self.input_kind == "f32" else self.input_kind
        quant = self.quantization() if kind == "s8" else None
        if self.family in ("blazeface", "retinaface_packed"):
            return pp.config(kind, quant)
        return pp.config(kind, self.decoded, quant)

    def describe(self) -> str:
        w, h = self.input_size
        if self.family == "yunet":
            pw, ph = padded_size(w, h)
            quant = (
                ""
                if self.input_kind != "s8"
                else (", int8 quantization of the int8out model" if self.tensor_quant is None else ", int8 per output")
            )
            return (
                f"yunet {w}x{h} (padded {pw}x{ph}), input {self.input_kind}, preset {self.preset or 'opencv'}, "
                f"score {self.score_threshold}, NMS {self.iou_threshold}, top_k {self.candidate_limit}, "
                f"max detections {self.max_detections}, 5 landmarks{quant}"
            )
        parts = [
            f"{self.family} {w}x{h}",
            f"input {self.input_kind}" + (" (host-converted to i32)" if self.input_kind == "f32" else ""),
        ]
        if self.family == "blazeface":
            parts += ["clipped logits, linear decode, 6 keypoints"]
        elif self.family == "retinaface_packed":
            n = self.processor().num_anchors
            parts += [
                f"packed [{n}, 16] rows (loc 4, conf 2, landms 10), mobilenet0.25 priors, 5 landmarks",
                "logits" if self.logits else "probabilities",
            ]
        else:
            parts += [
                "decoded corners" if self.decoded else f"raw deltas, {self.priors} priors",
                "logits" if self.logits else "probabilities",
            ]
        if self.class_thresholds is not None:
            parts.append("classes > " + "/".join(str(t) for t in self.class_thresholds) + " with labels")
        else:
            parts.append(f"score {self.score_test} {self.score_threshold}")
        parts += [
            f"{self.nms} NMS at IoU {self.iou_threshold}",
            f"candidates {self.candidate_limit}",
            f"max detections {self.max_detections}",
        ]
        if self.drop_finest_level:
            parts.append("finest level dropped")
        if self.clip:
            parts.append("clip [0, 1]")
        if self.pixel_size is not None:
            parts.append("+1 pixel areas on {}x{}".format(*self.pixel_size))
        if self.eps is not None:
            parts.append(f"IoU eps {self.eps!r}")
        if self.input_kind == "s8" and self.family == "retinaface_packed":
            parts.append(f"int8 scale/zp {self.score_quant[0]!r}/{self.score_quant[1]} (all columns)")
        elif self.input_kind == "s8":
            parts.append(f"score scale/zp {self.score_quant[0]!r}/{self.score_quant[1]}")
            parts.append(f"box scale/zp {self.box_quant[0]!r}/{self.box_quant[1]}")
        return ", ".join(parts)

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


# Status codes of up_run (csrc/ultrapost.h) that vector records test on purpose.
UP_ERR_SCRATCH, UP_ERR_OUTPUT, UP_ERR_STRIDE, UP_ERR_RANGE = -3, -4, -5, -8


def scratch_size(config) -> int:
    """up_scratch_size of a valid config as csrc/ultrapost.h documents it: per candidate 4 bytes (hard NMS), 20
    (blending, weighted) or 24 (soft-NMS). This is what a firmware allocates; the host binding's Core.scratch_bytes
    may be larger (room for its faster hard NMS). The board harness reports the C's own value in the stats file,
    and the board checks compare the two. YuNet (up_yunet_scratch_size): 8 bytes per top_k candidate and 16 per
    output."""
    if isinstance(config, YuNetConfig):
        return 8 * int(config.top_k) + 16 * int(config.max_detections)
    nms = int(config.nms_kind)
    per = 4 if nms == 0 else 20 if nms in (1, 2) else 24
    return int(config.candidate_limit) * per
