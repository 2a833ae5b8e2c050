"""The warp stage's outside references, each run from its own folder in a child Python: OpenCV 4.10 (the installed
cv2 is newer: from 4.11 on warpAffine computes in float and differs) and MediaPipe (its JPEG decoder). CI installs
both with ``pip install --no-deps --target`` (.ci/run) and names the folders in ULTRAPOST_OPENCV410 and
ULTRAPOST_MEDIAPIPE; without them the tests that need them skip (fail under ULTRAPOST_REQUIRE_DATA=1)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from conftest import require_tool

OPENCV410_SCRIPT = r"""
import sys, numpy as np, cv2
assert cv2.__version__.startswith("4.10."), cv2.__version__
z = np.load(sys.argv[1])
out = {}
for i in range(int(z["count"])):
    f, m, size, border = z[f"frame{i}"], z[f"matrix{i}"], tuple(int(v) for v in z[f"size{i}"]), int(z[f"border{i}"])
    kw = dict(flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(border,) * 4)
    out[f"affine{i}"] = cv2.warpAffine(f, m[:2], size, **kw)
    out[f"perspective{i}"] = cv2.warpPerspective(f, m, size, **kw)
np.savez(sys.argv[2], **out)
"""

MEDIAPIPE_SCRIPT = r"""
import os, sys, numpy as np, mediapipe as mp
images = []  # kept alive: numpy_view() is a view of the image's buffer
out = {}
for path in sys.argv[2:]:
    images.append(mp.Image.create_from_file(path))
    out[os.path.splitext(os.path.basename(path))[0]] = np.array(images[-1].numpy_view(), copy=True)
np.savez(sys.argv[1], **out)
"""


def _folder(variable: str, what: str) -> Path:
    folder = os.environ.get(variable)
    require_tool(bool(folder) and Path(folder).is_dir(), f"{what} (a pip --target folder named in {variable})")
    return Path(folder)


def _run(folder: Path, script: str, args: list[str]) -> None:
    env = dict(os.environ, PYTHONPATH=str(folder))
    done = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]


def opencv410_warps(cases, tmp_path: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(cv2.warpAffine(frame, m[:2]), cv2.warpPerspective(frame, m)) of OpenCV 4.10 for each (frame, 3x3 matrix,
    (W, H), border value)."""
    folder = _folder("ULTRAPOST_OPENCV410", "opencv-python-headless 4.10")
    arrays = {"count": len(cases)}
    for i, (frame, matrix, size, border) in enumerate(cases):
        arrays.update({f"frame{i}": frame, f"matrix{i}": matrix, f"size{i}": size, f"border{i}": border})
    np.savez(tmp_path / "cases.npz", **arrays)
    _run(folder, OPENCV410_SCRIPT, [str(tmp_path / "cases.npz"), str(tmp_path / "warped.npz")])
    z = np.load(tmp_path / "warped.npz")
    return [(z[f"affine{i}"], z[f"perspective{i}"]) for i in range(len(cases))]


def mediapipe_decoded(paths, tmp_path: Path) -> dict[str, np.ndarray]:
    """MediaPipe's own decoding (``mp.Image.create_from_file``) of each image file, by file stem."""
    folder = _folder("ULTRAPOST_MEDIAPIPE", "mediapipe")
    _run(folder, MEDIAPIPE_SCRIPT, [str(tmp_path / "decoded.npz"), *map(str, paths)])
    z = np.load(tmp_path / "decoded.npz")
    return {k: z[k] for k in z.files}
