# Cross build for arm64 (make cross-arm64): Debian's crossbuild-essential-arm64 compiler and
# the :arm64 -dev packages installed side by side with the native ones (multiarch, in
# /usr/lib/aarch64-linux-gnu). Programs the build runs itself (the man page and completion
# generator) run under qemu-user.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_STRIP aarch64-linux-gnu-strip CACHE FILEPATH "")
# Debian's cross gcc already searches the multiarch directories; pkg-config must read the
# arm64 .pc files only, never the build machine's.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
find_program(RK_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64)
if(RK_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${RK_QEMU_AARCH64} -L /usr/aarch64-linux-gnu)
endif()
