#!/usr/bin/env bash
# The client shuts down its write side; the server reads to EOF, waits, then still sends 1 MiB,
# which must all arrive (IPv4 and IPv6).
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

harness_up
start_tunnel

for host in "$HOST_V4" "$HOST_V6"; do
  out=$(timeout 60 ip netns exec "$APP_NS" python3 "$TCP_PEER" halfclose --host "$host" \
    --port "$PEER_PORT" --upload $((64 << 10)) --bytes $((1 << 20)) --delay-ms 1000) ||
    fail "half-close to $host: $out"
  log "halfclose $host: $out"
done

stop_tunnel_ok
log "PASS"
