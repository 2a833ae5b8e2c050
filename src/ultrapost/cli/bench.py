"""``ultrapost bench``: ultrapost against the post-processors people use today, same inputs, same run."""

from __future__ import annotations

import argparse
import json
import math
import sys

from ultrapost.cli.progress import Steps

DESCRIPTION = """\
Time ultrapost's post-processing (score test, top candidates, decode, hard NMS) against, on the same inputs in the
same run:

  ultrapost golden (numpy)        ultrapost's numpy twin of the C (bit-identical; the correctness model)
  numpy predict()                 the Ultraface repository's predict(): float32 decode of every anchor, then
                                  threshold and hard NMS in numpy
  numpy decode + OpenCV NMSBoxes  cv2.dnn.NMSBoxes with the same 200-candidate limit
  numpy decode + onnxruntime NMS  onnxruntime's NonMaxSuppression operator
  numpy copy of the two inputs    scores.copy(); boxes.copy(): a floor, the cost of reading the outputs once

Without --model, the inputs are built-in synthetic Ultraface outputs shaped like RFB-320's on a group photo (20
faces, about 80 candidates above 0.7); no model file is needed. With --model, the model runs once on a photo and
its outputs are used as the model gives them (int8 stays int8 for ultrapost; the float peers get dequantized,
softmaxed copies, made before timing). --image takes several photos or folders of them: then one line per photo
and a summary per method (the ratio of the totals over the set, and the least, median and largest per-photo
ratio) replace the detailed table.

Each method is timed with time.perf_counter_ns over many calls, methods interleaved, the garbage collector off;
"median" and "p90" are per call, in microseconds; "x" is a method's median over ultrapost's (how many times slower
than ultrapost it is). Before timing, every method's decisions are compared with ultrapost's: the same kept faces
(golden: the same integers).

With a YuNet model (--model face_detection_yunet_*.onnx, float outputs), the bench is YuNet's: per photo
letterboxed into the frame (the model's size, 320x320 for the dynamic model), ultrapost's C against
cv2.FaceDetectorYN's own pre- plus post-processing (FaceDetectorYN.detect against cv2.dnn forward of the same model
and blob, interleaved pairs: the median paired difference), the numpy decode + cv2.dnn.NMSBoxes, the numpy
transcription of FaceDetectorYN's rules and the golden model, on the outputs of that forward; thread CPU time,
OpenCV on one thread; every method's faces checked against FaceDetectorYN.detect's (within 1/16 px).

A second table repeats the comparison on synthetic outputs at every Ultraface input size, 128x96 (708 anchors) to
1280x960 (70500 anchors); --plot draws it (latency against anchors, log-log; needs matplotlib, the 'plot' extra).

Exit status: 0 when every method decided like ultrapost, 1 otherwise (the differing ones are listed).
"""

EPILOG = """\
examples:
  ultrapost bench                                   # synthetic outputs, about 10 s
  ultrapost bench --quick                           # about 3 s, noisier
  ultrapost bench --json > bench.json
  ultrapost bench --plot scaling.png
  ultrapost bench --model version-RFB-320_without_postprocessing.onnx --image group.jpg
  ultrapost bench --model version-RFB-320.onnx --image photos/ --no-scaling   # every photo in a folder
  ultrapost bench --frame --model ultraface_ultraslim_int8.tflite --plot frame.png    # per frame, built-in frame
  ultrapost bench --model face_detection_yunet_2026may.onnx --image photos/  # against cv2.FaceDetectorYN
"""

COLORS = {
    "ultrapost": (214, 39, 40),
    "golden": (148, 103, 189),
    "numpy_predict": (31, 119, 180),
    "opencv_nms": (44, 160, 44),
    "onnxruntime_nms": (255, 127, 14),
    "numpy_copy": (127, 127, 127),
}


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "bench",
        help="time ultrapost against numpy predict(), OpenCV and onnxruntime NMS",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", "-m", metavar="MODEL", help="an Ultraface .onnx/.tflite: time on its real outputs")
    p.add_argument(
        "--image",
        nargs="+",
        metavar="IMAGE",
        help="the photo(s) --model runs on, or folders of .jpg/.png (default: the shared test photo)",
    )
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.add_argument(
        "--plot",
        metavar="OUT.png",
        help="also draw latency against anchors for each method (matplotlib: pip install 'ultrapost[plot]')",
    )
    p.add_argument("--score-threshold", type=float, metavar="T", help="score threshold (0.7; a YuNet model: 0.6)")
    p.add_argument("--iou-threshold", type=float, default=0.3, metavar="T", help="IoU threshold (0.3)")
    p.add_argument(
        "--budget", type=float, default=0.5, metavar="S", help="seconds of timing per method, main table (0.5)"
    )
    p.add_argument(
        "--quick", action="store_true", help="a few seconds in all: short timing, fewer samples (noisier numbers)"
    )
    p.add_argument("--no-scaling", action="store_true", help="skip the table over input sizes")
    p.add_argument(
        "--nms",
        action="store_true",
        help="time ultrapost.nms against torchvision.ops.nms, cv2.dnn.NMSBoxes and onnxruntime's NonMaxSuppression "
        "on generated box sets of 1,000 to 100,000 boxes (--quick: 1,000 and 10,000)",
    )
    p.add_argument("--sizes", type=int, nargs="+", metavar="N", help="--nms: box counts (1000 3000 10000 30000 100000)")
    p.add_argument("--sets", nargs="+", metavar="SET", help="--nms: random, clustered, crowd (all three)")
    p.add_argument(
        "--frame",
        action="store_true",
        help="per frame: FaceDetector's stages (pre-processing, inference, post-processing) against bare inference "
        "and the naive cv2 + numpy + predict() pipeline, for --model on --image or a built-in frame",
    )
    p.add_argument("--frame-size", metavar="WxH", default="640x480", help="--frame: the frame's size (640x480)")
    p.add_argument("--threads", type=int, default=1, metavar="N", help="--frame: the model runtime's threads (1)")
    p.add_argument(
        "--interpolation",
        metavar="KIND",
        help="--frame: FaceDetector's pre-processing (pil, cv2, nearest, mediapipe; default: the family's reference)",
    )
    p.set_defaults(func=run)
    return p


def _default_image():
    from ultrapost.data import data_dir

    root = data_dir()
    path = root / "images" / "nasa_group.jpg" if root else None
    if path is None or not path.exists():
        raise ValueError("--model needs --image PHOTO (no shared test photo found)")
    return path


def _images(paths) -> list:
    """The photos named, folders expanded to their .jpg/.jpeg/.png files in name order."""
    from pathlib import Path

    out = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.suffix.lower() in (".jpg", ".jpeg", ".png"))
            if not found:
                raise ValueError(f"no .jpg/.jpeg/.png photo in {p}")
            out += found
        else:
            out.append(p)
    return out


def _photo_table(results: list[dict], summary: dict) -> list[str]:
    keys = [m["method"] for m in results[0]["methods"]]
    peers = [k for k in keys if k not in ("ultrapost", "golden")]
    short = {
        "numpy_predict": "x predict()",
        "opencv_nms": "x OpenCV",
        "onnxruntime_nms": "x onnxruntime",
        "numpy_copy": "x copy",
    }
    lines = [
        f"{results[0]['workload'].get('model', '')}: median us per call, and each peer's time x ultrapost's",
        f"  {'photo':<24} {'cand.':>6} {'kept':>5} {'ultrapost us':>13} " + " ".join(f"{short[k]:>14}" for k in peers),
    ]
    for r in results:
        w, m = r["workload"], {x["method"]: x for x in r["methods"]}
        lines.append(
            f"  {w.get('image', w['name'])[:24]:<24} {w['candidates']:>6} {w['kept']:>5} "
            f"{m['ultrapost']['median_us']:>13.2f} " + " ".join(f"{m[k]['ratio']:>14.2f}" for k in peers)
        )
    lines.append(
        f"summary over {summary['photos']} photos (x ultrapost: ratio of totals; per photo least / median / most):"
    )
    for key in keys:
        s = summary["methods"][key]
        line = f"  {s['label']:<32} total {s['total_us']:>9.1f} us"
        if key != "ultrapost":
            spread = f"{s['ratio_min']:.2f} / {s['ratio_median']:.2f} / {s['ratio_max']:.2f}"
            line += f"  {s['ratio_of_totals']:>7.2f}x  ({spread})"
        lines.append(line)
    return lines


def _table(result: dict) -> list[str]:
    w = result["workload"]
    lines = [
        f"{w['name']}: {w['anchors']} anchors, {w['candidates']} candidates above {w['score_threshold']}, "
        f"{w['kept']} faces kept (IoU {w['iou_threshold']})",
        f"  {'method':<32} {'median us':>10} {'p90 us':>10} {'x':>8}  decisions",
    ]
    for m in result["methods"]:
        lines.append(
            f"  {m['label']:<32} {m['median_us']:>10.1f} {m['p90_us']:>10.1f} {m['ratio']:>8.2f}  "
            f"{m.get('decisions', '')}"
        )
    return lines


def _scaling_table(rows: list[dict]) -> list[str]:
    keys = [m["method"] for m in rows[0]["methods"]]
    short = {
        "ultrapost": "ultrapost",
        "golden": "golden",
        "numpy_predict": "predict()",
        "opencv_nms": "OpenCV",
        "onnxruntime_nms": "onnxruntime",
        "numpy_copy": "copy",
    }
    head = f"  {'anchors':>8} " + " ".join(f"{short.get(k, k):>18}" for k in keys)
    lines = ["median us per call (x ultrapost) on synthetic outputs at each Ultraface input size:", head]
    for r in rows:
        cells = []
        for m in r["methods"]:
            cell = (
                f"{m['median_us']:.1f} ({m['ratio']:.1f}x)" if m["method"] != "ultrapost" else f"{m['median_us']:.1f}"
            )
            cells.append(f"{cell:>18}")
        lines.append(f"  {r['workload']['anchors']:>8} " + " ".join(cells))
    return lines


def plot(rows: list[dict], path) -> None:
    """Median latency against anchors, one line per method, log-log, as an image (matplotlib, the 'plot' extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise ModuleNotFoundError("--plot needs matplotlib: pip install 'ultrapost[plot]'") from None
    from ultrapost.bench import LABELS

    fig, ax = plt.subplots(figsize=(9, 5.6), layout="constrained")
    xs = [r["workload"]["anchors"] for r in rows]
    for key in [m["method"] for m in rows[0]["methods"]]:
        pts = [
            (r["workload"]["anchors"], m["median_us"])
            for r in rows
            for m in r["methods"]
            if m["method"] == key and m["median_us"] > 0
        ]
        color = COLORS.get(key)
        xs_, ys_ = [a for a, _ in pts], [u for _, u in pts]
        ax.plot(
            xs_,
            ys_,
            marker="o",
            linewidth=2,
            label=LABELS.get(key, key),
            color=None if color is None else tuple(c / 255 for c in color),
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(xs, [str(x) for x in xs], rotation=30)
    ax.minorticks_off()
    ax.set_xlabel("anchors (Ultraface input 128x96 ... 1280x960)")
    ax.set_ylabel("median latency per call (µs, log scale)")
    ax.set_title("Post-processing latency against model input size")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    try:
        fig.savefig(path, dpi=120)
    except (ValueError, OSError) as exc:
        raise ValueError(f"cannot write plot {path}: {' '.join(str(exc).split())}") from None
    finally:
        plt.close(fig)


def run_nms(args) -> int:
    from ultrapost.bench import nms as bench_nms

    sizes = args.sizes or (bench_nms.QUICK_SIZES if args.quick else bench_nms.SIZES)
    sets = args.sets or bench_nms.SETS
    for kind in sets:
        if kind not in bench_nms.SETS:
            raise ValueError(f"--sets: unknown box set {kind!r}; one of {', '.join(bench_nms.SETS)}")
    if any(n < 1 for n in sizes):
        raise ValueError(f"--sizes must be >= 1, got {list(sizes)}")
    budget = min(args.budget, 0.2) if args.quick else args.budget
    _progress = Steps(None, "bench nms", "timing")
    result = bench_nms.run(sizes, sets, iou=args.iou_threshold, budget=budget, progress=_progress)
    _progress.close()
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(f"ultrapost.nms against its peers, IoU threshold {args.iou_threshold}, median ms per call")
        print(bench_nms.format_table(result))
    differing = [
        (r["set"], r["n"], name)
        for r in result["rows"]
        for name, e in r["methods"].items()
        if e.get("same_decisions") is False
    ]
    for kind, n, name in differing:
        print(f"decisions differ: {bench_nms.PEER_LABELS[name]} on {kind} N={n}", file=sys.stderr)
    return 1 if differing else 0


def run(args) -> int:
    if args.frame:
        from ultrapost.cli.bench_frame import run_frame

        return run_frame(args)
    if args.nms:
        if args.model or args.image or args.plot:
            raise ValueError("--nms times generated box sets: --model, --image and --plot do not apply")
        return run_nms(args)
    from ultrapost import bench

    if not (math.isfinite(args.budget) and args.budget > 0):
        raise ValueError(f"--budget must be > 0 seconds (and finite), got {args.budget}")
    yunet_threshold = args.score_threshold is None
    if args.score_threshold is None:
        args.score_threshold = 0.7
    if args.image and not args.model:
        raise ValueError("--image is for --model: the default bench uses synthetic outputs")
    budget, scaling_budget, min_samples = args.budget, min(args.budget, 0.15), 15
    if args.quick:
        budget, scaling_budget, min_samples = min(budget, 0.05), min(budget, 0.02), 5
    missing = bench.missing_methods()
    methods = [k for k, _ in bench.METHODS if k not in missing]
    images = _images(args.image) if args.image else [_default_image()] if args.model else []
    detector = None
    if args.model:
        from ultrapost.pipeline.detect import FaceDetector

        detector = FaceDetector(args.model)
        if detector.spec.family == "yunet":
            if yunet_threshold:
                args.score_threshold = 0.6
            return _run_yunet(args, detector, images, budget, min_samples)
    if args.plot and (args.no_scaling or len(images) > 1):
        raise ValueError("--plot draws the table over input sizes: drop --no-scaling, give one photo (or none)")
    if len(images) > 1:
        return _run_photos(args, detector, images, budget, min_samples, methods, missing)
    from ultrapost.core.priors import ULTRAFACE_SIZES

    _progress = Steps(bool(args.model) + 1 + (0 if args.no_scaling else len(ULTRAFACE_SIZES)), "bench", "workload")
    if args.model:
        _progress("loading the model")
        workload = bench.model_workload(
            detector, images[0], score_threshold=args.score_threshold, iou_threshold=args.iou_threshold
        )
    else:
        workload = bench.synthetic_workload(score_threshold=args.score_threshold, iou_threshold=args.iou_threshold)
    _progress(workload.name)
    main = bench.compare(workload, budget=budget, min_samples=min_samples, methods=methods)
    rows = (
        []
        if args.no_scaling
        else bench.scaling(budget=scaling_budget, min_samples=min_samples, methods=methods, progress=_progress)
    )
    _progress.close()
    differing = _differing([main, *rows])
    if args.json:
        print(
            json.dumps(
                {
                    "versions": bench.versions(),
                    "main": main,
                    "scaling": rows,
                    "not_installed": missing,
                    "same_decisions": not differing,
                }
            )
        )
    else:
        print("\n".join(_table(main)))
        for key, package in missing.items():
            print(f"  ({bench.LABELS[key]}: not timed, needs pip install {package})")
        if rows:
            print()
            print("\n".join(_scaling_table(rows)))
        print()
        _print_decisions(differing, "input")
    if args.plot:  # after the tables: a missing plotting library costs the plot, not the timings
        try:
            plot(rows, args.plot)
        except ModuleNotFoundError as exc:
            print(f"ultrapost bench: {exc}; no plot written", file=sys.stderr)
            return 1
        if not args.json:
            print(f"plot written to {args.plot}")
    return 1 if differing else 0


def _differing(results: list[dict]) -> list[tuple[str, str, str]]:
    """(workload, method label, what differs) for every method that did not decide like ultrapost."""
    return [
        (r["workload"]["name"], m["label"], m["decisions"])
        for r in results
        for m in r["methods"]
        if m.get("decisions", "same") != "same"
    ]


def _print_decisions(differing, unit: str) -> None:
    for name, label, what in differing:
        print(f"DECISIONS DIFFER: {label} on {name}: {what}")
    if not differing:
        print(f"decisions: every method kept the same faces as ultrapost on every {unit} (golden: same integers)")


def _run_yunet(args, detector, images, budget, min_samples) -> int:
    """A YuNet model: ultrapost against cv2.FaceDetectorYN's own post-processing and the numpy paths (bench.yunet)."""
    from ultrapost import bench
    from ultrapost.bench import yunet

    if args.plot:
        raise ValueError("--plot draws the Ultraface table over input sizes; it does not apply to a YuNet model")
    if bench.missing_methods().get("opencv_nms"):
        raise ModuleNotFoundError("the YuNet bench needs OpenCV: pip install opencv-python-headless")
    if any(q is not None for q in detector.spec.output_quantization.values()):
        raise ValueError(
            f"{detector.runner.path.name} has int8 outputs, which cv2.FaceDetectorYN reads as float "
            "(opencv/opencv#28798): bench a float YuNet model (ultrapost decodes the int8 ones natively)"
        )
    frame = detector.spec.input_size or (320, 320)
    _progress = Steps(len(images), "bench yunet", "photo")
    result = yunet.run(
        args.model,
        images,
        frame=frame,
        score=args.score_threshold,
        iou=args.iou_threshold,
        budget=budget,
        min_samples=min_samples,
        pairs=31 if args.quick else 201,
        progress=_progress,
    )
    _progress.close()
    differing = [
        (r["image"], m["label"], m["decisions"])
        for r in result["photos"]
        for m in r["methods"]
        if m["decisions"] != "same"
    ]
    if args.json:
        print(json.dumps({"versions": bench.versions(), "yunet": result, "same_decisions": not differing}))
    else:
        print("\n".join(yunet.table(result)))
        print()
        _print_decisions(differing, "photo")
    return 1 if differing else 0


def _run_photos(args, detector, images, budget, min_samples, methods, missing) -> int:
    """--image with several photos: one compare per photo with the model loaded once, then the summary (the
    table over input sizes is about synthetic outputs, so it is not made here)."""
    from ultrapost import bench

    _progress = Steps(len(images), "bench", "workload")
    results = []
    for image in images:
        wl = bench.model_workload(
            detector, image, score_threshold=args.score_threshold, iou_threshold=args.iou_threshold
        )
        _progress(wl.name)
        results.append(bench.compare(wl, budget=budget, min_samples=min_samples, methods=methods))
    _progress.close()
    summary = bench.summarize(results)
    differing = _differing(results)
    if args.json:
        print(
            json.dumps(
                {
                    "versions": bench.versions(),
                    "photos": results,
                    "summary": summary,
                    "not_installed": missing,
                    "same_decisions": not differing,
                }
            )
        )
    else:
        print("\n".join(_photo_table(results, summary)))
        print()
        _print_decisions(differing, "photo")
    return 1 if differing else 0
