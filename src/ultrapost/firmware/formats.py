"""The binary files the harness reads and writes (firmware/README.md):

- vector files (``UPVEC001``, or ``UPVEC002`` when a record has keypoints in rows of their own): records of config
  id + int8 or int32 input tensors, written by :func:`write_vectors`;
- output files (``UPOUT002``): status, count, boxes, scores, anchors (keypoints, labels) per record, read by
  :func:`read_outputs`;
- stats files (``UPSTA001``): stack bytes used and scratch bytes per record, read by :func:`read_stats`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

VEC_MAGIC = b"UPVEC001"
VEC_MAGIC_KP = b"UPVEC002"  # record headers two words longer: keypoint offset and stride
OUT_MAGIC = b"UPOUT002"
STA_MAGIC = b"UPSTA001"
_FILE_HEADER = struct.Struct("<8sII")
_RECORD_HEADER = struct.Struct("<IIIIiIiiiI")
_RECORD_KEYPOINTS = struct.Struct("<Ii")  # UPVEC002: keypoint_offset, keypoint_stride after the 001 header
_OUT_RECORD = struct.Struct("<iiiI")
MAX_KEYPOINTS = 8  # UP_MAX_KEYPOINTS
_STA_RECORD = struct.Struct("<IIII")
_ELEMENT_DTYPES = {1: np.dtype("<i1"), 4: np.dtype("<i4")}


@dataclass
class VectorRecord:
    """One up_run call: a config id and the input elements, with tensor offsets and row strides in elements.

    capacity: output rows given to up_run (-1: the config's max_detections); scratch_bytes: scratch given
    (-1: up_scratch_size). Other values let vectors test the core's own error statuses.

    keypoint_stride 0: the keypoints (if the config has any) follow the 4 box values in each box row (up_run);
    otherwise they are rows of their own, keypoint_stride elements apart from keypoint_offset (up_run_keypoints:
    a packed RetinaFace row [loc 4 | conf 2 | landms 10] read in place).
    """

    config_id: int
    data: np.ndarray  # 1-D int8 or int32
    score_offset: int
    score_stride: int
    box_offset: int
    box_stride: int
    capacity: int = -1
    scratch_bytes: int = -1
    keypoint_offset: int = 0
    keypoint_stride: int = 0

    def __post_init__(self):
        data = np.asarray(self.data)
        if data.dtype not in (np.int8, np.int32):
            raise TypeError(f"vector data must be int8 or int32, got {data.dtype}")
        self.data = np.ascontiguousarray(data.reshape(-1), dtype=data.dtype.newbyteorder("<"))
        for name in ("config_id", "score_offset", "box_offset", "keypoint_offset"):
            v = getattr(self, name)
            if not 0 <= int(v) < 2**32:
                raise ValueError(f"{name} must be in [0, 2**32), got {v}")
            if int(v) != v:
                raise ValueError(f"{name} must be an integer, got {v}")
        for name in ("score_stride", "box_stride", "keypoint_stride"):
            v = getattr(self, name)
            if not -(2**31) <= int(v) < 2**31:
                raise ValueError(f"{name} must fit int32, got {v}")
        for name in ("capacity", "scratch_bytes"):
            v = getattr(self, name)
            if not -1 <= int(v) < 2**31:
                raise ValueError(f"{name} must be -1 (default) or a non-negative int32, got {v}")
        if max(self.score_offset, self.box_offset, self.keypoint_offset) > self.data.size:
            raise ValueError(
                f"tensor offsets ({self.score_offset}, {self.box_offset}, {self.keypoint_offset}) beyond the "
                f"{self.data.size} elements"
            )
        if self.keypoint_stride == 0 and self.keypoint_offset != 0:
            raise ValueError("a keypoint offset needs a keypoint stride (0: keypoints in the box rows)")

    @classmethod
    def separate(cls, config_id: int, scores, boxes, **kw) -> VectorRecord:
        """Score rows [N, C] followed by box rows [N, 4] (or [N, 4 + 2P]: keypoints after the box), both of the
        same dtype (int8 or int32)."""
        scores, boxes = np.asarray(scores), np.asarray(boxes)
        if (
            scores.ndim != 2
            or boxes.ndim != 2
            or boxes.shape[1] < 4
            or boxes.shape[1] % 2
            or scores.shape[0] != boxes.shape[0]
        ):
            raise ValueError(f"expected scores [N, C] and boxes [N, 4 + 2P], got {scores.shape} and {boxes.shape}")
        if scores.dtype != boxes.dtype:
            raise TypeError(f"scores and boxes must share a dtype, got {scores.dtype} and {boxes.dtype}")
        data = np.concatenate([scores.reshape(-1), boxes.reshape(-1)])
        return cls(config_id, data, 0, scores.shape[1], scores.size, boxes.shape[1], **kw)

    @classmethod
    def single_tensor(cls, config_id: int, tensor, *, score_column: int = 0, box_column: int = 2, **kw):
        """One [N, W] tensor holding scores and boxes side by side (NXP ultraslim: [172, 6], columns 0 and 2)."""
        tensor = np.asarray(tensor)
        if tensor.ndim != 2:
            raise ValueError(f"expected a 2-D tensor, got shape {tensor.shape}")
        w = tensor.shape[1]
        return cls(config_id, tensor.reshape(-1), score_column, w, box_column, w, **kw)

    @classmethod
    def packed(
        cls, config_id: int, tensor, *, box_column: int = 0, score_column: int = 4, keypoint_column: int = 6, **kw
    ) -> VectorRecord:
        """One [N, W] tensor of rows holding boxes, scores and keypoints side by side (Pytorch_Retinaface's packed
        output: [loc 4 | conf 2 | landms 10], W = 16), read in place with row stride W."""
        tensor = np.asarray(tensor)
        if tensor.ndim != 2:
            raise ValueError(f"expected a 2-D tensor, got shape {tensor.shape}")
        w = tensor.shape[1]
        flat = tensor.reshape(-1)
        return cls(
            config_id, flat, score_column, w, box_column, w, keypoint_offset=keypoint_column, keypoint_stride=w, **kw
        )

    @classmethod
    def yunet(cls, config_id: int, tensors: dict, **kw) -> VectorRecord:
        """YuNet's 12 tensors back to back ({"cls": [3], "obj": [3], "bbox": [3], "kps": [3]}, strides 8, 16, 32;
        int8, or float32 carried as its int32 bit patterns); no offsets or strides (the config's sizes place them)."""
        parts = [np.ascontiguousarray(a).reshape(-1) for kind in ("cls", "obj", "bbox", "kps") for a in tensors[kind]]
        if len(parts) != 12 or len({a.dtype for a in parts}) != 1:
            raise ValueError("YuNet vectors need 3 tensors of each kind, all of one dtype")
        data = np.concatenate(parts)
        if data.dtype == np.float32:
            data = data.view(np.int32)
        return cls(config_id, data, 0, 0, 0, 0, **kw)

    @property
    def element_size(self) -> int:
        return self.data.dtype.itemsize


def write_vectors(path, records: list[VectorRecord]) -> None:
    """Writes a vector file: UPVEC001, or UPVEC002 (longer record headers) when a record has keypoint rows of
    their own, so sets without them stay readable by a harness that knows only UPVEC001."""
    for r in records:
        if not isinstance(r, VectorRecord):
            raise TypeError(f"records must be VectorRecord, got {type(r).__name__}")
    kp = any(r.keypoint_stride != 0 for r in records)
    parts = [_FILE_HEADER.pack(VEC_MAGIC_KP if kp else VEC_MAGIC, len(records), 0)]
    for r in records:
        payload = r.data.tobytes()
        parts.append(
            _RECORD_HEADER.pack(
                r.config_id,
                r.element_size,
                r.data.size,
                r.score_offset,
                r.score_stride,
                r.box_offset,
                r.box_stride,
                r.capacity,
                r.scratch_bytes,
                0,
            )
        )
        if kp:
            parts.append(_RECORD_KEYPOINTS.pack(r.keypoint_offset, r.keypoint_stride))
        parts.append(payload + b"\0" * (-len(payload) % 4))
    Path(path).write_bytes(b"".join(parts))


def _header(buf: bytes, magic, what: str) -> tuple[int, int]:
    magics = magic if isinstance(magic, tuple) else (magic,)
    if len(buf) < _FILE_HEADER.size:
        raise ValueError(f"{what}: {len(buf)} bytes, shorter than the {_FILE_HEADER.size}-byte header")
    got, count, reserved = _FILE_HEADER.unpack_from(buf, 0)
    if got not in magics:
        raise ValueError(f"{what}: magic {got!r}, expected {' or '.join(map(repr, magics))}")
    if reserved != 0:
        raise ValueError(f"{what}: reserved header word is {reserved}, expected 0")
    return count, _FILE_HEADER.size


def read_vectors(path) -> list[VectorRecord]:
    """Reads a vector file (UPVEC001 or UPVEC002); ValueError names what is malformed."""
    buf = Path(path).read_bytes()
    count, pos = _header(buf, (VEC_MAGIC, VEC_MAGIC_KP), str(path))
    kp = buf[:8] == VEC_MAGIC_KP
    size = _RECORD_HEADER.size + (_RECORD_KEYPOINTS.size if kp else 0)
    records = []
    for i in range(count):
        if pos + size > len(buf):
            raise ValueError(f"{path}: truncated in the header of record {i}")
        (cid, esize, n, soff, sstride, boff, bstride, cap, scratch, reserved) = _RECORD_HEADER.unpack_from(buf, pos)
        koff, kstride = _RECORD_KEYPOINTS.unpack_from(buf, pos + _RECORD_HEADER.size) if kp else (0, 0)
        pos += size
        if esize not in _ELEMENT_DTYPES or reserved != 0:
            raise ValueError(f"{path}: record {i} has element size {esize} / reserved {reserved}")
        nbytes = n * esize
        if pos + nbytes > len(buf):
            raise ValueError(f"{path}: truncated in the data of record {i}")
        data = np.frombuffer(buf, _ELEMENT_DTYPES[esize], n, pos).copy()
        pos += nbytes + (-nbytes % 4)
        records.append(VectorRecord(cid, data, soff, sstride, boff, bstride, cap, scratch, koff, kstride))
    if pos != len(buf):
        raise ValueError(f"{path}: {len(buf) - pos} trailing bytes after record {count - 1}")
    return records


@dataclass
class OutputRecord:
    """What up_run returned for one record: status, and the kept boxes (Q20), scores (Q30), anchors, plus the
    keypoints (Q20, [K, 2P]) when the config has P > 0 keypoints and the labels when it has labels. (up_yunet_run:
    boxes and keypoints in Q12 pixels, P = 5.)"""

    status: int
    boxes: np.ndarray  # int32 [K, 4]
    scores: np.ndarray  # int32 [K]
    anchors: np.ndarray  # int32 [K]
    keypoints: np.ndarray | None = None  # int32 [K, 2P], None: the config has no keypoints
    labels: np.ndarray | None = None  # int32 [K], None: the config has no labels

    def __post_init__(self):
        self.boxes = np.asarray(self.boxes, dtype=np.int32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.int32).reshape(-1)
        self.anchors = np.asarray(self.anchors, dtype=np.int32).reshape(-1)
        k = self.boxes.shape[0]
        if self.scores.shape != (k,) or self.anchors.shape != (k,):
            raise ValueError(
                f"boxes, scores and anchors disagree on the count: {k}, {self.scores.size}, {self.anchors.size}"
            )
        if self.keypoints is not None:
            kp = np.asarray(self.keypoints, dtype=np.int32)
            if kp.ndim != 2 or kp.shape[0] != k or kp.shape[1] % 2 or kp.shape[1] == 0:
                raise ValueError(f"keypoints must be [{k}, 2P] with P > 0, got shape {kp.shape}")
            self.keypoints = kp
        if self.labels is not None:
            self.labels = np.asarray(self.labels, dtype=np.int32).reshape(-1)
            if self.labels.shape != (k,):
                raise ValueError(f"labels must be [{k}], got {self.labels.size} values")
        if self.status != 0 and k != 0:
            raise ValueError(f"a failed record (status {self.status}) carries no detections, got {k}")

    @classmethod
    def of(cls, out: dict, num_keypoints: int = 0, has_labels: bool = False) -> OutputRecord:
        """From an output dict (the golden model's or the binding's run_full): boxes, scores, anchors and, when
        the config has them, keypoints and labels."""
        k = len(out["anchors"])
        kp = out.get("keypoints") if num_keypoints else None
        if num_keypoints and kp is None:
            kp = np.zeros((k, 2 * num_keypoints), np.int32)
        lab = out.get("labels") if has_labels else None
        return cls(0, out["boxes"], out["scores"], out["anchors"], kp, lab)

    @classmethod
    def error(cls, status: int, num_keypoints: int = 0, has_labels: bool = False) -> OutputRecord:
        """A refused record of a config with (or without) keypoints and labels."""
        kp = np.zeros((0, 2 * num_keypoints), np.int32) if num_keypoints else None
        return cls(status, [], [], [], kp, np.zeros(0, np.int32) if has_labels else None)

    @property
    def num_keypoints(self) -> int:
        return 0 if self.keypoints is None else self.keypoints.shape[1] // 2

    def __len__(self) -> int:
        return self.boxes.shape[0]

    def parts(self) -> list[tuple[str, np.ndarray]]:
        out = [("boxes", self.boxes), ("scores", self.scores), ("anchors", self.anchors)]
        if self.keypoints is not None:
            out.append(("keypoints", self.keypoints))
        if self.labels is not None:
            out.append(("labels", self.labels))
        return out

    def equals(self, other: OutputRecord) -> bool:
        """Bit-exact equality (status, values and dtypes, keypoints and labels included)."""
        if self.status != other.status or self.num_keypoints != other.num_keypoints:
            return False
        if (self.labels is None) != (other.labels is None):
            return False
        return all(
            a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
            for (_, a), (_, b) in zip(self.parts(), other.parts(), strict=True)
        )


def write_outputs(path, records: list[OutputRecord]) -> None:
    """Writes an output file (UPOUT002), e.g. the host's results to compare with the firmware's byte for byte."""
    parts = [_FILE_HEADER.pack(OUT_MAGIC, len(records), 0)]
    for r in records:
        parts.append(_OUT_RECORD.pack(r.status, len(r), r.num_keypoints, int(r.labels is not None)))
        parts += [a.astype("<i4").tobytes() for _, a in r.parts()]
    Path(path).write_bytes(b"".join(parts))


def read_outputs(path) -> list[OutputRecord]:
    """Reads an output file (UPOUT002); ValueError names what is malformed."""
    buf = Path(path).read_bytes()
    count, pos = _header(buf, OUT_MAGIC, str(path))
    records = []
    for i in range(count):
        if pos + _OUT_RECORD.size > len(buf):
            raise ValueError(f"{path}: truncated in the header of record {i}")
        status, k, p, has_labels = _OUT_RECORD.unpack_from(buf, pos)
        pos += _OUT_RECORD.size
        if k < 0 or (status != 0 and k != 0):
            raise ValueError(f"{path}: record {i} has status {status} and count {k}")
        if not 0 <= p <= MAX_KEYPOINTS or has_labels not in (0, 1):
            raise ValueError(f"{path}: record {i} has {p} keypoints and labels flag {has_labels}")
        words = k * (6 + 2 * p + has_labels)
        if pos + 4 * words > len(buf):
            raise ValueError(f"{path}: truncated in the arrays of record {i}")
        arr = np.frombuffer(buf, "<i4", words, pos).astype(np.int32)
        pos += 4 * words
        kp = arr[6 * k : (6 + 2 * p) * k].reshape(k, 2 * p) if p else None
        lab = arr[(6 + 2 * p) * k :] if has_labels else None
        records.append(OutputRecord(status, arr[: 4 * k], arr[4 * k : 5 * k], arr[5 * k : 6 * k], kp, lab))
    if pos != len(buf):
        raise ValueError(f"{path}: {len(buf) - pos} trailing bytes after record {count - 1}")
    return records


@dataclass
class RecordStats:
    stack_bytes: int  # stack used by the up_run call (high-water below the caller's SP)
    scratch_bytes: int  # scratch given to up_run
    scratch_size: int  # up_scratch_size(cfg)


def read_stats(path) -> list[RecordStats]:
    buf = Path(path).read_bytes()
    count, pos = _header(buf, STA_MAGIC, str(path))
    if len(buf) != pos + count * _STA_RECORD.size:
        raise ValueError(f"{path}: {len(buf)} bytes, expected {pos + count * _STA_RECORD.size}")
    return [RecordStats(*_STA_RECORD.unpack_from(buf, pos + i * _STA_RECORD.size)[:3]) for i in range(count)]
