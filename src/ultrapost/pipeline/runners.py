"""Running a detector file (.tflite or .onnx) and getting its raw outputs, exactly as the model gives them.

    runner = load_model("version-slim-320_raw_int8.tflite", op_resolver="reference")
    runner.inputs[0]    # TensorInfo(name='input', shape=(1, 240, 320, 3), dtype=int8, quantization=(0.0078125, -1))
    outputs = runner.run(tensor)   # {"scores_raw": int8 [1,4420,2], "boxes_raw": int8 [1,4420,4]}

Outputs are never dequantized or reshaped here: int8 stays int8, and each tensor's (scale, zero_point) is read
from the model and reported in ``TensorInfo.quantization`` so the post-processor can work in the integer domain.

TFLite files run through LiteRT (``ai_edge_litert``; ``tflite_runtime`` only when LiteRT is missing). LiteRT's
default CPU path (XNNPACK) may differ from the reference kernels by several LSB on int8 models; with
``op_resolver="reference"`` the reference kernels run instead, which are bit-identical to TensorFlow Lite Micro,
i.e. to what an MCU computes. ONNX files run through onnxruntime on the CPU.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ultrapost.core.checks import check_count

OP_RESOLVERS = ("default", "reference")
# Threads a backend may be asked for at most (a runtime given 10^6 spends minutes making them before failing).
MAX_THREADS = 256
MODEL_SUFFIXES = (".tflite", ".onnx")

_ONNX_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(int16)": np.int16,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
    "tensor(bool)": np.bool_,
}


@dataclass(frozen=True)
class TensorInfo:
    """One model input or output.

    ``shape`` has ``None`` for a dimension the model leaves open. ``quantization`` is ``(scale, zero_point)`` for a
    per-tensor quantized tensor (``real = scale * (q - zero_point)``), ``None`` for a float tensor, and
    ``(scales, zero_points)`` as two tuples for a per-axis quantized one.
    """

    name: str
    shape: tuple
    dtype: np.dtype
    quantization: tuple | None = None

    @property
    def per_tensor(self) -> bool:
        return self.quantization is not None and not isinstance(self.quantization[0], tuple)

    def dequantize(self, array) -> np.ndarray:
        """float64 values of ``array`` (a tensor of this kind); float tensors are only converted."""
        a = np.asarray(array)
        if self.quantization is None:
            return a.astype(np.float64)
        if not self.per_tensor:
            raise ValueError(f"tensor {self.name!r} is quantized per axis; dequantize it along its axis by hand")
        scale, zero_point = self.quantization
        return (a.astype(np.float64) - zero_point) * scale

    def describe(self) -> str:
        shape = "[" + ",".join("?" if d is None else str(d) for d in self.shape) + "]"
        q = "" if self.quantization is None else f" q={self.quantization}"
        return f"{self.name!r} {np.dtype(self.dtype).name}{shape}{q}"


class Runner:
    """A loaded model. ``run`` takes the input tensor (or a dict name -> tensor) and returns name -> output."""

    backend = ""

    def __init__(self, path: Path, inputs: tuple[TensorInfo, ...], outputs: tuple[TensorInfo, ...]):
        self.path = path
        self.inputs = inputs
        self.outputs = outputs

    def __repr__(self) -> str:
        ins = ", ".join(t.describe() for t in self.inputs)
        outs = ", ".join(t.describe() for t in self.outputs)
        return f"<{type(self).__name__} {self.path.name}: {ins} -> {outs}>"

    def output(self, name: str) -> TensorInfo:
        for t in self.outputs:
            if t.name == name:
                return t
        raise KeyError(f"{self.path.name} has no output {name!r}; outputs: {[t.name for t in self.outputs]}")

    def _feeds(self, array) -> dict[str, np.ndarray]:
        if isinstance(array, Mapping):
            feeds = dict(array)
            missing = [t.name for t in self.inputs if t.name not in feeds]
            extra = [k for k in feeds if k not in {t.name for t in self.inputs}]
            if missing or extra:
                raise ValueError(
                    f"{self.path.name}: inputs expected {[t.name for t in self.inputs]}, "
                    f"missing {missing}, unknown {extra}"
                )
        else:
            if len(self.inputs) != 1:
                raise ValueError(
                    f"{self.path.name} has {len(self.inputs)} inputs; pass a dict name -> array "
                    f"for {[t.name for t in self.inputs]}"
                )
            feeds = {self.inputs[0].name: array}
        return {t.name: _check_input(self.path, t, feeds[t.name]) for t in self.inputs}

    def run(self, array) -> dict[str, np.ndarray]:
        raise NotImplementedError


def _check_input(path: Path, info: TensorInfo, array) -> np.ndarray:
    a = np.asarray(array)
    want = np.dtype(info.dtype)
    if a.dtype != want:
        # Only float -> float is converted: a uint8 image fed to a float model, or floats fed to an int8 model,
        # would run without normalization or quantization and give a silently wrong answer.
        if want.kind == "f" and a.dtype.kind == "f":
            a = a.astype(want)
        else:
            raise TypeError(f"{path.name}: input {info.name!r} must be {want.name}, got {a.dtype.name}")
    shape_ok = a.ndim == len(info.shape) and all(d is None or d == s for d, s in zip(info.shape, a.shape, strict=True))
    if not shape_ok:
        raise ValueError(f"{path.name}: input {info.name!r} must have shape {info.describe()}, got {list(a.shape)}")
    return np.ascontiguousarray(a)


def _interpreter_module():
    try:
        from ai_edge_litert import interpreter
    except ImportError:
        try:
            from tflite_runtime import interpreter
        except ImportError:
            raise ImportError(
                "running .tflite models needs LiteRT: pip install ai-edge-litert (or tflite-runtime)"
            ) from None
    return interpreter


def _tflite_quantization(detail: dict) -> tuple | None:
    params = detail.get("quantization_parameters") or {}
    scales = np.asarray(params.get("scales", []), dtype=np.float64)
    zero_points = np.asarray(params.get("zero_points", []), dtype=np.int64)
    if scales.size == 0:
        scale, zero_point = detail.get("quantization", (0.0, 0))
        return None if scale == 0.0 else (float(scale), int(zero_point))
    if scales.size == 1:
        return (float(scales[0]), int(zero_points[0]))
    return (tuple(float(s) for s in scales), tuple(int(z) for z in zero_points))


def _tflite_info(detail: dict) -> TensorInfo:
    shape = tuple(int(d) for d in detail["shape"])
    return TensorInfo(detail["name"], shape, np.dtype(detail["dtype"]), _tflite_quantization(detail))


class LiteRTRunner(Runner):
    """A .tflite model in the LiteRT interpreter (reference kernels with ``op_resolver="reference"``)."""

    backend = "litert"

    def __init__(self, path: Path, *, op_resolver: str = "default", num_threads: int | None = None):
        module = _interpreter_module()
        kwargs = {"model_path": str(path)}
        if num_threads is not None:
            kwargs["num_threads"] = int(num_threads)
        if op_resolver == "reference":
            kwargs["experimental_op_resolver_type"] = module.OpResolverType.BUILTIN_REF
        try:
            interp = module.Interpreter(**kwargs)
            interp.allocate_tensors()
        except Exception as exc:
            raise ValueError(f"cannot read TFLite model {path}: {exc}") from exc
        self._interp = interp
        self.op_resolver = op_resolver
        self._in_index = {d["name"]: d["index"] for d in interp.get_input_details()}
        inputs = tuple(_tflite_info(d) for d in interp.get_input_details())
        details = interp.get_output_details()
        if any(-1 in d.get("shape_signature", d["shape"]) for d in details):
            # Some converted graphs (e.g. the float Ultraface .tflite files) report [1,1,4] until the first invoke;
            # one run on zeros resolves the real output shapes so `outputs` is right before the caller's first run.
            for d in interp.get_input_details():
                interp.set_tensor(d["index"], np.zeros(d["shape"], dtype=d["dtype"]))
            try:
                interp.invoke()
            except Exception as exc:
                raise ValueError(f"cannot run TFLite model {path}: {exc}") from exc
            details = interp.get_output_details()
        self._out_index = {d["name"]: d["index"] for d in details}
        super().__init__(path, inputs, tuple(_tflite_info(d) for d in details))

    def run(self, array) -> dict[str, np.ndarray]:
        for name, a in self._feeds(array).items():
            self._interp.set_tensor(self._in_index[name], a)
        self._interp.invoke()
        # get_tensor returns a copy, so results stay valid after the next invoke.
        return {t.name: self._interp.get_tensor(self._out_index[t.name]) for t in self.outputs}


def _onnx_dim(d):
    return d if isinstance(d, int) and d >= 0 else None


def _onnx_quantization(meta: Mapping[str, str], name: str) -> tuple | None:
    """(scale, zero_point) of an integer tensor from the model's metadata ``quant.<name>`` (JSON with "scale" and
    "zero_point", as the int8-output exports record it), or None."""
    raw = meta.get(f"quant.{name}")
    if raw is None:
        return None
    try:
        q = json.loads(raw)
        return float(q["scale"]), int(q["zero_point"])
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"metadata quant.{name} is not JSON with scale and zero_point: {raw!r}") from None


class OnnxRunner(Runner):
    """An .onnx model in onnxruntime (CPUExecutionProvider)."""

    backend = "onnxruntime"

    def __init__(self, path: Path, *, num_threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise ImportError("running .onnx models needs onnxruntime: pip install onnxruntime") from None
        options = ort.SessionOptions()
        options.log_severity_level = 3  # the Ultraface exports list their weights as inputs: one warning each
        if num_threads is not None:
            options.intra_op_num_threads = int(num_threads)
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ValueError(f"cannot read ONNX model {path}: {exc}") from exc
        self._session = session
        self.op_resolver = "default"
        meta = session.get_modelmeta().custom_metadata_map

        def info(arg) -> TensorInfo:
            dtype = _ONNX_DTYPES.get(arg.type)
            if dtype is None:
                raise ValueError(f"{path}: tensor {arg.name!r} has unsupported type {arg.type}")
            return TensorInfo(
                arg.name, tuple(_onnx_dim(d) for d in arg.shape), np.dtype(dtype), _onnx_quantization(meta, arg.name)
            )

        super().__init__(
            path, tuple(info(a) for a in session.get_inputs()), tuple(info(a) for a in session.get_outputs())
        )

    def run(self, array) -> dict[str, np.ndarray]:
        names = [t.name for t in self.outputs]
        return dict(zip(names, self._session.run(names, self._feeds(array)), strict=True))


def load_model(path, *, op_resolver: str = "default", num_threads: int | None = None) -> Runner:
    """Open a .tflite or .onnx detector.

    ``op_resolver``: ``"default"`` (LiteRT's optimized CPU kernels) or ``"reference"`` (LiteRT's reference kernels:
    slower, bit-identical to TensorFlow Lite Micro; .tflite only). ``num_threads``: CPU threads for the backend
    (onnxruntime's intra-op threads; LiteRT's interpreter threads), ``None`` for the backend's default.
    """
    if op_resolver not in OP_RESOLVERS:
        raise ValueError(f"op_resolver must be one of {OP_RESOLVERS}, got {op_resolver!r}")
    check_count(num_threads, "num_threads", lo=1, hi=MAX_THREADS, allow_none=True)
    p = Path(os.fspath(path))
    if not p.exists():
        raise FileNotFoundError(f"model file not found: {p}")
    if not p.is_file():
        raise ValueError(f"model path is not a file: {p}")
    suffix = p.suffix.lower()
    if suffix == ".tflite":
        return LiteRTRunner(p, op_resolver=op_resolver, num_threads=num_threads)
    if suffix == ".onnx":
        if op_resolver != "default":
            raise ValueError(f"op_resolver={op_resolver!r} applies to .tflite models only, not {p.name}")
        return OnnxRunner(p, num_threads=num_threads)
    raise ValueError(f"unknown model format {suffix or '(no extension)'!r} for {p}; expected one of {MODEL_SUFFIXES}")
