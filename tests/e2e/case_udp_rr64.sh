#!/usr/bin/env bash
# 64 UDP sockets in request/response for 10 s through the tunnel and dante to the echo peer,
# one request outstanding per socket. Every reply must be exactly its request (the socket's own
# token and the sequence number inside), from the address it went to: none lost, none stray,
# every socket answered. Bounded: 10 s, at most 20,000 requests per socket. The counters must
# show no drop and as many datagrams each way as the clients counted.
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

harness_up
start_udp_echo
start_tunnel

# udp_peer waits 2 s per reply; a lost datagram shows up as a timeout and fails the check.
if ! out=$(udp_client rr --host "$HOST_V4" --port "$UDP_ECHO_PORT" --flows 64 --seconds 10 \
  --check --max-per-flow 20000); then
  log "counters after the failed run: $(tunnel_counters)"
  fail "64-socket request/response: $out"
fi
log "rr: $out"
transactions=$(json_field "$out" transactions)
((transactions >= 64)) || fail "only $transactions transactions"

line=$(tunnel_counters)
log "SIGUSR1: $line"
assert_counter_ge "$line" udp_flows_opened 64
assert_counter_ge "$line" udp_datagrams_up "$transactions"
assert_counter_ge "$line" udp_datagrams_down "$transactions"
for name in udp_flows_failed udp_dropped_malformed udp_dropped_fragmented udp_dropped_unroutable \
  udp_dropped_queue_full udp_dropped_send_failed packets_out_dropped; do
  (($(counter_value "$line" "$name") == 0)) || fail "$name is not 0: $line"
done
stop_tunnel_ok
log "PASS"
