#!/usr/bin/env bash
# 10,000 TCP connections open through the tunnel at the same time (tcp_peer many, one thread
# with non-blocking sockets, against tcp_peer aecho, an asyncio echo server: no connection is
# closed before all are established; then each does a 256-byte echo round trip). All must
# complete; the tunnel's RSS with all open and per connection is reported and bounded, and
# tcp_active returns to 0 once they are closed. --tcp-connect-timeout 60: dante needs longer
# than the default 10 s to negotiate 10,000 connections arriving at once (on a 2-CPU machine
# several hundred of them missed 10 s), which is dante's pace, not the tunnel's.
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

CONNS=${CONNS_10K:-10000}
# Per connection the tunnel holds an lwIP pcb, a proxy socket, the session and its (small, for a
# 256-byte echo) buffers: a few KiB. 64 KiB per connection (625 MiB for 10k) would mean buffers
# allocated at full size per connection; the bound is RSS_PER_CONN_LIMIT_KIB.
RSS_PER_CONN_LIMIT_KIB=${RSS_PER_CONN_LIMIT_KIB:-64}

# Every process started below (dante, the echo server, the client, the tunnel) inherits this:
# each connection costs a descriptor in the client and the tunnel, two in dante and one in the
# server.
hard=$(ulimit -Hn)
((hard >= CONNS + 1024)) || { echo "case_fault_10k: hard descriptor limit $hard < $((CONNS + 1024))" >&2; exit 1; }
ulimit -n "$hard"

ECHO_PORT=7001

harness_up
start_bg "$NET_NS" "$HARNESS_TMP/aecho.log" python3 "$TCP_PEER" aecho --port "$ECHO_PORT"
wait_port "$NET_NS" "$ECHO_PORT" "$HARNESS_BG_PID" "tcp_peer aecho"
start_tunnel --tcp-connect-timeout 60
sleep 0.3
rss_idle=$(proc_rss_kib "$TUN_PID")

out_file="$HARNESS_TMP/concurrent.out"
ready="$HARNESS_TMP/many.ready"
in_app timeout 100 python3 "$TCP_PEER" many --host "$HOST_V4" --port "$ECHO_PORT" \
  --conns "$CONNS" --bytes 256 --deadline 80 --hold-seconds 3 --ready-file "$ready" \
  >"$out_file" 2>&1 &
client=$!
# Sample while the barrier holds everything open.
max_active=0
max_rss=0
t0=$(now_ms)
rss_all_open=0
while pid_alive "$client" && (($(now_ms) - t0 < 100000)); do
  if ((rss_all_open == 0)) && [[ -f $ready ]]; then
    rss_all_open=$(proc_rss_kib "$TUN_PID")
    log "all $CONNS open after $((($(now_ms) - t0) / 1000)) s; tunnel VmRSS $rss_all_open KiB"
  fi
  line=$(tunnel_counters)
  active=$(counter_value "$line" tcp_active)
  ((active > max_active)) && max_active=$active
  rss=$(proc_rss_kib "$TUN_PID")
  ((rss > max_rss)) && max_rss=$rss
  sleep 0.5
done
rc=0
wait "$client" || rc=$?
elapsed=$(($(now_ms) - t0))
log "client: $(tail -n 3 "$out_file")"
line=$(tunnel_counters)
log "after: $line"
hwm=$(proc_hwm_kib "$TUN_PID")
figure conns_requested "$CONNS"
figure conns_connected "$(grep -o '"connected": [0-9]*' "$out_file" | grep -o '[0-9]*$' || echo 0)"
figure conns_completed "$(grep -o '"completed": [0-9]*' "$out_file" | grep -o '[0-9]*$' || echo 0)"
figure rss_all_open_kib "$rss_all_open"
figure max_tcp_active_sampled "$max_active"
figure seconds "$((elapsed / 1000))"
figure rss_idle_kib "$rss_idle"
figure rss_peak_kib "$hwm"
figure rss_per_conn_bytes "$(((hwm - rss_idle) * 1024 / CONNS))"
figure tcp_failed "$(counter_value "$line" tcp_failed)"
figure syns_refused "$(counter_value "$line" syns_refused)"
((rc == 0)) || fail "not all $CONNS connections completed (exit $rc): $(tail -n 3 "$out_file")"
tunnel_running || fail "tunnel died"
assert_counter_ge "$line" tcp_opened "$CONNS"
assert_memory_below $(((hwm - rss_idle) / CONNS)) $((RSS_PER_CONN_LIMIT_KIB + 1)) \
  "tunnel RSS per connection with $CONNS open"

wait_counters_zero 30 tcp_active
log "settled: $SETTLED_LINE"
figure rss_after_close_kib "$(proc_rss_kib "$TUN_PID")"
fetch_to "$HARNESS_TMP/got" "http://$HOST_V4/1k.bin" || fail "GET after 10k connections failed"
assert_same_file "$HARNESS_TMP/got" "$HTTP_ROOT/1k.bin" "1k.bin after 10k connections"
stop_tunnel_ok_with_counters TERM
log "exit: $EXIT_COUNTERS"
log "PASS"
