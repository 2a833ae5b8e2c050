"""A whole camera frame on the boards: frame -> int8 input tensor (``up_pre_run`` on the board) -> the model's outputs
for that tensor, recorded on the host (the shared int8 ultraslim TFLite model, LiteRT's reference kernels: the bytes
of TensorFlow Lite Micro) -> ``up_run`` on the board -> faces. Every step is compared byte for byte with the host C
and the golden model.

A frame set is a directory::

    pre/     pre_configs.h, pre_<name>.h   the pre-processing config (as ``ultrapost codegen --preprocess`` writes it)
             frames.bin, tensors.bin       the camera frames (UPPRE001) and the expected tensors (UPPRO001)
    post/    a vector set (``ultrapost.firmware.vectorsets``): the recorded model outputs and the expected faces
    manifest.json

The frames are the shared photos scaled to 160x120 and packed as RGB565 (what an MCU camera delivers); the micro:bit
(16 KiB of RAM) cannot hold a 49,152-byte input tensor, so frame sets run on the Cortex-M4 and M33.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ultrapost.core.preprocess_config import PreConfig, prepare_config
from ultrapost.firmware.precheck import ULTRASLIM_INPUT, golden_tensor, host_tensor
from ultrapost.firmware.preformats import (
    FrameRecord,
    TensorRecord,
    pre_config_header,
    read_frames,
    read_tensors,
    write_frames,
    write_pre_config_dir,
    write_tensors,
)

MODEL = "int8/ultraface_ultraslim_int8.tflite"
FRAME = (160, 120)
# Photos whose faces the 128x128 model still finds in a 160x120 frame (3, 3, 2, 2, 1), and one where it finds none.
PHOTOS = ("ultraface_2", "ultraface_9", "ultraface_13", "ultraface_22", "ultraface_24", "ultraface_1")


def rgb565_frame(rgb: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3] RGB -> the RGB565 frame a camera gives: [H, W, 2] little-endian words, R in bits 15..11."""
    a = rgb.astype(np.uint16)
    words = ((a[..., 0] >> 3) << 11) | ((a[..., 1] >> 2) << 5) | (a[..., 2] >> 3)
    return np.ascontiguousarray(words.astype("<u2")).view(np.uint8).reshape(*rgb.shape[:2], 2)


def camera_frames(photos=PHOTOS, size=FRAME) -> list[tuple[str, np.ndarray]] | None:
    """(name, RGB565 frame) of shared photos scaled to size with Pillow (any scaler would do: this makes the camera's
    frame, the stage under test starts from it); None without the shared data."""
    from PIL import Image

    from ultrapost.data import data_dir

    root = data_dir()
    if root is None or not all((root / "images" / f"{p}.jpg").is_file() for p in photos):
        return None
    out = []
    for p in photos:
        with Image.open(root / "images" / f"{p}.jpg") as im:
            out.append((p, rgb565_frame(np.asarray(im.convert("RGB").resize(size, Image.BILINEAR)))))
    return out


def frame_config(size=FRAME) -> PreConfig:
    """ultraslim's input from an RGB565 frame: 128x128 NHWC RGB int8 (q = pixel - 128), stretched, Pillow's filter."""
    return prepare_config(size, (128, 128), pixel_format="RGB565", **ULTRASLIM_INPUT)


@dataclass
class FrameCase:
    name: str
    frame: np.ndarray  # uint8 [H, W, 2] RGB565
    tensor: TensorRecord  # the host C's tensor (== the golden model's)
    outputs: np.ndarray  # int8 [172, 6]: the model's outputs for that tensor


def frame_cases(frames=None) -> list[FrameCase] | None:
    """The frames through the host C stage and the model (LiteRT, reference kernels); None when the shared data or
    LiteRT is missing."""
    from ultrapost.data import data_dir

    frames = camera_frames() if frames is None else frames
    root = data_dir()
    if frames is None or root is None or not (root / MODEL).is_file():
        return None
    try:
        from ultrapost.pipeline.runners import load_model

        model = load_model(root / MODEL, op_resolver="reference")
    except ImportError:
        return None
    cfg = frame_config(frames[0][1].shape[1::-1])
    cases = []
    for name, frame in frames:
        tensor = host_tensor(cfg, frame)
        if not tensor.equals(golden_tensor(cfg, frame)):
            raise RuntimeError(f"{name}: the host C and the golden model give different tensors")
        x = tensor.data.view(np.int8).reshape(1, 128, 128, 3)
        (outputs,) = model.run(x).values()
        cases.append(FrameCase(name, frame, tensor, np.ascontiguousarray(outputs.reshape(172, 6))))
    return cases


def write_frame_set(out_dir, cases: list[FrameCase]) -> Path:
    """Writes a frame set (see the module docstring) for the cases; the expected faces come from the golden model,
    checked equal to the host C's."""
    from ultrapost.firmware.spec import ModelSpec
    from ultrapost.firmware.vectorsets import output_of, records_for, write_set

    out_dir = Path(out_dir)
    cfg = frame_config(cases[0].frame.shape[1::-1])
    write_pre_config_dir(out_dir / "pre", [("ultraslim_camera", cfg)])
    write_frames(out_dir / "pre" / "frames.bin", [FrameRecord.of(0, c.frame) for c in cases])
    write_tensors(out_dir / "pre" / "tensors.bin", [c.tensor for c in cases])
    spec = ModelSpec.ultraslim("ultraslim")
    records = records_for(spec, 0, [(c.name, c.outputs[:, :2], c.outputs[:, 2:]) for c in cases], error_records=False)
    _, core = spec.firmware_config()
    for r, c in zip(records, cases, strict=True):
        if not output_of(core.run_full, (c.outputs[:, :2], c.outputs[:, 2:])).equals(r.expected):
            raise RuntimeError(f"{c.name}: the host C and the golden model give different faces")
    write_set(out_dir / "post", [(spec, records)])
    manifest = {
        "format": "ultrapost-frames-1",
        "model": MODEL,
        "frame": [cfg.frame_width, cfg.frame_height],
        "pixel_format": "RGB565",
        "input": "128x128 NHWC RGB int8 (scale 1/128, zero point -1), stretch, Pillow bilinear",
        "records": [{"name": c.name, "faces": len(r.expected)} for c, r in zip(cases, records, strict=True)],
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return out_dir


def check_frame_set(board, set_dir, work_dir, *, timeout: float = 300.0, pre_image=None, pre_config=None) -> dict:
    """Runs a frame set on a board: the frames through up_pre_run (tensors compared with the recorded ones), then
    the recorded model outputs through up_run (faces compared with the recorded ones). pre_image: a pre-processing
    runner already built whose config 0 is pre_config (compared with the set's), instead of a build of its own."""
    from ultrapost.firmware.build import build_harness, build_pre_harness
    from ultrapost.firmware.precheck import run_frames
    from ultrapost.firmware.qemu import run_vectors
    from ultrapost.firmware.vectorsets import read_set

    set_dir, work_dir = Path(set_dir), Path(work_dir)
    manifest = json.loads((set_dir / "manifest.json").read_text())
    frame = tuple(manifest["frame"])
    frames, want = read_frames(set_dir / "pre" / "frames.bin"), read_tensors(set_dir / "pre" / "tensors.bin")
    if pre_image is None:
        pre_image = build_pre_harness(board, work_dir / "pre_build", set_dir / "pre")
    elif pre_config is None or pre_config_header("c", pre_config) != pre_config_header("c", frame_config(frame)):
        raise ValueError(f"{pre_image.elf.name}: its config 0 is not the frame set's")
    pre = run_frames(pre_image, frames, work_dir / "pre_run", timeout=timeout)
    post_set = read_set(set_dir / "post")
    post_image = build_harness(board, work_dir / "post_build", set_dir / "post")
    post = run_vectors(post_image, post_set.vectors, work_dir / "post_run", timeout=timeout)
    records = []
    for i, rec in enumerate(manifest["records"]):
        same_tensor = pre.tensors[i].equals(want[i])
        same_faces = post.outputs[i].equals(post_set.expected[i])
        records.append({"name": rec["name"], "faces": len(post.outputs[i]), "same": same_tensor and same_faces})
    return {
        "frame": "{}x{} RGB565 -> 128x128 int8 -> ultraslim int8 -> up_run".format(*manifest["frame"]),
        "records": len(records),
        "identical": sum(r["same"] for r in records),
        "faces": {r["name"]: r["faces"] for r in records},
        "mismatches": [r["name"] for r in records if not r["same"]],
    }
