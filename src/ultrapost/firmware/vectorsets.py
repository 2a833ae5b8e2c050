"""Exported test-vector sets that run on a board: generated inputs of a :class:`~ultrapost.firmware.spec.ModelSpec`
with the golden model's outputs (``ultrapost vectors``), and the built-in suite of ``ultrapost firmware-check``.

float32 inputs never reach a firmware: the host converts them at the boundary (``golden.convert_f32``: probabilities
Q30, logits and boxes Q20, rounded half up and clamped) and the board runs the int32 fixed-point tensors with the
I32 config of the same model. The export checks that the golden model gives the same outputs both ways.

A vector set is a directory::

    configs.h, cfg_<name>.h   the configs (ultrapost.firmware.write_config_dir); config id = order in configs.h
    vectors.bin               inputs, UPVEC001 (UPVEC002 with a packed RetinaFace's keypoint rows; firmware/README.md)
    expected.bin              the golden model's outputs, UPOUT002 (error records: the core's status)
    vectors.h                 the same inputs and outputs as const C arrays, for a self-test on a real board
    manifest.json             what each config and record is
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ultrapost import golden
from ultrapost.core._core import run_raw
from ultrapost.core.config import OutOfRangeError
from ultrapost.families.yunet_cases import MODES as YUNET_MODES
from ultrapost.firmware.formats import (
    OutputRecord,
    VectorRecord,
    read_outputs,
    read_vectors,
    write_outputs,
    write_vectors,
)
from ultrapost.firmware.headers import write_config_dir
from ultrapost.firmware.inputs import float_inputs, spec_inputs, yunet_outputs
from ultrapost.firmware.spec import (
    PACKED_COLUMNS,
    UP_ERR_OUTPUT,
    UP_ERR_RANGE,
    UP_ERR_SCRATCH,
    UP_ERR_STRIDE,
    ModelSpec,
    scratch_size,
)
from ultrapost.golden import yunet as golden_yunet

SET_FILES = ("configs.h", "vectors.bin", "expected.bin", "vectors.h", "manifest.json")


# ---------------------------------------------------------------------------------------------------------------------
# Records


@dataclass
class Record:
    """One vector: the firmware's input record and the expected output, with a name for reports."""

    name: str
    config: str
    vector: VectorRecord
    expected: OutputRecord

    def info(self) -> dict:
        v = self.vector
        return {
            "name": self.name,
            "config": self.config,
            "config_id": v.config_id,
            "element_size": v.element_size,
            "elements": int(v.data.size),
            "capacity": v.capacity,
            "scratch_bytes": v.scratch_bytes,
            "expected_status": self.expected.status,
            "expected_detections": len(self.expected),
        }


def output_of(run, args, num_keypoints: int = 0, has_labels: bool = False) -> OutputRecord:
    """The output record of a host or golden run, or the status the core returns when the run refuses a value out
    of range (UP_ERR_RANGE)."""
    try:
        return OutputRecord.of(run(*args), num_keypoints, has_labels)
    except OutOfRangeError:
        return OutputRecord.error(UP_ERR_RANGE, num_keypoints, has_labels)


def _golden_output(fc, scores, boxes) -> OutputRecord:
    return output_of(golden.run, (fc, scores, boxes), int(fc.num_keypoints), int(fc.num_labels) > 0)


def records_for(spec: ModelSpec, config_id: int, inputs, *, error_records: bool = True) -> list[Record]:
    """Records for each (label, scores, boxes) in inputs (the spec's input kind), expected from the golden model.

    f32 inputs become the int32 tensors of the host boundary conversion; the expected output is the golden
    model's on the float inputs, checked equal to its output on the converted ones. error_records adds records
    the core must refuse with its documented status: one output row short, 4 bytes of scratch short, and a score
    row stride below the row width. Keypoints (BlazeFace) stay in the box rows, after the 4 box values.
    """

    if spec.family == "yunet":
        raise ValueError("YuNet records come from yunet_records (its 12 outputs by name)")
    if spec.family == "retinaface_packed":
        raise ValueError("packed RetinaFace records come from packed_records (one [N, 16] tensor each)")
    pp = spec.processor()
    fc_host, _ = spec.host_config(pp)
    fc_fw, core_fw = spec.firmware_config(pp)
    nkp, labels = int(fc_fw.num_keypoints), int(fc_fw.num_labels) > 0
    out = []
    first = None
    for label, scores, boxes in inputs:
        expected = _golden_output(fc_host, scores, boxes)
        if spec.input_kind == "f32":
            boxes = np.asarray(boxes)
            s, b, k = golden.convert_f32(fc_host, scores, boxes[:, :4], boxes[:, 4:] if nkp else None)
            scores = np.asarray(s, np.int32)
            boxes = np.asarray(b if k is None else np.concatenate([b, k], axis=1), np.int32)
            if not _golden_output(fc_fw, scores, boxes).equals(expected):
                raise RuntimeError(f"{spec.name}/{label}: the golden model differs on the converted float inputs")
        scores, boxes = np.asarray(scores), np.asarray(boxes)
        if spec.single_tensor:
            vec = VectorRecord.single_tensor(config_id, np.concatenate([scores, boxes], axis=1))
        else:
            vec = VectorRecord.separate(config_id, scores, boxes)
        out.append(Record(f"{spec.name}/{label}", spec.name, vec, expected))
        if first is None:
            first = (vec, scores, boxes)
    if error_records and first is not None:
        vec, scores, boxes = first
        rows = int(fc_fw.max_detections) * max(int(fc_fw.num_labels), 1)
        cases = (
            ("error_capacity", rows - 1, -1, UP_ERR_OUTPUT),
            ("error_scratch", -1, scratch_size(fc_fw) - 4, UP_ERR_SCRATCH),
        )
        for label, cap, scratch, documented in cases:
            status = documented
            if not nkp and not labels:  # the binding's raw call has no keypoint or label buffers
                status = int(
                    run_raw(
                        core_fw,
                        scores,
                        boxes,
                        core_fw.scratch_bytes if scratch < 0 else scratch,
                        rows if cap < 0 else cap,
                    )
                )
            bad = dataclasses.replace(vec, capacity=cap, scratch_bytes=scratch)
            out.append(Record(f"{spec.name}/{label}", spec.name, bad, OutputRecord.error(status, nkp, labels)))
        bad = dataclasses.replace(vec, score_stride=fc_fw.num_classes - 1)
        err = OutputRecord.error(UP_ERR_STRIDE, nkp, labels)
        out.append(Record(f"{spec.name}/error_stride", spec.name, bad, err))
    return out


def yunet_records(spec: ModelSpec, config_id: int, inputs, *, error_records: bool = True) -> list[Record]:
    """Records for each (label, outputs) in inputs (YuNet's 12 outputs by name, int8 or float32 as the spec's input
    kind), expected from the golden model; error_records adds one output row short and 4 bytes of scratch short."""
    pp = spec.processor()
    fc, _ = spec.firmware_config(pp)
    out = []
    for label, outputs in inputs:
        kind, pad, _, _, t = pp.tensors(outputs, spec.quantization())
        if kind != fc.input_kind or pad != (fc.pad_w, fc.pad_h):
            raise ValueError(f"{spec.name}/{label}: outputs of another input kind or frame size")
        expected = OutputRecord.of(golden_yunet.run(fc, t), 5)
        out.append(Record(f"{spec.name}/{label}", spec.name, VectorRecord.yunet(config_id, t), expected))
    if error_records and out:
        vec = out[0].vector
        for label, cap, scratch, status in (
            ("error_capacity", int(fc.max_detections) - 1, -1, UP_ERR_OUTPUT),
            ("error_scratch", -1, scratch_size(fc) - 4, UP_ERR_SCRATCH),
        ):
            bad = dataclasses.replace(vec, capacity=cap, scratch_bytes=scratch)
            out.append(Record(f"{spec.name}/{label}", spec.name, bad, OutputRecord.error(status, 5)))
    return out


def _views(packed):
    c = PACKED_COLUMNS
    return packed[:, c["score"] : c["score"] + 2], packed[:, : c["score"]], packed[:, c["keypoint"] :]


def packed_records(spec: ModelSpec, config_id: int, inputs, *, error_records: bool = True) -> list[Record]:
    """Records for each (label, packed) in inputs: one [N, 16] tensor ([1, N, 16] accepted) of the spec's input kind,
    rows [loc 4 | conf 2 | landms 10] read in place (views with row stride 16: VectorRecord.packed, up_run_keypoints).

    float32 tensors become the int32 tensor of the host boundary conversion, still packed; the expected output is
    the golden model's on the float views, checked equal to its output on the converted ones and to the host C's.
    error_records adds one output row short, 4 bytes of scratch short, a score row stride below 2 and a keypoint
    row stride below 10 (each the core's documented status)."""
    pp = spec.processor()
    fc_host, core_host = spec.host_config(pp)
    fc_fw, _ = spec.firmware_config(pp)
    width = PACKED_COLUMNS["width"]
    out = []
    for label, packed in inputs:
        packed = np.asarray(packed)
        if packed.ndim == 3 and packed.shape[0] == 1:
            packed = packed[0]
        if packed.shape != (pp.num_anchors, width):
            raise ValueError(f"{spec.name}/{label}: expected [{pp.num_anchors}, {width}], got {packed.shape}")
        views = _views(packed)
        expected = output_of(golden.run, (fc_host, *views), 5)
        if not output_of(core_host.run_full, views, 5).equals(expected):
            raise RuntimeError(f"{spec.name}/{label}: the host C differs from the golden model")
        if spec.input_kind == "f32":
            s, b, k = golden.convert_f32(fc_host, *views)
            packed = np.ascontiguousarray(np.concatenate([b, s, k], axis=1), np.int32)
            if not output_of(golden.run, (fc_fw, *_views(packed)), 5).equals(expected):
                raise RuntimeError(f"{spec.name}/{label}: the golden model differs on the converted float inputs")
        c = PACKED_COLUMNS
        vec = VectorRecord.packed(
            config_id, packed, box_column=c["box"], score_column=c["score"], keypoint_column=c["keypoint"]
        )
        out.append(Record(f"{spec.name}/{label}", spec.name, vec, expected))
    if error_records and out:
        vec = out[0].vector
        errors = (
            ("error_capacity", dict(capacity=int(fc_fw.max_detections) - 1), UP_ERR_OUTPUT),
            ("error_scratch", dict(scratch_bytes=scratch_size(fc_fw) - 4), UP_ERR_SCRATCH),
            ("error_stride", dict(score_stride=1), UP_ERR_STRIDE),
            ("error_keypoint_stride", dict(keypoint_stride=9), UP_ERR_STRIDE),
        )
        for label, change, status in errors:
            bad = dataclasses.replace(vec, **change)
            out.append(Record(f"{spec.name}/{label}", spec.name, bad, OutputRecord.error(status, 5)))
    return out


def generated_packed(spec: ModelSpec, cases: int, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """`cases` generated packed tensors of the spec's input kind (ultrapost.families.cases.packed_case: the
    mobilenet0.25 priors at the spec's size, scores against its threshold), case i from (seed, i); int8 with the
    spec's one scale and zero point for the 16 columns, as the int8-output model."""
    from ultrapost.families.cases import PACKED_MODES, packed_case

    out = []
    for i in range(cases):
        mode = PACKED_MODES[i % len(PACKED_MODES)]
        case_seed = int(np.random.default_rng([seed, i]).integers(2**31))
        packed = packed_case(case_seed, spec.input_size, mode, spec.score_threshold, spec.logits)
        if spec.input_kind == "s8":
            scale, zp = spec.score_quant
            packed = np.clip(np.round(packed / scale) + zp, -128, 127).astype(np.int8)
        elif spec.input_kind == "i32":
            q = np.full(16, 20)  # deltas, logits and landmarks Q20; probabilities Q30
            q[4:6] = 20 if spec.logits else 30
            packed = np.clip(np.floor(packed.astype(np.float64) * 2.0**q + 0.5), -(2**31), 2**31 - 1).astype(np.int32)
        out.append((f"{i}_{mode}", packed))
    return out


MODES = ("random", "ties", "all_pass", "none_pass", "extreme", "degenerate", "on_level")


def generated_records(spec: ModelSpec, config_id: int, cases: int, seed: int = 0, *, error_records=True):
    """`cases` generated inputs cycling through the case modes (ultrapost.families.cases), case i from (seed, i)."""
    if cases < 1:
        raise ValueError(f"cases must be >= 1, got {cases}")
    if spec.family == "yunet":
        inputs = []
        for i in range(cases):
            mode = YUNET_MODES[i % len(YUNET_MODES)]
            outputs = yunet_outputs(spec, int(np.random.default_rng([seed, i]).integers(2**31)), mode)
            inputs.append((f"{i}_{mode}", outputs))
        return yunet_records(spec, config_id, inputs, error_records=error_records)
    if spec.family == "retinaface_packed":
        return packed_records(spec, config_id, generated_packed(spec, cases, seed), error_records=error_records)
    if spec.single_tensor or spec.class_thresholds is not None:
        modes = ("random", "ties", "none_pass")
    elif spec.family == "blazeface":
        modes = ("random", "ties", "none_pass", "all_pass", "extreme")
    else:
        modes = MODES
    inputs = []
    for i in range(cases):
        mode = modes[i % len(modes)]
        s, b = float_inputs(spec, int(np.random.default_rng([seed, i]).integers(2**31)), mode)
        inputs.append((f"{i}_{mode}", *spec_inputs(spec, s, b)))
    return records_for(spec, config_id, inputs, error_records=error_records)


# ---------------------------------------------------------------------------------------------------------------------
# Writing and reading a set


def _c_array(ctype: str, name: str, values) -> list[str]:
    flat = np.asarray(values).reshape(-1)
    if flat.size == 0:
        return []
    lines = [f"static const {ctype} {name}[{flat.size}] = {{"]
    per = 16 if ctype == "int8_t" else 8
    for start in range(0, flat.size, per):
        lines.append(
            "    "
            + ", ".join(("INT32_MIN" if int(v) == -(2**31) else str(int(v))) for v in flat[start : start + per])
            + ","
        )
    return [*lines, "};"]


def vectors_header(records: list[Record]) -> str:
    """C source of vectors.h: every record's input and expected output as const arrays, and a table of them."""
    if not records:
        raise ValueError("a vector set needs at least one record")
    lines = [
        "/* Generated by ultrapost vectors; do not edit. Inputs and the golden model's outputs, for a self-test:",
        " * for each up_vectors[i], call up_run(up_fw_configs[v->config_id], ...) with the input's tensors, strides,",
        " * capacity (-1: the config's max_detections) and scratch (-1: up_scratch_size) and compare status, count,",
        " * boxes (Q20), scores (Q30), anchors, keypoints (Q20, when num_keypoints > 0) and labels (when not NULL)",
        " * with the expected arrays. Configs with keypoints or labels need output buffers for them too.",
        " * A YuNet config (up_fw_yunet_configs[config_id] not NULL, up_fw_configs[config_id] NULL): call",
        " * up_yunet_run with data holding its 12 tensors back to back (cls, obj, bbox, kps, each for strides 8, 16,",
        " * 32: [N_s][1], [N_s][1], [N_s][4], [N_s][10]); boxes and keypoints (P = 5) are Q12 pixels.",
        " * keypoint_stride != 0 (a packed RetinaFace's [N][16] rows): call up_run_keypoints with the keypoint rows",
        " * at data + keypoint_offset elements, keypoint_stride apart. */",
        "#ifndef UP_VECTORS_H",
        "#define UP_VECTORS_H",
        "",
        "#include <stddef.h>",
        "#include <stdint.h>",
        "",
        '#include "configs.h"',
        "",
        "typedef struct {",
        "    const char *name;",
        "    uint32_t config_id;       /* index into up_fw_configs (YuNet: up_fw_yunet_configs) */",
        "    uint32_t element_size;    /* 1: data is int8_t, 4: int32_t */",
        "    const void *data;         /* the input tensors, element_count elements */",
        "    uint32_t element_count;",
        "    uint32_t score_offset;    /* scores = data + score_offset elements */",
        "    int32_t score_stride;     /* elements between score rows */",
        "    uint32_t box_offset;",
        "    int32_t box_stride;",
        "    int32_t capacity;         /* output rows to give up_run; -1: max_detections */",
        "    int32_t scratch_bytes;    /* scratch to give up_run; -1: up_scratch_size(cfg) */",
        "    int32_t status;           /* expected up_run status */",
        "    int32_t count;            /* expected detections */",
        "    const int32_t *boxes;     /* [count][4] Q20 x1, y1, x2, y2 (NULL if count is 0) */",
        "    const int32_t *scores;    /* [count] Q30 */",
        "    const int32_t *anchors;   /* [count] */",
        "    int32_t num_keypoints;    /* P: keypoints has [count][2P] Q20 values (0: none) */",
        "    const int32_t *keypoints; /* [count][2P] x, y Q20 (NULL if count or P is 0) */",
        "    const int32_t *labels;    /* [count] class column (NULL if count is 0 or the config has no labels) */",
        "    uint32_t keypoint_offset; /* keypoints = data + keypoint_offset elements (keypoint_stride != 0) */",
        "    int32_t keypoint_stride;  /* 0: keypoints follow the box in each box row (up_run) */",
        "} up_vector_t;",
        "",
    ]
    table = []
    for i, r in enumerate(records):
        v, e = r.vector, r.expected
        ctype = "int8_t" if v.element_size == 1 else "int32_t"
        lines += _c_array(ctype, f"up_vec{i}_data", v.data)
        arrays = {}
        for part in ("boxes", "scores", "anchors", "keypoints", "labels"):
            arr = getattr(e, part)
            if arr is not None and arr.size:
                lines += _c_array("int32_t", f"up_vec{i}_{part}", arr)
                arrays[part] = f"up_vec{i}_{part}"
            else:
                arrays[part] = "NULL"
        lines.append("")
        name = r.name.replace("\\", "/").replace('"', "'")
        table.append(
            f'    {{"{name}", {v.config_id}u, {v.element_size}u, up_vec{i}_data, {v.data.size}u, {v.score_offset}u, '
            f"{v.score_stride}, {v.box_offset}u, {v.box_stride}, {v.capacity}, {v.scratch_bytes}, {e.status}, "
            f"{len(e)}, {arrays['boxes']}, {arrays['scores']}, {arrays['anchors']}, {e.num_keypoints}, "
            f"{arrays['keypoints']}, {arrays['labels']}, {v.keypoint_offset}u, {v.keypoint_stride}}},"
        )
    lines += [f"#define UP_NUM_VECTORS {len(records)}", "", "static const up_vector_t up_vectors[UP_NUM_VECTORS] = {"]
    lines += table
    lines += ["};", "", "#endif /* UP_VECTORS_H */", ""]
    return "\n".join(lines)


def write_set(out_dir, groups: list[tuple[ModelSpec, list[Record]]]) -> Path:
    """Writes a vector set: groups of (spec, its records); config ids must follow the group order."""
    out_dir = Path(out_dir)
    if not groups:
        raise ValueError("a vector set needs at least one model configuration")
    names = [spec.name for spec, _ in groups]
    if len(set(names)) != len(names):
        raise ValueError(f"model configuration names must be unique in a set: {names}")
    records, configs, info = [], [], []
    for cid, (spec, recs) in enumerate(groups):
        if any(r.vector.config_id != cid for r in recs):
            raise ValueError(f"records of {spec.name} must use config id {cid}")
        fc, core = spec.firmware_config()
        configs.append((spec.name, fc))
        yunet = spec.family == "yunet"
        info.append(
            {
                "name": spec.name,
                "config_id": cid,
                "spec": spec.to_json(),
                "description": spec.describe(),
                "num_anchors": int(fc.num_points if yunet else fc.num_anchors),
                "max_detections": int(fc.max_detections),
                "num_keypoints": 5 if yunet else int(fc.num_keypoints),
                "num_labels": 0 if yunet else int(fc.num_labels),
                "scratch_bytes": scratch_size(fc),
            }
        )
        records += recs
    out_dir.mkdir(parents=True, exist_ok=True)
    write_config_dir(out_dir, configs)
    write_vectors(out_dir / "vectors.bin", [r.vector for r in records])
    write_outputs(out_dir / "expected.bin", [r.expected for r in records])
    (out_dir / "vectors.h").write_text(vectors_header(records))
    manifest = {"format": "ultrapost-vectors-1", "configs": info, "records": [r.info() for r in records]}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return out_dir


@dataclass
class VectorSet:
    path: Path
    manifest: dict
    vectors: list[VectorRecord]
    expected: list[OutputRecord]

    @property
    def names(self) -> list[str]:
        return [r["name"] for r in self.manifest["records"]]


def read_set(path) -> VectorSet:
    """Reads a vector set directory; ValueError names a missing file or records that do not line up."""
    path = Path(path)
    missing = [f for f in SET_FILES if not (path / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{path}: not a vector set, missing {missing} (write one with `ultrapost vectors`)")
    try:
        manifest = json.loads((path / "manifest.json").read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path / 'manifest.json'}: {exc}") from None
    vectors = read_vectors(path / "vectors.bin")
    expected = read_outputs(path / "expected.bin")
    n = len(manifest.get("records", []))
    if not (len(vectors) == len(expected) == n):
        raise ValueError(
            f"{path}: {len(vectors)} vectors, {len(expected)} expected outputs, {n} records in manifest.json"
        )
    ids = {c["config_id"] for c in manifest["configs"]}
    bad = sorted({v.config_id for v in vectors} - ids)
    if bad:
        raise ValueError(f"{path}: vectors use config ids {bad} that configs.h does not have")
    return VectorSet(path, manifest, vectors, expected)


# ---------------------------------------------------------------------------------------------------------------------
# The built-in suite: every input kind and model configuration the core's Ultraface path supports


def suite_specs() -> list[ModelSpec]:
    """Model configurations firmware-check runs by default: each input kind with probabilities and logits, raw and
    decoded boxes, both prior conventions, clipping, a dropped finest level, limits, NXP's ultraslim, every NMS
    kind, "+1 pixel" areas, ">=" score tests, multi-class labels, BlazeFace short and full range with
    keypoints (int8, int32 and float converted to int32), YuNet (int8 and float32 read natively; OpenCV's rules
    and the single-test preset; frames padded to multiples of 32) and the packed RetinaFace (int8 and float32
    converted, its [N, 16] rows read in place)."""
    q = {"score_quant": (1 / 256, -128), "box_quant": (0.04, 3)}
    ql = {"score_quant": (0.0625, 4), "box_quant": (0.04, 3)}
    qd = {"score_quant": (1 / 255, -128), "box_quant": (1 / 128, 0)}
    return [
        ModelSpec.ultraslim("ultraslim_s8"),
        ModelSpec.ultraslim("ultraslim_f32", input_kind="f32"),
        ModelSpec("uf320_s8", input_size=(320, 240), input_kind="s8", **q),
        ModelSpec("uf128_i32", input_size=(128, 96), input_kind="i32", iou_threshold=0.45),
        ModelSpec("uf128_f32", input_size=(128, 96), input_kind="f32", score_threshold=0.6),
        ModelSpec("uf160_s8_logits", input_size=(160, 120), input_kind="s8", logits=True, **ql),
        ModelSpec(
            "uf96_i32_logits_stride_clip",
            input_size=(96, 128),
            input_kind="i32",
            logits=True,
            priors="stride",
            clip=True,
        ),
        ModelSpec("uf200_f32_logits", input_size=(200, 150), input_kind="f32", logits=True, max_detections=15),
        ModelSpec("uf128_s8_corners", input_size=(128, 96), input_kind="s8", decoded=True, **qd),
        ModelSpec("uf160_i32_corners_clip", input_size=(160, 120), input_kind="i32", decoded=True, clip=True),
        ModelSpec("uf128_f32_corners", input_size=(128, 96), input_kind="f32", decoded=True, candidate_limit=40),
        ModelSpec(
            "uf333_s8_drop_finest",
            input_size=(333, 111),
            input_kind="s8",
            drop_finest_level=True,
            candidate_limit=50,
            max_detections=10,
            **q,
        ),
        ModelSpec("uf64_s8_limit1", input_size=(64, 48), input_kind="s8", candidate_limit=1, **q),
        # NMS kinds, "+1 pixel" areas (pixel_size) and ">=" score tests
        ModelSpec(
            "uf128_s8_blend_pad_clip",
            input_size=(128, 96),
            input_kind="s8",
            nms="blend",
            priors="stride",
            clip=True,
            pixel_size=(128, 96),
            **q,
        ),
        ModelSpec("uf128_i32_weighted_ge", input_size=(128, 96), input_kind="i32", nms="weighted", score_test=">="),
        ModelSpec("uf160_s8_soft_linear", input_size=(160, 120), input_kind="s8", nms="soft-linear", **q),
        ModelSpec(
            "uf128_f32_soft_gaussian_pad",
            input_size=(128, 96),
            input_kind="f32",
            nms="soft-gaussian",
            soft_sigma=0.3,
            pixel_size=(128, 96),
            score_test=">=",
        ),
        ModelSpec("uf96_i32_logits_blend", input_size=(96, 128), input_kind="i32", logits=True, nms="blend"),
        # multi-class: a threshold per class column, labels out
        ModelSpec("uf128_s8_classes", input_size=(128, 96), input_kind="s8", class_thresholds=(0.6, 0.7), **q),
        ModelSpec(
            "uf96_i32_classes_weighted",
            input_size=(96, 72),
            input_kind="i32",
            class_thresholds=(0.5, 0.65, 0.8),
            nms="weighted",
            max_detections=8,
        ),
        # BlazeFace: short range (896 anchors) and full range (2304), clipped logits, 6 keypoints
        ModelSpec.blazeface("bf128_s8", input_kind="s8"),
        ModelSpec.blazeface("bf128_f32_blend", input_kind="f32", nms="blend"),
        ModelSpec.blazeface("bf192_full_i32", input_size=(192, 192), input_kind="i32"),
        ModelSpec.blazeface("bf192_full_s8_hard", input_size=(192, 192), input_kind="s8", nms="hard"),
        ModelSpec.blazeface("bf128_f32_soft_linear", input_kind="f32", nms="soft-linear", max_detections=10),
        # YuNet: 5 landmarks, its own decode, tests and NMS (up_yunet_run)
        ModelSpec.yunet("yn320_s8", score_threshold=0.6, candidate_limit=400),
        ModelSpec.yunet("yn200x150_f32", input_size=(200, 150), input_kind="f32", score_threshold=0.5),
        ModelSpec.yunet("yn100x70_s8_single", input_size=(100, 70), preset="single-test", max_detections=20),
        # The packed RetinaFace: [N, 16] rows read in place (up_run_keypoints), detect.py's decisions at 160x160
        ModelSpec.retinaface_packed("rfp160_s8", input_size=(160, 160)),
        ModelSpec.retinaface_packed("rfp96x64_f32", input_size=(96, 64), input_kind="f32", score_threshold=0.5),
    ]


def write_suite(out_dir, cases: int = 3, seed: int = 0) -> Path:
    """Writes the built-in suite as one vector set (cases generated inputs per configuration + error records)."""
    groups = []
    for cid, spec in enumerate(suite_specs()):
        groups.append((spec, generated_records(spec, cid, cases, seed)))
    return write_set(out_dir, groups)
