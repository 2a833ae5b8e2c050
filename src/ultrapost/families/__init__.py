"""One post-processor per model family (ultraface, blazeface, retinaface), what they share (common), the
reference post-processors' decisions as data (presets), and generated cases for every family (cases)."""
