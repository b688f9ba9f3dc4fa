# SPDX-License-Identifier: Apache-2.0
# Cross-compiling for 64-bit ARM (Raspberry Pi 3/4/5 with a 64-bit OS) on Debian: the compilers
# of crossbuild-essential-arm64, and the libraries of the :arm64 -dev packages, which multiarch
# installs next to the build machine's in /usr/lib/aarch64-linux-gnu. scripts/package.sh
# --arch arm64 and scripts/arm64-test.sh install both and use this file.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# find_package/find_library then look in /usr/lib/aarch64-linux-gnu (and never in the build
# machine's /usr/lib/x86_64-linux-gnu). Header-only and architecture-independent packages
# (Catch2's headers and CMake files) are found in /usr as usual.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# FindOpenSSL asks pkg-config first, and the build machine's pkg-config answers with
# /usr/lib/x86_64-linux-gnu: point it at the arm64 .pc files.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)

# Runs arm64 programs on the build machine: catch_discover_tests lists the test cases with it,
# and ctest runs them with it. The loader and libraries are multiarch's (libc6:arm64 and the
# :arm64 libraries), not the cross toolchain's tree (-L /usr/aarch64-linux-gnu), with which a
# program hangs in pthread_create under qemu 7.2.
find_program(EDGEMQ_QEMU_AARCH64 qemu-aarch64-static)
if(EDGEMQ_QEMU_AARCH64)
    set(CMAKE_CROSSCOMPILING_EMULATOR ${EDGEMQ_QEMU_AARCH64})
endif()
