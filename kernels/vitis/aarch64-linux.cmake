# CMake toolchain file: cross-compile the host program (bench and the zcu106-xrt backend)
# for the ZCU106's (or KV260's) Cortex-A53 cores.
#
# Against Debian's arm64 packages (multiarch, what tools/setup.sh installs and
# tools/cross_test.sh builds and runs under qemu-user): no sysroot.
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=kernels/vitis/aarch64-linux.cmake \
#         -DLHB_BUILD_TESTS=OFF -DCMAKE_DISABLE_FIND_PACKAGE_benchmark=ON
# Against a PetaLinux/Yocto sysroot that has XRT (not checked here): add
#         -DLHB_SYSROOT=/path/to/sysroots/cortexa72-cortexa53-xilinx-linux
# The sysroot comes from `petalinux-build --sdk` (then sdk.sh) or the platform's common
# image. XRT's headers are then <sysroot>/usr/include/xrt and its libraries <sysroot>/usr/lib.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(LHB_SYSROOT "$ENV{LHB_SYSROOT}" CACHE PATH "PetaLinux/Yocto sysroot for the board")
if(LHB_SYSROOT)
  set(CMAKE_SYSROOT ${LHB_SYSROOT})
  set(CMAKE_FIND_ROOT_PATH ${LHB_SYSROOT})
endif()

set(LHB_CROSS_PREFIX "aarch64-linux-gnu-" CACHE STRING "cross-compiler prefix (aarch64-xilinx-linux- in a PetaLinux SDK)")
set(CMAKE_C_COMPILER ${LHB_CROSS_PREFIX}gcc)
set(CMAKE_CXX_COMPILER ${LHB_CROSS_PREFIX}g++)

# Programs (the compilers) from the host; headers and libraries only from the sysroot.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# -march=native means nothing for another machine: tune for the A53 instead.
set(LHB_NATIVE OFF CACHE BOOL "" FORCE)
set(CMAKE_CXX_FLAGS_INIT "-mcpu=cortex-a53")
