#!/usr/bin/env bash
# Full-cone UDP: the app sends to HOST_V4:UDP_ECHO_PORT only; the server answers from another host
# and port (HOST2_V4:UDP_CONE_PORT), which dante relays back on the same association. The app
# must receive that datagram with HOST2_V4:UDP_CONE_PORT as its source. Same over IPv6.
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

harness_up
start_udp_echo
start_tunnel

for pair in "$HOST_V4 $HOST2_V4" "$HOST_V6 $HOST2_V6"; do
  read -r host other <<<"$pair"
  out=$(udp_client fullcone --host "$host" --port "$UDP_ECHO_PORT" --expect-host "$other" \
    --expect-port "$UDP_CONE_PORT") ||
    fail "full-cone: no reply from $other:$UDP_CONE_PORT after sending to $host: $out"
  log "fullcone $host -> reply from $other: $out"
done
grep -q 'cone reply' "$HARNESS_TMP/udp_peer.log" || fail "the server never sent a cone reply"

line=$(tunnel_counters)
log "SIGUSR1: $line"
# Per family: CONE + the echo afterwards up, the cone reply + the echo down; 2 flows.
assert_counter_ge "$line" udp_datagrams_up 4
assert_counter_ge "$line" udp_datagrams_down 4
(($(counter_value "$line" udp_flows_opened) == 2)) || fail "expected 2 UDP flows: $line"
(($(counter_value "$line" udp_dropped_unroutable) == 0)) || fail "replies dropped: $line"
stop_tunnel_ok
log "PASS"
