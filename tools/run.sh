#!/usr/bin/env bash
# Quick start: installs what is missing, builds, and runs tun2socks with the given flags
# (default proxy socks5://127.0.0.1:1080, device tun0). Needs root for the TUN device.
set -euo pipefail
repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$repo_dir/tools/build.sh" >&2
exec "${T2S_BUILD_DIR:-$repo_dir/build}/src/tun2socks" "$@"
