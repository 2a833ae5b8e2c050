"""``ultrapost firmware-check``: the C core on emulated Cortex-M boards against the golden model, and its footprint."""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from ultrapost.cli.progress import Steps

DESCRIPTION = """\
Build the core (csrc/) for emulated Cortex-M boards with arm-none-eabi-gcc, run every vector set on qemu through
semihosting, and compare the firmware's output bytes with the golden model's (expected.bin). Then measure the
footprint. Exit status 0 only when every record of every set is identical on every board.

Vector sets: the built-in suite (written to WORK/suite: every input kind -- int8, int32 and float32 converted on the
host -- with probabilities and logits, raw and decoded boxes, both prior conventions, clipping, a dropped finest
level, candidate limits, NXP's ultraslim [172, 6] int8 and float, every NMS kind (hard, blend, weighted, soft
linear and Gaussian), "+1 pixel" IoU areas, ">=" score tests, multi-class labels, BlazeFace short range (896
anchors) and full range (2304) with 6 keypoints, YuNet int8 and float32 (up_yunet_run, 5 landmarks, OpenCV's rules
and the single-test preset), the packed RetinaFace int8 and float32 (its [N, 16] rows read in place by
up_run_keypoints), and records that must fail with a status; outputs compared include keypoints and labels), and
any set written by `ultrapost vectors` (--vectors DIR, repeatable; --no-suite to run only those).

The harness fences every output and scratch buffer with guard bytes, pre-fills them, checksums the input and paints
the stack; a changed guard, a modified input, a fault or a stack overflow ends the run with its status (reported).

Footprint, per board (firmware/README.md "Measurements"):
  core .text / .rodata   input sections kept from the core at -Os with --gc-sections, in an image that calls every
                         public function: the full core, and the minimal build (UP_NO_SOFT_NMS, UP_NO_MERGE_NMS,
                         UP_NO_KEYPOINTS, UP_NO_LABELS, UP_NO_BOXES: Ultraface + hard NMS)
  stack                  worst chain from up_run in gcc's -fstack-usage / -fcallgraph-info (static bound), and the
                         largest high-water mark measured around up_run over every record
  scratch                up_scratch_size(cfg) of each configuration
  instructions           executed by one ultraslim up_run (int8 [172, 6]), counted exactly from qemu's trace
  yunet                  up_yunet_run on an int8 320x320 frame (nasa_group.jpg through the int8 model when the
                         shared data is there; a frame where nothing passes): instructions, the code a
                         YuNet-only firmware keeps (functions reachable from up_yunet_run), stack, scratch
  retinaface_packed      Pytorch_Retinaface mobilenet0.25's packed [16800, 16] output at 640x640 with detect.py's
                         decisions, read in place: nasa_group.jpg through the int8-output model and the float model
                         (converted to int32 on the host) when the shared data is there (else a generated frame),
                         and an int8 frame where nothing passes: records, identical, instructions, faces, stack
  preprocess             up_pre_run on camera frames (RGB565, RGB888, YUYV; every interpolation, layout and
                         type, strided rows, crops, letterbox, error statuses) against the host C and the golden
                         model; instructions per output pixel of a 160x120 RGB565 frame to ultraslim's 128x128
                         int8 input; .text of up_preprocess.c, stack, scratch; and whole frames (shared photos as
                         160x120 RGB565 -> tensor on the board -> the int8 ultraslim model on the host (LiteRT)
                         -> up_run on the board -> faces) when the shared data and LiteRT are there
"""

EPILOG = """\
targets: core .text <= 4096 B, ultraslim scratch <= 1024 B, stack <= 256 B, ultraslim <= 20000 instructions,
pre-processing (Cortex-M33, 160x120 RGB565 -> 128x128 int8) <= 50 instructions per output pixel.

examples:
  ultrapost firmware-check                          # an386 and an505, the built-in suite
  ultrapost firmware-check --board an505 --json
  ultrapost vectors --family ultraslim -o v/slim && ultrapost firmware-check --vectors v/slim --no-suite
"""

BOARD_CHOICES = ("an386", "an505", "all")
TARGETS = {
    "core_text": 4096,
    "ultraslim_scratch": 1024,
    "stack": 256,
    "ultraslim_instructions": 20000,
    "preprocess_instructions_per_output_pixel": 50,
}


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "firmware-check",
        help="run every vector set on emulated Cortex-M boards, compare with the golden model, report the footprint",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--board",
        choices=BOARD_CHOICES,
        default="all",
        help="an386 (Cortex-M4), an505 (Cortex-M33, as in NXP MCX N947) or all (default)",
    )
    p.add_argument(
        "--vectors",
        action="append",
        default=[],
        metavar="DIR",
        help="a vector set written by `ultrapost vectors` (repeatable)",
    )
    p.add_argument("--no-suite", action="store_true", help="run only the --vectors sets")
    p.add_argument("--cases", type=int, default=7, help="generated inputs per suite configuration (default 7)")
    p.add_argument("--seed", type=int, default=0, help="seed of the suite's inputs (default 0)")
    p.add_argument("--count", action="store_true", help="also count the instructions of every record (slower)")
    p.add_argument("--no-footprint", action="store_true", help="skip the footprint measurements")
    p.add_argument("--work-dir", default="build/firmware-check", help="builds and runs (default build/firmware-check)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds before a qemu run is killed (default 300)")
    p.add_argument("--json", action="store_true", help="print one JSON report")
    p.set_defaults(func=run)
    return p


@dataclass
class SetResult:
    name: str
    path: str
    records: int
    identical: int = 0
    mismatches: list[str] = field(default_factory=list)
    error: str | None = None  # the run failed as a whole (build error, guard overwritten, fault...)
    max_stack: int = 0
    instructions: dict[str, int] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.mismatches and self.identical == self.records

    def to_json(self) -> dict:
        d = {k: getattr(self, k) for k in ("name", "path", "records", "identical", "mismatches", "error", "max_stack")}
        if self.instructions is not None:
            d["instructions"] = self.instructions
        d["guards_intact"] = self.error is None
        return d


def _describe(got, want) -> str:
    if got.status != want.status:
        return f"status {got.status}, expected {want.status}"
    if len(got) != len(want):
        return f"{len(got)} detections, expected {len(want)}"
    for part in ("anchors", "scores", "boxes"):
        a, b = getattr(got, part), getattr(want, part)
        if a.dtype != b.dtype or a.shape != b.shape or (a != b).any():
            return f"{part} differ"
    return "differs"


def check_set(board: str, vset, work: Path, *, count: bool = False, timeout: float = 300.0):
    """Builds the harness with the set's configs, runs its vectors on the board, compares with expected.bin."""
    from ultrapost import firmware as fw

    res = SetResult(vset.path.name, str(vset.path), len(vset.vectors))
    try:
        image = fw.build_harness(board, work / "build", vset.path)
        run = fw.run_vectors(image, vset.vectors, work / "run", timeout=timeout, count_instructions=count)
    except fw.FirmwareError as exc:
        res.error = str(exc).strip().splitlines()[0]
        return res, None
    for name, got, want in zip(vset.names, run.outputs, vset.expected, strict=True):
        if got.equals(want):
            res.identical += 1
        else:
            res.mismatches.append(f"{name}: {_describe(got, want)}")
    # Byte for byte too: the firmware's outputs file against the expected file.
    if (work / "run" / "outputs.bin").read_bytes() != (vset.path / "expected.bin").read_bytes() and not res.mismatches:
        res.mismatches.append("outputs.bin differs from expected.bin")
    res.max_stack = max((s.stack_bytes for s in run.stats), default=0)
    if run.instructions is not None:
        res.instructions = dict(zip(vset.names, run.instructions, strict=True))
    return res, run


def ultraslim_count(board: str, work: Path, timeout: float) -> dict:
    """Instructions of one up_run on NXP's int8 ultraslim tensor: a generated camera frame (3 faces, 4 anchors
    each: the target's figure), dense stress cases, and the shared data's recorded frames when present."""
    import numpy as np

    from ultrapost import firmware as fw
    from ultrapost.firmware import vectorsets as vs
    from ultrapost.firmware.inputs import float_inputs, spec_inputs, ultraslim_frame
    from ultrapost.firmware.spec import ModelSpec

    spec = ModelSpec.ultraslim("ultraslim")
    inputs = [("frame_3_faces", *spec_inputs(spec, *ultraslim_frame(0)))]
    for label, mode in (("dense_random", "random"), ("dense_ties", "ties")):
        inputs.append((label, *spec_inputs(spec, *float_inputs(spec, 1, mode))))
    real = _recorded_frames()
    inputs += [(f"photo_{k}", t[:, :2], t[:, 2:]) for k, t in real]
    records = vs.records_for(spec, 0, inputs, error_records=False)
    vs.write_set(work / "set", [(spec, records)])
    image = fw.build_harness(board, work / "build", work / "set")
    run = fw.run_vectors(image, [r.vector for r in records], work / "run", timeout=timeout, count_instructions=True)
    same = all(o.equals(r.expected) for o, r in zip(run.outputs, records, strict=True))
    per = {
        r.name.split("/", 1)[1]: {"instructions": n, "detections": len(r.expected)}
        for r, n in zip(records, run.instructions, strict=True)
    }
    photos = [v["instructions"] for k, v in per.items() if k.startswith("photo_")]
    return {
        "frame": per["frame_3_faces"]["instructions"],
        "photos_max": max(photos) if photos else None,
        "photos_median": int(np.median(photos)) if photos else None,
        "records": per,
        "identical": same,
    }


def yunet_count(board: str, work: Path, timeout: float) -> dict:
    """YuNet int8 on a 320x320 frame (2100 points; FaceDetectorYN's rules, score 0.6, NMS 0.3, top_k 5000):
    instructions of up_yunet_run on nasa_group.jpg through the int8 model (when the shared data, OpenCV and
    onnxruntime are there) and on a frame where nothing passes (the scan alone); the code a YuNet-only firmware
    keeps (functions reachable from up_yunet_run), its stack and scratch."""
    from ultrapost import firmware as fw
    from ultrapost.firmware import vectorsets as vs
    from ultrapost.firmware.inputs import yunet_outputs
    from ultrapost.firmware.photos import yunet_photo
    from ultrapost.firmware.spec import ModelSpec

    spec = ModelSpec.yunet("yunet320", score_threshold=0.6)
    inputs = [("scan_only", yunet_outputs(spec, 1, "none"))]
    photo = yunet_photo("images/nasa_group.jpg", (320, 320))
    if photo is not None:
        inputs.insert(0, ("photo_nasa_group", photo[0]))
    records = vs.yunet_records(spec, 0, inputs, error_records=False)
    vs.write_set(work / "set", [(spec, records)])
    image = fw.build_harness(board, work / "build", work / "set")
    run = fw.run_vectors(image, [r.vector for r in records], work / "run", timeout=timeout, count_instructions=True)
    fp = fw.reachable_footprint(image, "up_yunet_run")
    st = fw.stack_usage(fw.ci_files(image), "up_yunet_run", image)
    fc, _ = spec.firmware_config()
    return {
        "frame": "320x320",
        "records": {
            r.name.split("/", 1)[1]: {"instructions": n, "detections": len(r.expected)}
            for r, n in zip(records, run.instructions, strict=True)
        },
        "identical": all(o.equals(r.expected) for o, r in zip(run.outputs, records, strict=True)),
        "text": fp.text,
        "rodata": fp.rodata,
        "by_object": {Path(k).name.split(".")[0]: v["text"] + v["rodata"] for k, v in sorted(fp.by_object.items())},
        "library_members": [Path(m).name for m in fw.footprint(image).library_members],
        "config_tables_bytes": 15 * 256 * 4,
        "stack_static": st.bytes,
        "stack_measured": max(s.stack_bytes for s in run.stats),
        "scratch_bytes": fw.scratch_size(fc),
    }


def packed_count(board: str, work: Path, timeout: float) -> dict:
    """The packed RetinaFace at 640x640 (16800 rows of 16, detect.py's decisions), read in place on the board:
    nasa_group.jpg through the int8-output model (int8) and the float model (converted to int32 on the host) when
    the shared data, OpenCV and onnxruntime are there (else a generated frame of each kind), and an int8 frame
    where nothing passes (the scan alone): records and identical, faces per record, the instructions of the int8
    photo's up_run_keypoints (one counted run: tracing is slow) and the stack."""
    from ultrapost import firmware as fw
    from ultrapost.firmware import vectorsets as vs
    from ultrapost.firmware.photos import retinaface_photo_inputs
    from ultrapost.firmware.spec import ModelSpec

    groups = []
    for cid, kind in enumerate(("s8", "f32")):
        spec = ModelSpec.retinaface_packed(f"rfp640_{kind}", input_kind=kind)
        inputs = retinaface_photo_inputs(spec, 1) or vs.generated_packed(spec, 1)
        if kind == "s8":
            inputs.append(("scan_only", vs.generated_packed(spec, 4, seed=1)[3][1]))  # mode none_pass
        groups.append((spec, vs.packed_records(spec, cid, inputs, error_records=False)))
    vs.write_set(work / "set", groups)
    records = [r for _, recs in groups for r in recs]
    image = fw.build_harness(board, work / "build", work / "set")
    run = fw.run_vectors(image, [r.vector for r in records], work / "run", timeout=timeout)
    counted = fw.run_vectors(image, [records[0].vector], work / "count", timeout=timeout, count_instructions=True)
    t06 = round(0.6 * 2**30)  # detect.py draws the faces with score >= 0.6
    return {
        "frame": "640x640",
        "records": len(records),
        "identical": sum(o.equals(r.expected) for o, r in zip(run.outputs, records, strict=True)),
        "by_record": {
            r.name: {"detections": len(r.expected), "faces_0_6": int((r.expected.scores >= t06).sum())} for r in records
        },
        "counted": records[0].name,
        "instructions": counted.instructions[0],
        "counted_identical": counted.outputs[0].equals(records[0].expected),
        "stack_measured": max(s.stack_bytes for s in run.stats),
        "scratch_bytes": fw.scratch_size(groups[0][0].firmware_config()[0]),
    }


def preprocess_check(board: str, work: Path, timeout: float) -> dict:
    """The pre-processing stage on a board (ultrapost.firmware.precheck) and whole frames through it, the model on
    the host and up_run (ultrapost.firmware.wholeframe)."""
    from ultrapost import firmware as fw
    from ultrapost.firmware.precheck import camera_case, check_pre_board
    from ultrapost.firmware.wholeframe import check_frame_set, frame_cases, write_frame_set
    from ultrapost.golden.preprocess import pre_scratch_size

    r = check_pre_board(board, work / "stage", count_instructions=True, timeout=timeout)
    per_pixel = r.instructions_per_output_pixel()
    camera = camera_case(board)[0]
    fp = fw.footprint(r.image)
    st = fw.stack_usage(fw.ci_files(r.image), "up_pre_run", r.image)
    out = {
        "camera": "{}x{} RGB565 -> {}x{} int8 NHWC (ultraslim's input, Pillow's filter)".format(
            *camera_case(board)[1], *camera_case(board)[2]
        ),
        "records": len(r.cases),
        "identical": r.identical,
        "mismatches": r.mismatches,
        "instructions_per_output_pixel": per_pixel[camera],
        "instructions_per_output_pixel_by_interpolation": {k.rsplit("_", 1)[1]: v for k, v in per_pixel.items()},
        "instructions": r.counted,
        "text": fp.text,
        "rodata": fp.rodata,
        "stack_static": st.bytes,
        "stack_measured": max(s.stack_bytes for s in r.run.stats),
        "scratch_bytes": pre_scratch_size(r.configs[0][1]),
        "float_or_heap_symbols": fw.forbidden_symbols(r.image),
        "whole_frame": None,
    }
    cases = frame_cases()
    if cases is None:
        out["whole_frame_skipped"] = "needs the shared data (int8 ultraslim model, photos) and ai-edge-litert"
    else:
        fset = write_frame_set(work / "frames", cases)
        # the stage's runner has the frame set's config as its config 0 (the camera case): no second build
        whole = check_frame_set(board, fset, work / "frames_run", timeout=timeout, pre_image=r.image,
                                pre_config=r.configs[0][1])  # fmt: skip
        out["whole_frame"] = whole
        out["records"] += whole["records"]
        out["identical"] += whole["identical"]
        out["mismatches"] = out["mismatches"] + [f"whole frame {m}" for m in whole["mismatches"]]
    return out


def _recorded_frames():
    """NXP ultraslim int8 outputs recorded on the shared photos, if the data directory is there."""
    import numpy as np

    from ultrapost.data import data_dir

    root = data_dir()
    path = root / "int8" / "outputs_ultraface_ultraslim_int8.npz" if root else None
    if path is None or not path.is_file():
        return []
    with np.load(path) as z:
        return [(k[:-2], z[k]) for k in z.files if k.endswith("_q")]


def footprint(board: str, work: Path) -> dict:
    from ultrapost import firmware as fw

    out = {}
    for label, defines in (("full", None), ("minimal", fw.MINIMAL_FEATURES)):
        image = fw.build_minimal(board, work / label, defines=defines)
        fp = fw.footprint(image)
        lib = fw.footprint_of_members(image, fp.library_members)
        st = fw.stack_usage(fw.ci_files(image), "up_run", image)
        top = max(st.chain, key=lambda c: c[1]) if st.chain else ("", 0)
        out[label] = {
            "text": fp.text,
            "rodata": fp.rodata,
            "data": fp.data,
            "bss": fp.bss,
            "library_text": lib.text,
            "library_members": [Path(m).name for m in fp.library_members],
            "by_object": {Path(k).name.split(".")[0]: v["text"] for k, v in sorted(fp.by_object.items())},
            "stack_static": st.bytes,
            "stack_chain": [[f.rsplit(":", 1)[-1], b] for f, b in st.chain],
            "stack_largest_frame": [top[0].rsplit(":", 1)[-1], top[1]],
            "stack_unbounded": st.unbounded,
            "stack_indirect_calls_in": st.indirect,
            "float_or_heap_symbols": fw.forbidden_symbols(image),
        }
    return out


def run(args) -> int:
    from ultrapost import firmware as fw
    from ultrapost.firmware import vectorsets as vs

    if not (math.isfinite(args.timeout) and args.timeout > 0):
        raise ValueError(f"--timeout must be a finite number of seconds > 0, got {args.timeout}")
    if not fw.toolchain_available():
        raise FileNotFoundError(
            "arm-none-eabi-gcc with newlib not found (install gcc-arm-none-eabi and libnewlib-arm-none-eabi)"
        )
    if not fw.qemu_available():
        raise FileNotFoundError("qemu-system-arm not found (install qemu-system-arm)")
    work = Path(args.work_dir)
    boards = ["an386", "an505"] if args.board == "all" else [args.board]
    paths = [Path(p) for p in args.vectors]
    if not args.no_suite:
        paths.insert(0, vs.write_suite(work / "suite", cases=args.cases, seed=args.seed))
    if not paths:
        raise ValueError("nothing to run: --no-suite needs at least one --vectors DIR")
    sets = [vs.read_set(p) for p in paths]
    scratch = {}
    for s in sets:
        for c in s.manifest["configs"]:
            scratch[c["name"]] = c["scratch_bytes"]

    report = {"boards": {}, "scratch_bytes": scratch, "targets": TARGETS}
    ok = True
    progress = Steps(len(boards) * (len(sets) + (0 if args.no_footprint else 5)), "firmware-check")
    for board in boards:
        b = {"cpu": fw.BOARDS[board].cpu, "sets": [], "records": 0, "identical": 0}
        for i, s in enumerate(sets):
            progress(f"{board}: {s.path.name}")
            res, _run = check_set(
                board, s, work / board / f"set{i}_{s.path.name}", count=args.count, timeout=args.timeout
            )
            b["sets"].append(res.to_json())
            b["records"] += res.records
            b["identical"] += res.identical
            ok &= res.ok
        b["mismatches"] = b["records"] - b["identical"]
        if not args.no_footprint:
            progress(f"{board}: footprint")
            b["footprint"] = footprint(board, work / board / "footprint")
            progress(f"{board}: ultraslim instructions")
            b["ultraslim"] = ultraslim_count(board, work / board / "ultraslim", args.timeout)
            ok &= b["ultraslim"]["identical"]
            progress(f"{board}: yunet instructions")
            b["yunet"] = yunet_count(board, work / board / "yunet", args.timeout)
            ok &= b["yunet"]["identical"]
            progress(f"{board}: packed retinaface instructions")
            b["retinaface_packed"] = packed_count(board, work / board / "retinaface_packed", args.timeout)
            p = b["retinaface_packed"]
            ok &= p["identical"] == p["records"] and p["counted_identical"]
            progress(f"{board}: pre-processing")
            b["preprocess"] = preprocess_check(board, work / board / "preprocess", args.timeout)
            ok &= b["preprocess"]["identical"] == b["preprocess"]["records"]
            b["targets_met"] = _targets(b, scratch)
        report["boards"][board] = b
    progress.close()
    report["ok"] = bool(ok)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        _print(report)
    return 0 if ok else 1


def _targets(b: dict, scratch: dict) -> dict:
    fp = b["footprint"]
    slim = [v for k, v in scratch.items() if k.startswith("ultraslim")] or [0]
    stack = max(fp["minimal"]["stack_static"], max((s["max_stack"] for s in b["sets"]), default=0))
    return {
        "core_text": fp["minimal"]["text"] <= TARGETS["core_text"],
        "core_text_full": fp["full"]["text"] <= TARGETS["core_text"],
        "ultraslim_scratch": max(slim) <= TARGETS["ultraslim_scratch"],
        "stack": stack <= TARGETS["stack"],
        "ultraslim_instructions": b["ultraslim"]["frame"] <= TARGETS["ultraslim_instructions"],
        # the target is the Cortex-M33's; the M4 runs the same instructions
        "preprocess_instructions_per_output_pixel": b["preprocess"]["instructions_per_output_pixel"]
        <= TARGETS["preprocess_instructions_per_output_pixel"],
    }


def _print(report: dict) -> None:
    for board, b in report["boards"].items():
        print(f"{board} ({b['cpu']}): {b['identical']} of {b['records']} records identical to the golden model")
        for s in b["sets"]:
            state = "ok" if s["error"] is None and not s["mismatches"] else "FAILED"
            print(f"  {s['name']:24s} {s['identical']:4d}/{s['records']:<4d} {state}  stack used {s['max_stack']} B")
            if s["error"]:
                print(f"    run failed: {s['error']}")
            for m in s["mismatches"][:20]:
                print(f"    {m}")
            if len(s["mismatches"]) > 20:
                print(f"    ... {len(s['mismatches']) - 20} more")
        if "footprint" in b:
            for label, f in b["footprint"].items():
                chain = " -> ".join(f"{n}({v})" for n, v in f["stack_chain"])
                print(
                    f"  core {label:7s} .text {f['text']:5d} B  .rodata {f['rodata']:4d} B"
                    f"  (+ library {f['library_text']} B)  static stack {f['stack_static']} B: {chain}"
                )
                if f["stack_indirect_calls_in"]:
                    where = ", ".join(f["stack_indirect_calls_in"])
                    print(f"    indirect calls not followed by the stack bound, in: {where}")
            u = b["ultraslim"]
            dense = ", ".join(
                f"{k} {v['instructions']} ({v['detections']} faces)"
                for k, v in u["records"].items()
                if not k.startswith("photo_")
            )
            print(f"  ultraslim up_run instructions: {dense}")
            if u["photos_max"] is not None:
                print(f"    recorded photos: median {u['photos_median']}, max {u['photos_max']}")
            y = b["yunet"]
            runs = ", ".join(f"{k} {v['instructions']} ({v['detections']} faces)" for k, v in y["records"].items())
            print(f"  yunet int8 320x320 up_yunet_run instructions: {runs}")
            print(
                f"    code .text {y['text']} B .rodata {y['rodata']} B"
                f" (+ {y['config_tables_bytes']} B of config tables), static stack {y['stack_static']} B,"
                f" scratch {y['scratch_bytes']} B"
            )
            p = b["retinaface_packed"]
            faces = ", ".join(f"{k} {v['detections']} ({v['faces_0_6']} >= 0.6)" for k, v in p["by_record"].items())
            print(f"  retinaface_packed 640x640: {p['identical']} of {p['records']} records identical: {faces}")
            print(f"    up_run_keypoints instructions, {p['counted']}: {p['instructions']}")
            p = b["preprocess"]
            inter = ", ".join(f"{k} {v}" for k, v in p["instructions_per_output_pixel_by_interpolation"].items())
            print(f"  pre-processing: {p['identical']} of {p['records']} records identical; {p['camera']}:")
            print(f"    instructions per output pixel {inter}")
            print(
                f"    up_preprocess.c .text {p['text']} B, static stack {p['stack_static']} B (measured"
                f" {p['stack_measured']} B), scratch {p['scratch_bytes']} B"
            )
            w = p["whole_frame"]
            if w is None:
                print(f"    whole frames: skipped ({p['whole_frame_skipped']})")
            else:
                faces = ", ".join(f"{k} {v}" for k, v in w["faces"].items())
                print(f"    whole frames ({w['frame']}): {w['identical']} of {w['records']} identical; faces {faces}")
            for m in p["mismatches"][:20]:
                print(f"    {m}")
            met = ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in b["targets_met"].items())
            print(f"  targets: {met}")
    print("scratch bytes: " + ", ".join(f"{k} {v}" for k, v in report["scratch_bytes"].items()))
    print("all identical" if report["ok"] else "MISMATCH or failed run: see above")
