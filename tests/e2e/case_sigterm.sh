#!/usr/bin/env bash
# SIGTERM (with connections open) and SIGINT: the tunnel exits 0 within 5 s, its device is gone
# and it logged its counters.
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

harness_up

# SIGTERM while 10 idle connections are open.
start_tunnel
dev=$TUN_DEV
ready_file="$HARNESS_TMP/hold.ready"
start_bg "$APP_NS" "$HARNESS_TMP/hold.log" python3 "$TCP_PEER" hold --host "$HOST_V4" \
  --port "$PEER_PORT" --conns 10 --ready-file "$ready_file" --hold-seconds 60
holder=$HARNESS_BG_PID
wait_until 20 "10 held connections" test -s "$ready_file" ||
  fail "could not open 10 connections through the tunnel: $(cat "$HARNESS_TMP/hold.log")"

t0=$(now_ms)
rc=0
stop_tunnel TERM 5 || rc=$?
elapsed=$(($(now_ms) - t0))
log "SIGTERM: exit status $rc after ${elapsed} ms"
((rc != 124)) || fail "tunnel still running 5 s after SIGTERM"
((rc == 0)) || fail "tunnel exited with status $rc after SIGTERM"
if ip -n "$APP_NS" link show "$dev" >/dev/null 2>&1; then
  fail "device $dev still exists after the tunnel exited"
fi
line=$(last_counters)
[[ -n $line ]] || fail "no counters: line in the log after SIGTERM"
log "exit: $line"
assert_counter_ge "$line" tcp_opened 10
kill_pid "$holder" 3

# SIGINT behaves the same.
start_tunnel
dev=$TUN_DEV
fetch_to /dev/null "http://$HOST_V4/" || fail "GET through the second tunnel failed"
stop_tunnel_ok_with_counters INT
line=$EXIT_COUNTERS
log "exit: $line"
if ip -n "$APP_NS" link show "$dev" >/dev/null 2>&1; then
  fail "device $dev still exists after SIGINT"
fi
log "PASS"
