#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors, and runs the unit and end-to-end
# tests through ctest. Set T2S_SANITIZE=1 for an AddressSanitizer + UBSan build (in
# build-asan/). End-to-end tests need root: they create network namespaces and TUN devices.
set -euo pipefail
repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cmake_args=(-DT2S_WERROR=ON)
if [[ "${T2S_SANITIZE:-0}" == 1 ]]; then
  export T2S_BUILD_DIR="${T2S_BUILD_DIR:-$repo_dir/build-asan}"
  cmake_args+=(-DT2S_SANITIZE=ON)
  # lwIP links IPv4 fragments through pointers at unaligned addresses (see tools/fuzz.sh).
  export LSAN_OPTIONS="use_unaligned=1${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
  export T2S_SANITIZED=1  # end-to-end memory bounds are only logged (see tests/e2e/harness.sh)
fi
build_dir="${T2S_BUILD_DIR:-$repo_dir/build}"
"$repo_dir/tools/build.sh" "${cmake_args[@]}"
cd "$build_dir"
ctest --output-on-failure "$@"
