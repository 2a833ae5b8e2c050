"""Builds the C core (csrc/) and its Cython binding into ultrapost._core."""

import glob
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

# Every C stage plus the host-only float boundary; the firmware build takes the same files minus up_host_*.
sources = ["src/ultrapost/_core.pyx", *sorted(glob.glob("csrc/*.c"))]
extra = [] if sys.platform == "win32" else ["-O3", "-fno-strict-aliasing"]

ext = Extension(
    "ultrapost._core",
    sources,
    include_dirs=["csrc", np.get_include()],
    # UP_HOST_FLOAT: the host build, whose float32 boundary (up_host_float.c) joins the integer stages.
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"), ("UP_HOST_FLOAT", "1")],
    extra_compile_args=extra,
)

setup(ext_modules=cythonize([ext], language_level=3, include_path=["src"]))
