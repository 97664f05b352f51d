#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz/ and runs each for
# FUZZ_SECONDS (default 30) from its seed corpus in tests/fuzz/corpus/<target>/ (copied, so
# the repository is not written to). Fails on the first crash, leak or sanitizer report.
set -euo pipefail
repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${T2S_FUZZ_BUILD_DIR:-$repo_dir/build-fuzz}"
seconds="${FUZZ_SECONDS:-30}"
"$repo_dir/tools/setup.sh"
if ! command -v clang++ >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang >/dev/null
fi
CC=clang CXX=clang++ cmake -S "$repo_dir" -B "$build_dir" -DT2S_FUZZ=ON -DT2S_BUILD_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=(dns_message socks5 packet stack_input resolv_conf stats_http)
cmake --build "$build_dir" -j"$(nproc)" --target "${targets[@]/%/_fuzz}" >/dev/null
# lwIP keeps a fragment's successor in a packed header right after the IPv4 header, i.e. at an
# address not aligned to 8; without use_unaligned LeakSanitizer cannot see that pointer and
# reports fragments waiting for reassembly as leaked.
export LSAN_OPTIONS="use_unaligned=1${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for target in "${targets[@]}"; do
  corpus="$work/$target"
  mkdir -p "$corpus"
  if [[ -d "$repo_dir/tests/fuzz/corpus/$target" ]]; then
    cp -r "$repo_dir/tests/fuzz/corpus/$target/." "$corpus/"
  fi
  echo "fuzz: $target for ${seconds}s"
  (cd "$work" && "$build_dir/tests/fuzz/${target}_fuzz" -max_total_time="$seconds" \
    -rss_limit_mb=2048 -print_final_stats=1 "$corpus" 2>"$work/$target.log") || {
    tail -n 60 "$work/$target.log"
    echo "fuzz: $target FAILED" >&2
    exit 1
  }
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/$target.log" | tr '\n' ' '
  echo
done
