"""Builds the C core (csrc/) and its Cython binding into ultrapost.core._core, and ships the C sources and the
firmware harness inside the package (ultrapost/_src) so the firmware commands work from an installed wheel."""

import glob
import os
import shutil
import sys
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

# The portable core (csrc/, what firmware builds) and the host library built on it (csrc/host/: the float32
# boundary and the SIMD fast paths, composing the core's stages).
sources = ["src/ultrapost/core/_core.pyx", *sorted(glob.glob("csrc/*.c")), *sorted(glob.glob("csrc/host/*.c"))]
# Hidden visibility: the core's functions are not exported from the module (only PyInit is), so calls between
# its files go direct and small helpers inline, as in a static build; with default visibility -fPIC makes every
# call to an exported function go through the PLT.
extra = [] if sys.platform == "win32" else ["-O3", "-fno-strict-aliasing", "-fvisibility=hidden"]

PRE_SOURCES = ("up_preprocess.c", "up_host_preprocess.c", "up_warp.c")
ext = Extension(
    "ultrapost.core._core",
    [s for s in sources if Path(s).name not in PRE_SOURCES],  # _preprocess's
    include_dirs=["csrc", "csrc/host", np.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    extra_compile_args=extra,
)

# What `ultrapost codegen`, `vectors` and `firmware-check` read: the core and the firmware harness (no build output).
SHIPPED = [
    ("csrc", ("*.c", "*.h")),
    ("csrc/host", ("*.c", "*.h")),
    ("firmware/src", ("*.c", "*.h")),
    ("firmware/ld", ("*.ld",)),
    ("firmware/host", ("*.c",)),
    ("firmware", ("README.md",)),
]
# ... and the CMake description firmware-check builds the images with (CMakeLists.txt, cmake/, firmware/).
SHIPPED += [
    (".", ("CMakeLists.txt",)),
    ("cmake", ("*.cmake", "*.in")),
    ("firmware", ("CMakeLists.txt",)),
    ("firmware/host", ("CMakeLists.txt",)),
]


class BuildExtPortable(build_ext):
    """An extension for other machines: no RUNPATH into the build machine's Python (some Pythons' LDSHARED carries
    -Wl,-rpath) and, on Linux, no symbols or debug info (-s; 2.6 MB -> 0.4 MB). ULTRAPOST_DEBUG_BUILD=1 keeps
    them."""

    def build_extensions(self):
        linker = getattr(self.compiler, "linker_so", None)
        if linker is not None:
            self.compiler.linker_so = [a for a in linker if not a.startswith(("-Wl,-rpath", "-Wl,-R"))]
            if sys.platform.startswith("linux") and os.environ.get("ULTRAPOST_DEBUG_BUILD") != "1":
                self.compiler.linker_so.append("-s")
        super().build_extensions()


class BuildPyWithSources(build_py):
    def run(self):
        super().run()
        dest = Path(self.build_lib) / "ultrapost" / "_src"
        for folder, patterns in SHIPPED:
            for pattern in patterns:
                for f in sorted(Path(folder).glob(pattern)):
                    (dest / folder).mkdir(parents=True, exist_ok=True)
                    shutil.copy2(f, dest / folder / f.name)


# The pre-processing stages (resize, warp): their own module (they need only their header).
pre = Extension(
    "ultrapost.core._preprocess",
    ["src/ultrapost/core/_preprocess.pyx", "csrc/up_preprocess.c", "csrc/host/up_host_preprocess.c", "csrc/up_warp.c"],
    include_dirs=["csrc", "csrc/host", np.get_include()],  # _capi.pxd names csrc/host/up_host.h
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    extra_compile_args=extra,
)

# YuNet's stage (csrc/up_yunet.c) and its binding.
yunet_ext = Extension(
    "ultrapost.core._yunet",
    ["src/ultrapost/core/_yunet.pyx", "csrc/up_yunet.c", "csrc/up_fixed.c"],
    include_dirs=["csrc", np.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    extra_compile_args=extra,
)

setup(
    ext_modules=cythonize([ext, pre, yunet_ext], language_level=3, include_path=["src"]),
    cmdclass={"build_py": BuildPyWithSources, "build_ext": BuildExtPortable},
)
