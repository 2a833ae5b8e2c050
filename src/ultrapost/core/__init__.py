"""The contract: the C binding (_core.pyx over csrc/ultrapost.h), the integer-only config (config) and its
preparation from floats (prepare), the result type (detections) and anchor generation (priors)."""
