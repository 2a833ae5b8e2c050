# Toolchain file: the GNU Arm Embedded toolchain (arm-none-eabi-gcc, Debian's gcc-arm-none-eabi), bare metal Cortex-M.
#
#   cmake -S . -B build-m33 -DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi.cmake -DULTRAPOST_CPU=cortex-m33
#
# ULTRAPOST_CPU: any -mcpu of gcc's Cortex-M list (default cortex-m4). ULTRAPOST_FLOAT_ABI: soft (default) or hard;
# ULTRAPOST_FPU: the -mfpu of a hard-float build (e.g. fpv4-sp-d16). The core has no float, so the float ABI only
# decides which newlib / libgcc multilib a firmware links.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(ULTRAPOST_CPU "cortex-m4" CACHE STRING "Cortex-M core (-mcpu)")
set(ULTRAPOST_FLOAT_ABI "soft" CACHE STRING "-mfloat-abi: soft or hard")
set(ULTRAPOST_FPU "" CACHE STRING "-mfpu for a hard-float build")
# try_compile projects see these too.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES ULTRAPOST_CPU ULTRAPOST_FLOAT_ABI ULTRAPOST_FPU)

set(_up_prefix arm-none-eabi-)
find_program(CMAKE_C_COMPILER ${_up_prefix}gcc REQUIRED)
find_program(CMAKE_CXX_COMPILER ${_up_prefix}g++)
find_program(CMAKE_ASM_COMPILER ${_up_prefix}gcc)
find_program(CMAKE_AR ${_up_prefix}ar)
find_program(CMAKE_RANLIB ${_up_prefix}ranlib)
find_program(CMAKE_OBJCOPY ${_up_prefix}objcopy)
find_program(CMAKE_SIZE ${_up_prefix}size)

set(_up_arch "-mthumb -mcpu=${ULTRAPOST_CPU} -mfloat-abi=${ULTRAPOST_FLOAT_ABI}")
if(ULTRAPOST_FPU)
    string(APPEND _up_arch " -mfpu=${ULTRAPOST_FPU}")
endif()
set(CMAKE_C_FLAGS_INIT "${_up_arch}")
set(CMAKE_CXX_FLAGS_INIT "${_up_arch}")
set(CMAKE_ASM_FLAGS_INIT "${_up_arch}")

# No host system to run on: the compiler checks build a static library instead of an executable.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
