"""The result type shared by every model family and backend: :class:`Detections`.

It is defined in the C binding (ultrapost.core._core) so that the single-image fast path returns one without running
Python code; its float views (``boxes``, ``scores``, ``anchors``) are made from the integer outputs on first
access.
"""

from ultrapost.core._core import Detections

__all__ = ["Detections"]
