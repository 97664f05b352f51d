#!/usr/bin/env bash
# Cross-builds tun2socks.exe and unit_tests.exe for 64-bit Windows 10+ on Debian 12 with
# mingw-w64, warnings as errors, into build-windows/ (or $T2S_WINDOWS_BUILD_DIR). Installs what
# is missing (needs root then), fetches lwIP like tools/setup.sh, and builds libuv, fmt, CLI11,
# GoogleTest and http-parser for the target from Debian's source packages into the git-ignored
# prefix third_party/windows/prefix; a dependency already built there is skipped.
# With --test (or T2S_WINDOWS_TEST=1) it also runs unit_tests.exe under wine64 and fails if any
# test fails. Extra arguments go to CMake's configure step.
set -euo pipefail
repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=tools/setup-common.sh
source "$repo_dir/tools/setup-common.sh"

run_tests="${T2S_WINDOWS_TEST:-0}"
cmake_args=()
for arg in "$@"; do
  case "$arg" in
    --test) run_tests=1 ;;
    *) cmake_args+=("$arg") ;;
  esac
done

build_dir="${T2S_WINDOWS_BUILD_DIR:-$repo_dir/build-windows}"
deps_dir="$repo_dir/third_party/windows"
prefix="$deps_dir/prefix"
toolchain="$repo_dir/cmake/mingw-w64-x86_64.cmake"
jobs="$(nproc)"

packages=(cmake make pkg-config g++-mingw-w64-x86-64-posix gcc-mingw-w64-x86-64-posix googletest
          dpkg-dev xz-utils file)
if [[ $run_tests == 1 ]]; then packages+=(wine64 iproute2); fi
install_missing build-windows "${packages[@]}"
fetch_lwip "$repo_dir"

# unpack_source PACKAGE: the pristine upstream tarball of a Debian source package (Debian's
# patches are for Debian's own build), unpacked into $deps_dir/src/PACKAGE; prints that path.
unpack_source() {
  local package=$1 downloads="$repo_dir/third_party/.downloads" tarball
  local target="$deps_dir/src/$package"
  mkdir -p "$downloads"
  tarball="$(ls "$downloads/${package}_"*.orig.tar.* 2>/dev/null | head -n1 || true)"
  if [[ -z $tarball ]]; then
    echo "build-windows: fetching Debian source package '$package'" >&2
    enable_source_entries
    apt_update_once >&2
    (cd "$downloads" && apt-get source --download-only -qq "$package" >/dev/null 2>&1) || {
      echo "build-windows: could not fetch source package '$package' (is deb-src reachable?)" >&2
      exit 1
    }
    tarball="$(ls "$downloads/${package}_"*.orig.tar.* | head -n1)"
  fi
  if [[ ! -d $target ]]; then
    rm -rf "$target.tmp" && mkdir -p "$target.tmp"
    tar -xf "$tarball" -C "$target.tmp" --strip-components=1
    mv "$target.tmp" "$target"
  fi
  echo "$target"
}

# cmake_install NAME SOURCE_DIR ARGS...: configures, builds and installs a CMake project for the
# target into the prefix, once (a stamp records it).
cmake_install() {
  local name=$1 source_dir=$2
  shift 2
  if [[ -f "$prefix/.built-$name" ]]; then return 0; fi
  local log="$deps_dir/build/$name.log"
  echo "build-windows: building $name for Windows (output in ${log#"$repo_dir/"})"
  mkdir -p "$deps_dir/build"
  # Their own warnings are not ours to fix; the log is shown only if the build fails.
  {
    cmake -S "$source_dir" -B "$deps_dir/build/$name" -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
      -DT2S_WINDOWS_PREFIX="$prefix" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" \
      "$@" &&
      cmake --build "$deps_dir/build/$name" -j"$jobs" &&
      cmake --install "$deps_dir/build/$name"
  } >"$log" 2>&1 || {
    cat "$log" >&2
    echo "build-windows: building $name failed" >&2
    exit 1
  }
  touch "$prefix/.built-$name"
}

mkdir -p "$prefix"
cmake_install libuv "$(unpack_source libuv1)" -DLIBUV_BUILD_TESTS=OFF -DLIBUV_BUILD_BENCH=OFF
cmake_install fmt "$(unpack_source fmtlib)" -DFMT_TEST=OFF -DFMT_DOC=OFF
cmake_install googletest /usr/src/googletest -DBUILD_GMOCK=OFF -Dgtest_disable_pthreads=OFF
# CLI11 is used header-only.
if [[ ! -f "$prefix/.built-cli11" ]]; then
  cli11_src="$(unpack_source cli11)"
  mkdir -p "$prefix/include"
  cp -r "$cli11_src/include/CLI" "$prefix/include/"
  touch "$prefix/.built-cli11"
fi
# http-parser is one C file; Debian's source has no CMake or cross-friendly Makefile target.
if [[ ! -f "$prefix/.built-http-parser" ]]; then
  http_parser_src="$(unpack_source http-parser)"
  echo "build-windows: building http-parser for Windows"
  mkdir -p "$deps_dir/build/http-parser" "$prefix/lib" "$prefix/include"
  x86_64-w64-mingw32-gcc-posix -O2 -DHTTP_PARSER_STRICT=0 -c "$http_parser_src/http_parser.c" \
    -o "$deps_dir/build/http-parser/http_parser.o"
  x86_64-w64-mingw32-ar rcs "$prefix/lib/libhttp_parser.a" "$deps_dir/build/http-parser/http_parser.o"
  cp "$http_parser_src/http_parser.h" "$prefix/include/"
  touch "$prefix/.built-http-parser"
fi

lwip_args=()
if [[ -n "${LWIP_SOURCE_DIR:-}" ]]; then lwip_args=("-DLWIP_SOURCE_DIR=$LWIP_SOURCE_DIR"); fi
cmake -S "$repo_dir" -B "$build_dir" -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
  -DT2S_WINDOWS_PREFIX="$prefix" -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}" \
  -DT2S_WERROR=ON "${lwip_args[@]}" "${cmake_args[@]}" >/dev/null
cmake --build "$build_dir" -j"$jobs"

for exe in src/tun2socks.exe tests/unit_tests.exe; do
  if [[ -f "$build_dir/$exe" ]]; then file "$build_dir/$exe"; fi
done

if [[ $run_tests == 1 ]]; then
  # A private wine prefix in the build directory: nothing in the user's home is touched, and the
  # first run's set-up (about 10 s) is reused later. The executables are static (no mingw DLLs).
  export WINEPREFIX="$build_dir/wine" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
  echo "build-windows: running unit_tests.exe under wine64 in a private network namespace"
  # The socket tests use loopback only; in a namespace of their own nothing else is reachable.
  # wineserver outlives the test run by a few seconds; waiting for it leaves nothing behind.
  unshare --net -- sh -c 'ip link set lo up || exit 1
    /usr/lib/wine/wine64 "$1" --gtest_brief=1; status=$?
    /usr/lib/wine/wineserver -w; exit $status' sh "$build_dir/tests/unit_tests.exe"
fi
