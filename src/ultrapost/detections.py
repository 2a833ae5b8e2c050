"""The result type shared by every model family and backend."""

from __future__ import annotations

import numpy as np

from ultrapost.config import ONE_BOX, ONE_SCORE


class Detections:
    """Detections of one image, in keep order (score descending, then anchor index ascending).

    ``boxes`` float64 [K, 4] normalized x1, y1, x2, y2; ``scores`` float64 [K]; ``anchors`` int64 [K] source anchor
    indices; ``fixed`` the integer arrays behind them (boxes Q20, scores Q30, anchors int32), or None for a float64
    reference result; ``landmarks`` float64 [K, P, 2] or None.
    """

    __slots__ = ("fixed", "boxes", "scores", "anchors", "landmarks", "labels")

    def __init__(self, boxes, scores, anchors, *, fixed=None, landmarks=None, labels=None):
        self.boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        self.scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        self.anchors = np.asarray(anchors, dtype=np.int64).reshape(-1)
        self.fixed = fixed
        self.landmarks = landmarks
        self.labels = labels

    @classmethod
    def from_fixed(cls, fixed: dict[str, np.ndarray]) -> Detections:
        """From the C or golden integer outputs: boxes Q20, scores Q30."""
        landmarks = fixed.get("landmarks")
        if landmarks is not None:
            landmarks = landmarks.astype(np.float64).reshape(len(landmarks), -1, 2) / ONE_BOX
        labels = fixed.get("labels")
        return cls(
            fixed["boxes"] / ONE_BOX,
            fixed["scores"] / ONE_SCORE,
            fixed["anchors"],
            fixed=fixed,
            landmarks=landmarks,
            labels=None if labels is None else labels.astype(np.int64),
        )

    def __len__(self) -> int:
        return len(self.anchors)

    def to_pixels(self, width: float, height: float) -> np.ndarray:
        """Boxes in pixels of an image of this size (float64, not clipped)."""
        return self.boxes * np.array([width, height, width, height], dtype=np.float64)

    def landmarks_to_pixels(self, width: float, height: float) -> np.ndarray | None:
        if self.landmarks is None:
            return None
        return self.landmarks * np.array([width, height], dtype=np.float64)

    def __repr__(self) -> str:
        kind = "fixed" if self.fixed is not None else "float64"
        return f"Detections({len(self)} faces, {kind})"
