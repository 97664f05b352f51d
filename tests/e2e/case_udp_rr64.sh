#!/usr/bin/env bash
# 64 UDP sockets in request/response for 10 s through the tunnel and dante to the echo peer,
# one request outstanding per socket. Every reply must be exactly its request (the socket's own
# token and the sequence number inside), from the address it went to: none lost, none stray,
# every socket answered. Bounded: 10 s, at most 20,000 requests per socket. The counters must
# show no drop and as many datagrams each way as the clients counted. First, 3 s on one socket:
# with one packet per wake-up the tunnel must not follow each read with one that finds the
# device empty (at most one empty read per two packets; reading until empty makes one per packet).
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

harness_up
start_udp_echo
start_tunnel

before=$(tunnel_counters)
out=$(udp_client rr --host "$HOST_V4" --port "$UDP_ECHO_PORT" --flows 1 --seconds 3 --check) ||
  fail "one-socket request/response: $out"
after=$(tunnel_counters)
packets=$(($(counter_value "$after" packets_in) - $(counter_value "$before" packets_in)))
empty=$(($(counter_value "$after" device_reads_empty) - $(counter_value "$before" device_reads_empty)))
log "one socket: $out; $packets packets read, $empty empty reads"
((packets >= 100)) || fail "one socket: only $packets packets read"
((empty * 2 <= packets)) || fail "one socket: $empty empty device reads for $packets packets"

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
