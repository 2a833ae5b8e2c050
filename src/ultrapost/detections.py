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

    __slots__ = ("fixed", "_boxes", "_scores", "_anchors", "landmarks", "labels")

    def __init__(self, boxes, scores, anchors, *, fixed=None, landmarks=None, labels=None):
        self._boxes = None if boxes is None else np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        self._scores = None if scores is None else np.asarray(scores, dtype=np.float64).reshape(-1)
        self._anchors = None if anchors is None else np.asarray(anchors, dtype=np.int64).reshape(-1)
        self.fixed = fixed
        self.landmarks = landmarks
        self.labels = labels

    @classmethod
    def from_fixed(cls, fixed: dict[str, np.ndarray]) -> Detections:
        """From the C or golden integer outputs (boxes Q20, scores Q30); float views are made on first access."""
        det = cls.__new__(cls)
        det.fixed = fixed
        det._boxes = det._scores = det._anchors = det.landmarks = det.labels = None
        landmarks = fixed.get("keypoints", fixed.get("landmarks"))
        if landmarks is not None:
            det.landmarks = landmarks.astype(np.float64).reshape(len(landmarks), landmarks.shape[-1] // 2, 2) / ONE_BOX
        labels = fixed.get("labels")
        if labels is not None:
            det.labels = labels.astype(np.int64)
        return det

    @property
    def boxes(self) -> np.ndarray:
        if self._boxes is None:
            self._boxes = self.fixed["boxes"] * (1.0 / ONE_BOX)
        return self._boxes

    @property
    def scores(self) -> np.ndarray:
        if self._scores is None:
            self._scores = self.fixed["scores"] * (1.0 / ONE_SCORE)
        return self._scores

    @property
    def anchors(self) -> np.ndarray:
        if self._anchors is None:
            self._anchors = self.fixed["anchors"].astype(np.int64)
        return self._anchors

    def __len__(self) -> int:
        return len(self.fixed["anchors"]) if self._anchors is None else len(self._anchors)

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
