#!/usr/bin/env bash
# Fails if any C/C++ file of ours differs from .clang-format's layout (third_party excluded).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.h' | grep -v '^third_party/')
if ((${#files[@]})); then clang-format --dry-run --Werror "${files[@]}"; fi
