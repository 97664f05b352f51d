#!/usr/bin/env bash
# --udp-timeout 2: a UDP flow that has been idle for ~4 s is closed (udp_flows_active back to 0,
# udp_flows_expired counted); a new datagram from the app afterwards opens a fresh flow.
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

harness_up
start_udp_echo
start_tunnel --udp-timeout 2

out=$(udp_client echo --host "$HOST_V4" --port "$UDP_ECHO_PORT" --sizes 100) ||
  fail "UDP echo failed: $out"
line=$(tunnel_counters)
log "after the echo: $line"
(($(counter_value "$line" udp_flows_active) == 1)) || fail "expected 1 active UDP flow: $line"
(($(counter_value "$line" udp_flows_expired) == 0)) || fail "flow expired too early: $line"

# Half the timeout later it must still be there.
sleep 1
line=$(tunnel_counters)
(($(counter_value "$line" udp_flows_active) == 1)) || fail "flow gone after 1 s of 2: $line"

sleep 3.5
line=$(tunnel_counters)
log "after ~4.5 s idle: $line"
(($(counter_value "$line" udp_flows_active) == 0)) || fail "flow still active after 4.5 s: $line"
assert_counter_ge "$line" udp_flows_expired 1

out=$(udp_client echo --host "$HOST_V4" --port "$UDP_ECHO_PORT" --sizes 100) ||
  fail "UDP echo after the expiry failed: $out"
line=$(tunnel_counters)
assert_counter_ge "$line" udp_flows_opened 2
(($(counter_value "$line" udp_flows_active) == 1)) || fail "expected 1 active UDP flow: $line"
stop_tunnel_ok
log "PASS"
