#!/usr/bin/env bash
# Slow (stalled) readers: STALL_CONNS app connections each ask for 1 GiB and never read (4 KiB
# SO_RCVBUF, no recv for 15 s). The tunnel must push back on the proxy instead of buffering the
# stream: its VmRSS, sampled every second, stays below SLOW_RSS_LIMIT_KIB. Afterwards the apps
# close (with unread data: resets) and tcp_active returns to 0; a normal download still works.
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

STALL_CONNS=${STALL_CONNS:-4}
HOLD_SECONDS=15
# Per connection the tunnel buffers at most lwIP's send buffer (TCP_SND_BUF, 1 MiB) plus one
# read from the proxy socket (~128 KiB); with ~5 MiB idle, 4 stalled connections need < 10 MiB.
# 32 MiB leaves room for allocator slack while a tunnel that kept reading would pass it within
# a second (the proxy delivers hundreds of MiB/s).
SLOW_RSS_LIMIT_KIB=${SLOW_RSS_LIMIT_KIB:-32768}

harness_up
start_tunnel
sleep 0.3
rss_idle=$(proc_rss_kib "$TUN_PID")

ready="$HARNESS_TMP/stall.ready"
in_app timeout $((HOLD_SECONDS + 30)) python3 "$TCP_PEER" stall --host "$HOST_V4" \
  --port "$PEER_PORT" --conns "$STALL_CONNS" --bytes $((1 << 30)) --rcvbuf 4096 \
  --hold-seconds "$HOLD_SECONDS" --ready-file "$ready" >"$HARNESS_TMP/stall.out" 2>&1 &
stall_pid=$!
wait_until 15 "stalled connections to open" test -f "$ready" ||
  fail "stall client did not open its connections: $(cat "$HARNESS_TMP/stall.out")"

max_rss=0
samples=()
for ((s = 0; s < HOLD_SECONDS - 2; s++)); do
  sleep 1
  tunnel_running || fail "tunnel died with stalled readers"
  rss=$(proc_rss_kib "$TUN_PID")
  samples+=("$rss")
  ((rss > max_rss)) && max_rss=$rss
done
line=$(tunnel_counters)
log "while stalled: $line"
log "VmRSS samples (KiB, 1/s): ${samples[*]}"
(($(counter_value "$line" tcp_active) == STALL_CONNS)) ||
  fail "expected $STALL_CONNS active sessions while stalled: $line"
down=$(counter_value "$line" bytes_down)
# Delivered to the apps: what fits their receive buffers and windows, nowhere near 1 GiB each.
figure bytes_down_while_stalled "$down"
((down < STALL_CONNS * (16 << 20))) ||
  fail "bytes_down=$down: the stalled apps cannot have taken that much"
hwm=$(proc_hwm_kib "$TUN_PID")
figure rss_idle_kib "$rss_idle"
figure rss_max_sampled_kib "$max_rss"
figure rss_hwm_kib "$hwm"
figure rss_per_stalled_conn_kib $(((hwm - rss_idle) / STALL_CONNS))
assert_memory_below "$hwm" "$SLOW_RSS_LIMIT_KIB" "tunnel peak RSS with $STALL_CONNS stalled readers"

rc=0
wait "$stall_pid" || rc=$?
log "stall client: $(cat "$HARNESS_TMP/stall.out")"
((rc == 0)) || fail "stall client exited $rc"

wait_counters_zero 10 tcp_active
log "after close: $SETTLED_LINE"
out=$(in_app timeout 60 python3 "$TCP_PEER" source --host "$HOST_V4" --port "$PEER_PORT" \
  --bytes $((64 << 20)) --seed 5) || fail "64 MiB download after the stalled readers failed: $out"
log "download afterwards: $out"
figure rss_end_kib "$(proc_rss_kib "$TUN_PID")"
stop_tunnel_ok_with_counters TERM
log "exit: $EXIT_COUNTERS"
log "PASS"
