#!/usr/bin/env bash
# 200 connections open at the same time, each an echo round trip, all correct within 60 s; the
# tunnel then reports them opened and, once closed, no longer active.
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

CONNS=${CONNS:-200}

harness_up
start_tunnel

out=$(ulimit -n 4096 && timeout 90 ip netns exec "$APP_NS" python3 "$TCP_PEER" concurrent \
  --host "$HOST_V4" --port "$PEER_PORT" --conns "$CONNS" --bytes 16384 --deadline 60) ||
  fail "concurrent connections: $out"
log "concurrent: $out"

line=$(tunnel_counters)
log "SIGUSR1: $line"
assert_counter_ge "$line" tcp_opened "$CONNS"

# Everything is closed at both ends, so the tunnel must drop its sessions (bounded wait).
deadline=$(($(now_ms) + 15000))
until (($(counter_value "$line" tcp_active) == 0)); do
  (($(now_ms) < deadline)) || fail "tcp_active still non-zero 15 s after all connections closed: $line"
  sleep 0.5
  line=$(tunnel_counters)
done

stop_tunnel_ok
log "PASS"
