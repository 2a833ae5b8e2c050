"""Real model outputs for the firmware checks: shared-data photos through YuNet's int8 model and the packed
RetinaFace (onnxruntime), when the shared data, OpenCV and onnxruntime are there."""

from __future__ import annotations

import json

import numpy as np

YUNET_INT8 = "yunet/face_detection_yunet_2026may_int8_320_int8out.onnx"
YUNET_F32 = "yunet/face_detection_yunet_2026may.onnx"


def letterbox(img: np.ndarray, frame: tuple[int, int]) -> np.ndarray:
    """The BGR photo resized (cv2.INTER_LINEAR, aspect kept) into the top-left corner of a black frame (w, h)."""
    import cv2

    h, w = img.shape[:2]
    s = min(frame[0] / w, frame[1] / h)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    box = np.zeros((frame[1], frame[0], 3), np.uint8)
    box[:nh, :nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return box


def yunet_photo(photo: str, frame: tuple[int, int], model: str = YUNET_INT8):
    """(outputs by name, quantization or None) of a shared-data photo letterboxed into frame (w, h), through a YuNet
    model of the shared data: the dynamic model runs the frame padded to multiples of 32 (as FaceDetectorYN);
    a fixed-size model (the default, the int8-output model at 320x320) runs its own size with the frame in the
    top-left corner, and the outputs are the cells of the padded frame. None when the data, cv2 or onnxruntime is
    missing."""
    from ultrapost.core.yunet_config import padded_size
    from ultrapost.data import data_dir

    root = data_dir()
    if root is None or not (root / model).is_file() or not (root / photo).is_file():
        return None
    try:
        import cv2
        import onnxruntime as ort
    except ImportError:
        return None
    sess = ort.InferenceSession(str(root / model), providers=["CPUExecutionProvider"])
    shape = sess.get_inputs()[0].shape
    pw, ph = padded_size(*frame)
    fixed = all(isinstance(d, int) for d in shape[2:])
    net = (shape[3], shape[2]) if fixed else (pw, ph)
    if net[0] < pw or net[1] < ph:
        raise ValueError(f"{model} takes {net[0]}x{net[1]} frames, not {frame[0]}x{frame[1]}")
    blob = np.zeros((net[1], net[0], 3), np.uint8)
    blob[: frame[1], : frame[0]] = letterbox(cv2.imread(str(root / photo)), frame)
    names = [o.name for o in sess.get_outputs()]
    raw = sess.run(names, {sess.get_inputs()[0].name: blob.transpose(2, 0, 1)[None].astype(np.float32)})
    meta = sess.get_modelmeta().custom_metadata_map
    quant = {k[6:]: (json.loads(v)["scale"], json.loads(v)["zero_point"]) for k, v in meta.items() if k[:6] == "quant."}
    outputs = {}
    for name, a in zip(names, raw, strict=True):
        s = int(name.rsplit("_", 1)[1])
        cols = net[0] // s
        grid = a.reshape(net[1] // s, cols, -1)[: ph // s, : pw // s]  # the frame's own cells of a larger net
        outputs[name] = np.ascontiguousarray(grid.reshape(1, -1, a.shape[-1]))
    return outputs, (quant or None) if raw[0].dtype == np.int8 else None


RETINAFACE_F32 = "retinaface/retinaface_mnet025_640.onnx"
RETINAFACE_INT8 = "retinaface/retinaface_mnet025_640_int8_int8out.onnx"


def retinaface_photos(count: int, int8: bool) -> list[tuple[str, np.ndarray, tuple[float, int] | None]]:
    """(name, packed [16800, 16], quantization or None) of up to count shared-data photos (nasa_group.jpg first,
    then the others by name) letterboxed to 640x640, BGR minus (104, 117, 123), through the packed RetinaFace (the
    int8-output model, whose scale and zero point come from its metadata, or the float one). [] when the data, cv2
    or onnxruntime is missing."""
    from ultrapost.data import data_dir

    root = data_dir()
    model = RETINAFACE_INT8 if int8 else RETINAFACE_F32
    if count <= 0 or root is None or not (root / model).is_file() or not (root / "images").is_dir():
        return []
    try:
        import cv2
        import onnxruntime as ort
    except ImportError:
        return []
    photos = sorted((root / "images").glob("*.jpg"), key=lambda p: (p.stem != "nasa_group", p.stem))[:count]
    sess = ort.InferenceSession(str(root / model), providers=["CPUExecutionProvider"])
    quant = None
    if int8:
        meta = json.loads(sess.get_modelmeta().custom_metadata_map["quant.output0"])
        quant = (float(meta["scale"]), int(meta["zero_point"]))
    out = []
    for p in photos:
        frame = letterbox(cv2.imread(str(p)), (640, 640)).astype(np.float32) - np.float32([104, 117, 123])
        packed = sess.run(None, {sess.get_inputs()[0].name: frame.transpose(2, 0, 1)[None]})[0]
        out.append((p.stem, np.ascontiguousarray(packed[0]), quant))
    return out


def retinaface_photo_inputs(spec, count: int) -> list[tuple[str, np.ndarray]]:
    """(label, packed) of the shared photos through the shared packed RetinaFace, in the spec's input kind ([] when
    the data, cv2 or onnxruntime is missing, or the spec's size is not the model's 640x640)."""
    if tuple(spec.input_size) != (640, 640):
        return []
    photos = retinaface_photos(count, int8=spec.input_kind == "s8")
    out = []
    for name, packed, quant in photos:
        if quant is not None and tuple(quant) != tuple(spec.score_quant):
            raise ValueError(
                f"the int8-output model's outputs have scale / zero point {quant[0]!r} / {quant[1]}, not the "
                f"configuration's {spec.score_quant[0]!r} / {spec.score_quant[1]}: leave --score-scale and "
                "--score-zero-point at their defaults"
            )
        if spec.input_kind == "i32":  # Q20 (logits, deltas, landmarks), as the host boundary rounds
            packed = np.clip(np.floor(packed.astype(np.float64) * 2.0**20 + 0.5), -(2**31), 2**31 - 1).astype(np.int32)
        out.append((f"photo_{name}", packed))
    return out
