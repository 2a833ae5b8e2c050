"""``ultrapost vectors``: test vectors (inputs and golden outputs) for a model configuration, for a board."""

from __future__ import annotations

import argparse
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ultrapost.cli.model_options import MODEL_HELP, add_model_options, spec_from_args

DESCRIPTION = """\
Write test vectors for one model configuration: generated inputs of the configuration's kind and the numpy golden
model's outputs, as binary files and as a C header, so the same cases run on a real board and in the emulator:

  OUT/configs.h, cfg_<name>.h   the config as const data (config id 0), as `ultrapost codegen` writes it
  OUT/vectors.bin               the inputs (UPVEC001, firmware/README.md "Binary formats")
  OUT/expected.bin              the golden model's outputs (UPOUT002): status, count, boxes Q20, scores Q30, anchors,
                                keypoints Q20 and labels when the config has them
  OUT/vectors.h                 the same inputs and outputs as const int8_t / int32_t arrays and a table up_vectors[]
  OUT/manifest.json             what each record is

Generated inputs cycle through the hard cases of ultrapost.families.cases (random, ties, all or none above the
threshold, extreme deltas, degenerate boxes, thresholds on an int8 level); case i is a pure function of (--seed, i).
With --inputs, the tensors come from a .npz file instead (e.g. recorded model outputs). Three records the core must
refuse (one output row short, 4 bytes of scratch short, a too-small row stride) are added unless --no-errors.

float32 models (--input-kind f32): the vectors hold the int32 tensors of the host boundary conversion and the
expected outputs are the golden model's on the float inputs (checked equal to its outputs on the converted ones).

Check them on the emulated boards with `ultrapost firmware-check --vectors OUT`; on a board, compile vectors.h
into a loop over up_vectors[] that calls up_run and compares (README.md, "Firmware").
"""

EPILOG = (
    """\
examples:
  ultrapost vectors --family ultraslim -o vectors/ultraslim --cases 20
  ultrapost vectors --family ultraslim --inputs frames.npz -o vectors/frames     # arrays [172, 6] int8
  ultrapost vectors --input-size 128x96 --input-kind f32 --logits -o vectors/rfb128_f32
  ultrapost vectors --family yunet --input-size 160x120 --score-threshold 0.6 -o vectors/yunet160
  ultrapost vectors --family retinaface_packed -o vectors/retinaface          # 3 shared photos through the model
  ultrapost vectors --family retinaface_packed --input-size 160 --cases 6 --input-kind f32 -o vectors/rf160

--inputs: a .npz whose arrays are the tensors, each array one record in file order: for ultraslim [172, 6] (or
[1, 172, 6]); for ultraface pairs NAME_scores [N, C] and NAME_boxes [N, 4]; for blazeface NAME_scores [N, 1] (logits)
and NAME_boxes [N, 16] (regressors: box, then 6 keypoints); for yunet its 12 outputs by name (cls_8 ... kps_32, one
record) or NAME_cls_8 ... NAME_kps_32 (a record per NAME). dtype: int8 (s8), int32 (i32) or float32 (f32), as
--input-kind says. A YuNet record holds the 12 tensors back to back (cls, obj, bbox, kps, each for strides 8, 16,
32) and is run by up_yunet_run; its expected boxes and keypoints are Q12 pixels; its error records are one output
row short and 4 bytes of scratch short.

retinaface_packed: records hold the [N, 16] tensor as it is (UPVEC002: keypoint offset and stride in the record
header), run in place by up_run_keypoints (scores at column 4, boxes 0, landmarks 6, row stride 16; float32 converted
to int32 at the host boundary, still packed). Without --inputs, at 640x640 the first --photos shared photos
(nasa_group.jpg first) letterboxed to 640 go through the shared model with onnxruntime (s8: the int8-output model,
whose scale and zero point the spec must use; f32 / i32: the float model) when the data is there, plus --cases
generated tensors (default: none when photos are there, else 7). --inputs: arrays [N, 16] (or [1, N, 16]), one
record each. Error records: one output row short, 4 bytes of scratch short, a score and a keypoint stride too small.

"""
    + MODEL_HELP
)


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "vectors",
        help="write test vectors (inputs + golden outputs) as binary files and a C header",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_options(p)
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="directory for the vector set")
    p.add_argument(
        "--cases",
        type=int,
        default=None,
        help="generated inputs (default 7: one per case mode; retinaface_packed with photos: 0)",
    )
    p.add_argument(
        "--photos",
        type=int,
        default=3,
        help="retinaface_packed at 640x640: shared photos through the model (default 3; 0: none)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the generated inputs (default 0)")
    p.add_argument("--inputs", metavar="NPZ", help="take the inputs from a .npz file instead of generating them")
    p.add_argument("--no-errors", action="store_true", help="leave out the records that must fail with a status")
    p.set_defaults(func=run)
    return p


_DTYPES = {"s8": np.int8, "i32": np.int32, "f32": np.float32}
MAX_CASES = 10000  # generated records are kept in memory until written (10,000 f32 Ultraface 320 cases: ~1 GB)


def npz_inputs(spec, path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(label, scores, boxes) per record of a .npz file (see the epilog); TypeError/ValueError name a bad array."""
    try:
        return _npz_inputs(spec, path)
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise ValueError(f"--inputs {path}: not a readable .npz archive ({' '.join(str(exc).split())})") from None
    except ValueError as exc:
        if "pickled" in str(exc):  # np.load's words for a file that is no .npy / .npz (a photo, a text)
            raise ValueError(f"--inputs {path}: not a .npz archive of arrays") from None
        raise


def _yunet_npz(spec, path) -> list[tuple[str, dict]]:
    """(label, outputs) per record: arrays named by YuNet's outputs (cls_8 ... kps_32: one record) or
    RECORD_cls_8 ... RECORD_kps_32 (one record per RECORD)."""
    from ultrapost.core.yunet_config import OUTPUT_NAMES

    want = np.dtype(_DTYPES[spec.input_kind])
    groups: dict[str, dict] = {}
    with np.load(path) as z:
        if not z.files:
            raise ValueError(f"{path}: no arrays")
        for name in z.files:
            out = next((o for o in OUTPUT_NAMES if name == o or name.endswith("_" + o)), None)
            if out is None:
                raise ValueError(f"{path}: array {name} is not named by a YuNet output ({', '.join(OUTPUT_NAMES)})")
            a = z[name]
            if a.dtype != want:
                raise TypeError(f"{path}: {name} is {a.dtype}, --input-kind {spec.input_kind} needs {want}")
            groups.setdefault(name[: -len(out)].rstrip("_") or "0", {})[out] = a
    for label, outputs in groups.items():
        missing = [o for o in OUTPUT_NAMES if o not in outputs]
        if missing:
            raise ValueError(f"{path}: record {label} lacks {', '.join(missing)}")
    return list(groups.items())


def _packed_npz(spec, path) -> list[tuple[str, np.ndarray]]:
    """(label, packed [N, 16]) per array, in file order."""
    want = np.dtype(_DTYPES[spec.input_kind])
    n = spec.processor().num_anchors
    out = []
    with np.load(path) as z:
        if not z.files:
            raise ValueError(f"{path}: no arrays")
        for name in z.files:
            a = z[name]
            a = a[0] if a.ndim == 3 and a.shape[0] == 1 else a
            if a.dtype != want:
                raise TypeError(f"{path}: {name} is {a.dtype}, --input-kind {spec.input_kind} needs {want}")
            if a.shape != (n, 16):
                raise ValueError(f"{path}: {name} has shape {a.shape}, expected ({n}, 16) for this model")
            out.append((name, a))
    return out


def _npz_inputs(spec, path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    if spec.family == "yunet":
        return _yunet_npz(spec, path)
    if spec.family == "retinaface_packed":
        return _packed_npz(spec, path)
    want = np.dtype(_DTYPES[spec.input_kind])
    n = spec.processor().num_anchors
    out = []
    with np.load(path) as z:
        names = list(z.files)
        if not names:
            raise ValueError(f"{path}: no arrays")

        def get(name, cols):
            a = z[name]
            if a.ndim == 3 and a.shape[0] == 1:
                a = a[0]
            if a.dtype != want:
                raise TypeError(f"{path}: {name} is {a.dtype}, --input-kind {spec.input_kind} needs {want}")
            if a.shape != (n, cols):
                raise ValueError(f"{path}: {name} has shape {a.shape}, expected ({n}, {cols}) for this model")
            return a

        if spec.single_tensor:
            for name in names:
                t = get(name, 6)
                out.append((name, t[:, :2], t[:, 2:]))
        else:
            stems = [nm[: -len("_scores")] for nm in names if nm.endswith("_scores")]
            lone = [nm for nm in names if not nm.endswith(("_scores", "_boxes"))]
            if lone or not stems:
                raise ValueError(f"{path}: expected NAME_scores / NAME_boxes pairs, got arrays {names}")
            for stem in stems:
                if f"{stem}_boxes" not in names:
                    raise ValueError(f"{path}: {stem}_scores has no {stem}_boxes")
                out.append((stem, get(f"{stem}_scores", spec.num_classes), get(f"{stem}_boxes", spec.box_columns)))
    return out


def run(args) -> int:
    from ultrapost.firmware import vectorsets
    from ultrapost.firmware.photos import retinaface_photo_inputs

    if args.cases is not None and not 0 <= args.cases <= MAX_CASES:
        raise ValueError(f"--cases must be in [0, {MAX_CASES}], got {args.cases}")
    if not 0 <= args.photos <= 100:
        raise ValueError(f"--photos must be in [0, 100], got {args.photos}")
    if not 0 <= args.seed < 2**32:
        raise ValueError(f"--seed must be in [0, 2**32 - 1], got {args.seed}")
    spec = spec_from_args(args)
    errors = not args.no_errors
    if spec.family == "retinaface_packed":
        if args.inputs:
            inputs = npz_inputs(spec, args.inputs)
        else:
            inputs = retinaface_photo_inputs(spec, args.photos)
            cases = args.cases if args.cases is not None else 0 if inputs else 7
            inputs += vectorsets.generated_packed(spec, cases, args.seed)
        if not inputs:
            raise ValueError("no inputs: give --cases N (no shared photos here) or --inputs")
        records = vectorsets.packed_records(spec, 0, inputs, error_records=errors)
    elif args.inputs:
        make = vectorsets.yunet_records if spec.family == "yunet" else vectorsets.records_for
        records = make(spec, 0, npz_inputs(spec, args.inputs), error_records=errors)
    else:
        cases = 7 if args.cases is None else args.cases
        records = vectorsets.generated_records(spec, 0, cases, args.seed, error_records=errors)
    out = vectorsets.write_set(Path(args.output), [(spec, records)])
    faces = sum(len(r.expected) for r in records)
    print(f"wrote {out}: {len(records)} records ({faces} expected detections) for {spec.name}: {spec.describe()}")
    return 0
