#!/usr/bin/env bash
# Mixed soak (run_soak in harness.sh) for SOAK_SECONDS (default 120: the two-minute soak CI runs;
# tools/bench/soak.sh runs the long one): 16 MiB downloads (IPv4/IPv6) and uploads with sha256 checks, 1 KiB GETs on
# a new connection each, 100-connection echo bursts, half-close, UDP request/response over 8
# sockets and bursts of 200 new UDP flows, readers killed mid-stream (resets) and connections to
# a closed port (refused: the only failures expected). Afterwards: no step failed, the tunnel
# is alive, tcp_active returns to 0 and every UDP flow expires (--udp-timeout 2), the log has no
# ERROR line, and RSS at the end is within SOAK_RSS_TOLERANCE_KIB of RSS after the warm-up.
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

SOAK_SECONDS=${SOAK_SECONDS:-120}
SOAK_WARMUP=${SOAK_WARMUP:-20}
# RSS at the end (everything closed, idle) against RSS after the warm-up (busy): the busy figure
# already includes the peak working set (send buffers of the transfers, ~1 MiB each, 100-conn
# bursts, 200 UDP flows), so an idle tunnel should be at or below it. The tolerance covers
# allocator fragmentation from the varying mix (glibc keeps freed chunks of its heap and
# per-thread arenas): 8 MiB. A leak of one session per short connection (thousands of 1 KiB
# GETs) or of one buffer per download (16 MiB each) exceeds it.
SOAK_RSS_TOLERANCE_KIB=${SOAK_RSS_TOLERANCE_KIB:-8192}

hard=$(ulimit -Hn)
ulimit -n "$hard"
harness_up
start_httpd
start_udp_echo
start_tunnel --udp-timeout 2
sleep 0.3
rss_start=$(proc_rss_kib "$TUN_PID")

run_soak "$SOAK_SECONDS" 15 "$SOAK_WARMUP"
tunnel_running || fail "tunnel died during the soak"
figure soak_seconds "$SOAK_SECONDS"
figure soak_steps_ok "$SOAK_OK"
figure soak_steps_failed "$SOAK_FAILED"
((SOAK_FAILED == 0)) || fail "$SOAK_FAILED soak steps failed (see above)"
for name in "${SOAK_WORKERS[@]}"; do
  grep -q '^ok ' "$HARNESS_TMP/soak-$name.log" || fail "soak worker $name never completed a step"
done

t0=$(now_ms)
wait_counters_zero 15 tcp_active
figure tcp_settle_ms $(($(now_ms) - t0))
t0=$(now_ms)
wait_counters_zero 10 udp_flows_active
figure udp_expire_ms $(($(now_ms) - t0))
line=$SETTLED_LINE
log "settled: $line"
for name in tcp_opened tcp_failed tcp_reset bytes_up bytes_down udp_flows_opened \
  udp_flows_expired udp_datagrams_up packets_in packets_out packets_malformed \
  packets_out_dropped syns_refused; do
  figure "$name" "$(counter_value "$line" "$name")"
done
assert_counter_ge "$line" udp_flows_expired 1
(($(counter_value "$line" packets_malformed) == 0)) || fail "malformed packets from ordinary traffic: $line"

# Let freed memory settle (lwIP's TIME-WAIT pcbs, UDP flows just expired), then compare.
sleep 2
rss_end=$(proc_rss_kib "$TUN_PID")
figure rss_start_kib "$rss_start"
figure rss_warm_kib "$SOAK_WARM_RSS"
figure rss_end_kib "$rss_end"
figure rss_peak_kib "$(proc_hwm_kib "$TUN_PID")"
figure cpu_seconds "$(proc_cpu_seconds "$TUN_PID")"
assert_memory_below "$rss_end" $((SOAK_WARM_RSS + SOAK_RSS_TOLERANCE_KIB + 1)) \
  "RSS at the end against RSS after the warm-up ($SOAK_WARM_RSS KiB) + $SOAK_RSS_TOLERANCE_KIB KiB"

errors=$(grep -c ' ERROR ' "$TUN_LOG" || true)
figure log_errors "$errors"
figure log_warnings "$(grep -c ' WARN ' "$TUN_LOG" || true)"
((errors == 0)) || fail "tunnel logged $errors ERROR lines: $(grep ' ERROR ' "$TUN_LOG" | head -n 3)"
stop_tunnel_ok_with_counters TERM
log "exit: $EXIT_COUNTERS"
log "PASS"
