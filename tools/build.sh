#!/usr/bin/env bash
# Configures and builds tun2socks into build/ (or $T2S_BUILD_DIR) after making sure every
# dependency is installed. Extra arguments go to CMake's configure step.
set -euo pipefail
repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${T2S_BUILD_DIR:-$repo_dir/build}"
"$repo_dir/tools/setup.sh"
lwip_args=()
if [[ -n "${LWIP_SOURCE_DIR:-}" ]]; then lwip_args=("-DLWIP_SOURCE_DIR=$LWIP_SOURCE_DIR"); fi
cmake -S "$repo_dir" -B "$build_dir" -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}" \
  "${lwip_args[@]}" "$@" >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
