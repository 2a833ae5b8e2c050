# Toolchain file: 64-bit Arm Linux (Raspberry Pi, Jetson) with Debian's gcc-aarch64-linux-gnu. Programs built with it
# run on an x86-64 machine under qemu-aarch64 (Debian qemu-user): CMAKE_CROSSCOMPILING_EMULATOR is set for that.
#
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(_up_prefix aarch64-linux-gnu-)
find_program(CMAKE_C_COMPILER ${_up_prefix}gcc REQUIRED)
find_program(CMAKE_CXX_COMPILER ${_up_prefix}g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)

find_program(_up_qemu qemu-aarch64)
if(_up_qemu)
    set(CMAKE_CROSSCOMPILING_EMULATOR "${_up_qemu};-L;/usr/aarch64-linux-gnu")
endif()

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
