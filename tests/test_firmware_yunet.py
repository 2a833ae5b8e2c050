"""YuNet int8 on the emulated Cortex-M boards: the same results as the golden model on every board, bit for bit;
no float helper and no heap linked; the instructions of a 320x320 photo."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import require, require_tool

from ultrapost import firmware as fw
from ultrapost.families.yunet import YuNet
from ultrapost.families.yunet_cases import make_outputs
from ultrapost.firmware.yunet import build_yunet_image, run_yunet_image
from ultrapost.golden import yunet as golden_yunet

BOARDS = ["an386", "an505", "m0plus"]
# Sized for the smallest board (8 KB of RAM): the top 128 candidates enter NMS, at most 32 faces.
TOP_K, MAX_FACES = 128, 32


def _case(name, frame, outputs, quant, t=0.6):
    yn = YuNet(frame, t, 0.3, TOP_K, max_detections=MAX_FACES)
    kind, pad, _, q, tensors = yn.tensors(outputs, quant)
    return name, yn.config(kind, pad, q)[0], tensors


@pytest.fixture(scope="module")
def cases():
    cv2 = pytest.importorskip("cv2")
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(
        str(require("yunet/face_detection_yunet_2026may_int8_320_int8out.onnx")), providers=["CPUExecutionProvider"]
    )
    meta = sess.get_modelmeta().custom_metadata_map
    quant = {
        k[6:]: (json.loads(v)["scale"], json.loads(v)["zero_point"]) for k, v in meta.items() if k.startswith("quant.")
    }
    img = cv2.imread(str(require("images/nasa_group.jpg")))
    h, w = img.shape[:2]
    s = 320 / max(w, h)
    box = np.zeros((320, 320, 3), np.uint8)
    box[: round(h * s), : round(w * s)] = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_LINEAR)
    names = [o.name for o in sess.get_outputs()]
    outs = dict(zip(names, sess.run(names, {"input": box.transpose(2, 0, 1)[None].astype(np.float32)}), strict=True))
    out = [_case("nasa_group_320", (320, 320), outs, quant)]
    for seed, frame, mode in ((5, (96, 64), "ties"), (6, (100, 70), "clustered"), (7, (64, 64), "threshold")):
        o, q = make_outputs(seed, frame, mode, 0.5, int8=True)
        out.append(_case(f"{mode}_{frame[0]}x{frame[1]}", frame, o, q, 0.5))
    return out


@pytest.mark.parametrize("board", BOARDS)
def test_yunet_int8_identical_on_every_board(board, cases, tmp_path):
    require_tool(fw.toolchain_available(), "arm-none-eabi-gcc with newlib")
    require_tool(fw.qemu_available(), "qemu-system-arm")
    image = build_yunet_image(board, tmp_path, cases)
    assert fw.forbidden_symbols(image) == []
    results, counts = run_yunet_image(image, cases, tmp_path, count=board == "an386")
    for (name, cfg, tensors), got in zip(cases, results, strict=True):
        assert got["status"] == 0, name
        want = golden_yunet.run(cfg, tensors)
        for k in want:
            assert np.array_equal(got[k], want[k]), (board, name, k)
    assert len(results[0]["scores"]) == 14  # nasa_group.jpg's 14 faces
    foot = fw.footprint(image, "core")
    print(f"{board}: YuNet core {foot.text + foot.rodata} B flash; instructions per case {counts}")
    if counts is not None:
        assert len(counts) == len(cases)
