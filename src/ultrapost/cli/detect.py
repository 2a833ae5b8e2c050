"""``ultrapost detect``: faces in photos, as text, JSON lines, annotated images or WIDER FACE evaluation files."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DESCRIPTION = """\
Find faces in photos with a face-detector model (.onnx or .tflite) and ultrapost's fixed-point post-processing.

The model's family is recognized from its tensors (Ultraface slim/RFB with decoded or raw boxes, float or int8,
NXP's int8 ultraslim, BlazeFace short and full range, RetinaFace-style heads, the masked-face model), and each photo
is resized and normalized the way that family expects. Boxes are x1 y1 x2 y2 in the photo's pixels, clipped to the
photo, best first.

Outputs (any combination):
  default          one line per photo, then one line per face: score and box
  --json           one JSON object per photo per line (JSON lines): {"image", "width", "height",
                   "faces": [{"box": [x1, y1, x2, y2], "score": p}, ...]}
  --draw OUT       the photo with its boxes and scores drawn; with several photos OUT is a folder and each is
                   written as OUT/<photo name>.png
  --widerface DIR  WIDER FACE evaluation files DIR/<photo name>.txt: the name, the number of faces, then one
                   "x y w h score" line per face (pixels, top-left corner and size); for the official evaluation
                   use a low threshold, e.g. --score-threshold 0.1 (what the evaluation expects)

Thresholds default to the family's reference pipeline (Ultraface: score 0.7, IoU 0.3; NXP ultraslim: 0.5, 0.3).
A photo that cannot be read is reported on one line and the others are still processed; the exit status is then 1.
"""

EPILOG = """\
examples:
  ultrapost detect group.jpg --model version-RFB-320.onnx
  ultrapost detect *.jpg --model version-RFB-320_raw_int8.tflite --json > faces.jsonl
  ultrapost detect group.jpg --model version-slim-320.onnx --draw group_faces.png
  ultrapost detect val/*/*.jpg --model version-RFB-640.onnx --score-threshold 0.1 --widerface pred/
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "detect",
        help="find faces in photos with a detector model",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="photo files (JPEG, PNG, ... anything Pillow reads)")
    p.add_argument("--model", "-m", required=True, metavar="MODEL", help="detector file, .onnx or .tflite")
    p.add_argument("--json", action="store_true", help="print JSON lines instead of text")
    p.add_argument("--draw", metavar="OUT", help="write the annotated photo (a folder when there are several)")
    p.add_argument("--widerface", metavar="DIR", help="write WIDER FACE evaluation files into DIR")
    p.add_argument("--score-threshold", type=float, metavar="T", help="keep faces with score > T")
    p.add_argument("--iou-threshold", type=float, metavar="T", help="suppress overlaps with IoU > T")
    p.add_argument("--max-detections", type=int, metavar="K", help="keep at most K faces per photo")
    p.add_argument(
        "--backend",
        choices=("c", "golden"),
        default="c",
        help="post-processor: the compiled C core (default) or its bit-identical numpy twin",
    )
    p.add_argument(
        "--reference-kernels",
        action="store_true",
        help="run .tflite models on LiteRT's reference kernels (bit-identical to TFLite Micro, slower)",
    )
    p.set_defaults(func=run)
    return p


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _error(message: str) -> None:
    print(f"ultrapost detect: error: {message}", file=sys.stderr)


def _draw(image, faces, path: Path) -> None:
    from PIL import Image, ImageDraw

    im = Image.fromarray(image)
    draw = ImageDraw.Draw(im)
    width = max(2, round(min(im.size) / 250))
    for box, score in zip(faces.boxes, faces.scores, strict=True):
        x1, y1, x2, y2 = (float(v) for v in box)
        draw.rectangle([x1, y1, x2, y2], outline=(0, 255, 0), width=width)
        label = f"{score:.2f}"
        tx, ty = x1, max(0.0, y1 - 12 - width)
        draw.rectangle(draw.textbbox((tx, ty), label), fill=(0, 0, 0))
        draw.text((tx, ty), label, fill=(0, 255, 0))
    if faces.landmarks is not None:
        r = width
        for points in faces.landmarks:
            for x, y in points:
                draw.ellipse([x - r, y - r, x + r, y + r], fill=(255, 0, 0))
    try:
        im.save(path)
    except (ValueError, KeyError) as exc:
        raise ValueError(f"cannot write {path}: {_one_line(exc)} (use a .png or .jpg name)") from None


def _widerface(faces, name: str, path: Path) -> None:
    lines = [name, str(len(faces))]
    for (x1, y1, x2, y2), score in zip(faces.boxes, faces.scores, strict=True):
        lines.append(f"{x1:.2f} {y1:.2f} {x2 - x1:.2f} {y2 - y1:.2f} {score:.6f}")
    path.write_text("\n".join(lines) + "\n")


def _draw_path(out: str, image: str, several: bool) -> Path:
    p = Path(out)
    if several or p.is_dir():
        p.mkdir(parents=True, exist_ok=True)
        return p / (Path(image).stem + ".png")
    if not p.parent.is_dir():
        raise ValueError(f"--draw: folder {p.parent} does not exist")
    return p


def run(args) -> int:
    try:
        from ultrapost.pipeline.detect import FaceDetector
        from ultrapost.pipeline.preprocess import load_image
    except ImportError as exc:
        _error(f"{_one_line(exc)}; install the model extras: pip install 'ultrapost[models]'")
        return 1
    stems = [Path(i).stem for i in args.images]
    if args.widerface:
        duplicates = sorted({s for s in stems if stems.count(s) > 1})
        if duplicates:
            _error(f"--widerface: several photos are named {duplicates[0]!r}; their files would overwrite each other")
            return 1
        try:
            os.makedirs(args.widerface, exist_ok=True)
        except OSError as exc:
            _error(f"--widerface: cannot create folder {args.widerface}: {_one_line(exc)}")
            return 1
    try:
        detector = FaceDetector(
            args.model,
            score_threshold=args.score_threshold,
            iou_threshold=args.iou_threshold,
            max_detections=args.max_detections,
            backend=args.backend,
            op_resolver="reference" if args.reference_kernels else "default",
        )
    except (OSError, ValueError, TypeError, ImportError, RuntimeError) as exc:
        _error(_one_line(exc))
        return 1
    failed = 0
    several = len(args.images) > 1
    for path, stem in zip(args.images, stems, strict=True):
        try:
            image = load_image(path)
            faces = detector(image)
            if args.json:
                print(faces.to_json(image=path), flush=True)
            else:
                print(f"{path}: {len(faces)} face{'s' if len(faces) != 1 else ''}")
                for (x1, y1, x2, y2), score in zip(faces.boxes, faces.scores, strict=True):
                    print(f"  {score:.3f}  {x1:7.1f} {y1:7.1f} {x2:7.1f} {y2:7.1f}")
            if args.draw:
                _draw(image, faces, _draw_path(args.draw, path, several))
            if args.widerface:
                _widerface(faces, stem, Path(args.widerface) / f"{stem}.txt")
        except (OSError, ValueError, TypeError) as exc:
            message = _one_line(exc)
            _error(message if path in message else f"{path}: {message}")
            failed += 1
    return 1 if failed else 0
