# CMake toolchain for 64-bit Windows 10+ with Debian's mingw-w64 (posix threads variant, which
# std::thread and GoogleTest need). Libraries are looked up only in the cross-built prefix that
# tools/build-windows.sh fills (T2S_WINDOWS_PREFIX), never in the build machine's /usr, and
# executables are linked fully static so that neither wine nor Windows needs mingw's DLLs.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_SYSTEM_VERSION 10.0)

set(T2S_MINGW_TRIPLE x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${T2S_MINGW_TRIPLE}-gcc-posix)
set(CMAKE_CXX_COMPILER ${T2S_MINGW_TRIPLE}-g++-posix)
set(CMAKE_RC_COMPILER ${T2S_MINGW_TRIPLE}-windres)

if(NOT T2S_WINDOWS_PREFIX)
  get_filename_component(T2S_WINDOWS_PREFIX "${CMAKE_CURRENT_LIST_DIR}/../third_party/windows/prefix"
                         ABSOLUTE)
endif()
# try_compile projects see the same prefix.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES T2S_WINDOWS_PREFIX)

set(CMAKE_FIND_ROOT_PATH "${T2S_WINDOWS_PREFIX}" /usr/${T2S_MINGW_TRIPLE})
set(CMAKE_PREFIX_PATH "${T2S_WINDOWS_PREFIX}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_FIND_LIBRARY_SUFFIXES .a)
# pkg-config must describe the target's libraries (libuv-static.pc), not the build machine's.
set(ENV{PKG_CONFIG_LIBDIR} "${T2S_WINDOWS_PREFIX}/lib/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# Windows 10 API level everywhere, and <windows.h> without min/max macros or rarely used parts.
set(CMAKE_C_FLAGS_INIT "-D_WIN32_WINNT=0x0A00 -DWIN32_LEAN_AND_MEAN -DNOMINMAX")
set(CMAKE_CXX_FLAGS_INIT "-D_WIN32_WINNT=0x0A00 -DWIN32_LEAN_AND_MEAN -DNOMINMAX")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
