"""``ultrapost bench --frame``: FaceDetector per frame, stage by stage, against bare inference and the naive
pipeline (``ultrapost.bench.frame``)."""

from __future__ import annotations

import json
import math


def _frame_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--frame-size must be WxH (e.g. 640x480), got {text!r}") from None
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise ValueError(f"--frame-size sides must be 16..8192 pixels, got {text!r}")
    return w, h


def run_frame(args) -> int:
    import numpy as np

    from ultrapost.bench import frame as bench_frame
    from ultrapost.pipeline.detect import FaceDetector

    if args.nms:
        raise ValueError("--frame and --nms are separate benchmarks: give one")
    if not args.model:
        raise ValueError("--frame times a model per frame: give --model MODEL (.onnx or .tflite)")
    if args.image and len(args.image) > 1:
        raise ValueError("--frame takes one --image (or none: a built-in frame)")
    if not (math.isfinite(args.budget) and args.budget > 0):
        raise ValueError(f"--budget must be > 0 seconds (and finite), got {args.budget}")
    w, h = _frame_size(args.frame_size)
    if not 1 <= args.threads <= 64:
        raise ValueError(f"--threads must be 1..64, got {args.threads}")
    if args.image:
        import cv2

        from ultrapost.pipeline.preprocess import load_image

        photo = load_image(args.image[0])
        frame = np.ascontiguousarray(cv2.resize(photo, (w, h), interpolation=cv2.INTER_AREA))
    else:
        frame = bench_frame.builtin_frame(w, h)
    budget, min_samples = (min(args.budget, 0.1), 5) if args.quick else (max(args.budget, 1.0), 15)
    # the family's reference thresholds, as a user's FaceDetector has them; one inference thread unless asked
    options = {} if args.interpolation is None else {"interpolation": args.interpolation}
    detector = FaceDetector(args.model, num_threads=args.threads, **options)
    result = bench_frame.run(detector, frame, budget=budget, min_samples=min_samples)
    result["image"] = str(args.image[0]) if args.image else "built-in"
    result["threads"] = args.threads
    if args.plot:
        bench_frame.plot(result, args.plot)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(bench_frame.format_table(result))
    return 0
