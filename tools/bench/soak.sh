#!/usr/bin/env bash
# Long soak of tun2socks: the mixed workload of tests/e2e/case_soak.sh (run_soak in
# tests/e2e/harness.sh: TCP downloads/uploads with sha256 checks, short HTTP connections, echo
# bursts, half-close, UDP request/response and new-flow bursts, killed readers, refused
# connections) for SOAK_SECONDS, printing the tunnel's RSS, CPU and counters every
# SOAK_REPORT_SECONDS. Needs root.
#
#   T2S_BINARY=build/src/tun2socks tools/bench/soak.sh
#
# Environment:
#   T2S_BINARY            tun2socks to soak (required)
#   SOAK_SECONDS          length of the soak (default 1800)
#   SOAK_REPORT_SECONDS   interval of the RSS/CPU lines (default 30)
#   SOAK_WARMUP           seconds before the reference RSS is taken (default 60)
#   SOAK_RSS_TOLERANCE_KIB  allowed growth of the final idle RSS over the warm-up RSS (8192)
#   SOAK_EXTRA_FLAGS      extra tunnel flags (word-split), e.g. "--max-connections 500"
# Exit status 1 if a step failed, the tunnel died, sessions or flows did not drain, or RSS grew
# beyond the tolerance. Figures are printed as "figure: name=value" lines.
set -euo pipefail

SOAK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/e2e/harness.sh
source "$SOAK_DIR/../../tests/e2e/harness.sh"

SOAK_SECONDS=${SOAK_SECONDS:-1800}
SOAK_REPORT_SECONDS=${SOAK_REPORT_SECONDS:-30}
SOAK_WARMUP=${SOAK_WARMUP:-60}
SOAK_RSS_TOLERANCE_KIB=${SOAK_RSS_TOLERANCE_KIB:-8192}
SOAK_EXTRA_FLAGS=${SOAK_EXTRA_FLAGS:-}
for var in SOAK_SECONDS SOAK_REPORT_SECONDS SOAK_WARMUP SOAK_RSS_TOLERANCE_KIB; do
  [[ ${!var} =~ ^[1-9][0-9]*$ ]] || { echo "soak: $var must be a positive integer" >&2; exit 2; }
done
((SOAK_WARMUP < SOAK_SECONDS)) || { echo "soak: SOAK_WARMUP must be < SOAK_SECONDS" >&2; exit 2; }

hard=$(ulimit -Hn)
ulimit -n "$hard"
harness_up
start_httpd
start_udp_echo
read -r -a extra <<<"$SOAK_EXTRA_FLAGS"
start_tunnel --udp-timeout 2 "${extra[@]}"
sleep 0.3
rss_start=$(proc_rss_kib "$TUN_PID")
cpu_start=$(proc_cpu_seconds "$TUN_PID")
log "soak: $SOAK_SECONDS s, report every $SOAK_REPORT_SECONDS s, start RSS $rss_start KiB"

run_soak "$SOAK_SECONDS" "$SOAK_REPORT_SECONDS" "$SOAK_WARMUP"
tunnel_running || fail "tunnel died during the soak"

status=0
wait_counters_zero 30 tcp_active
wait_counters_zero 15 udp_flows_active
line=$SETTLED_LINE
sleep 2
rss_end=$(proc_rss_kib "$TUN_PID")
cpu_end=$(proc_cpu_seconds "$TUN_PID")
figure soak_seconds "$SOAK_SECONDS"
figure soak_steps_ok "$SOAK_OK"
figure soak_steps_failed "$SOAK_FAILED"
figure rss_start_kib "$rss_start"
figure rss_warm_kib "$SOAK_WARM_RSS"
figure rss_end_kib "$rss_end"
figure rss_peak_kib "$(proc_hwm_kib "$TUN_PID")"
figure cpu_seconds "$(python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 2))" "$cpu_start" "$cpu_end")"
for name in tcp_opened tcp_failed tcp_reset bytes_up bytes_down udp_flows_opened udp_flows_expired \
  packets_in packets_out packets_malformed packets_out_dropped syns_refused; do
  figure "$name" "$(counter_value "$line" "$name")"
done
figure log_errors "$(grep -c ' ERROR ' "$TUN_LOG" || true)"
figure log_warnings "$(grep -c ' WARN ' "$TUN_LOG" || true)"
if ((SOAK_FAILED > 0)); then
  log "soak: $SOAK_FAILED steps failed"
  status=1
fi
if ((rss_end > SOAK_WARM_RSS + SOAK_RSS_TOLERANCE_KIB)); then
  log "soak: RSS at the end $rss_end KiB > warm-up $SOAK_WARM_RSS KiB + $SOAK_RSS_TOLERANCE_KIB KiB"
  status=1
fi
stop_tunnel_ok_with_counters TERM
log "exit: $EXIT_COUNTERS"
if ((status == 0)); then log "soak: PASS"; else log "soak: FAIL"; fi
exit "$status"
