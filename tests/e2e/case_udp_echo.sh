#!/usr/bin/env bash
# UDP datagrams of 1, 1400 and 8192 bytes echo back byte for byte over IPv4 and IPv6 through
# SOCKS5 UDP ASSOCIATE (dante). Once with the default MTU 8500 (no fragments on the TUN) and once
# with --mtu 1500, where the app's 8192 and 30000 byte datagrams reach the tunnel as IP fragments
# (reassembled) and the replies leave it as fragments; the counters account for the datagrams.
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

harness_up
start_udp_echo

# echo_both SIZES: the echo client against HOST_V4 and HOST_V6; fails unless every size came back
# (udp_peer resends at most twice, 2 s apart); sets SENT_BYTES to the payload bytes of one pass.
echo_both() {
  local sizes=$1 host out
  for host in "$HOST_V4" "$HOST_V6"; do
    if ! out=$(udp_client echo --host "$host" --port "$UDP_ECHO_PORT" --sizes "$sizes"); then
      log "counters after the failed echo: $(tunnel_counters)"
      fail "UDP echo of sizes $sizes via $host failed: $out"
    fi
    log "echo $host: $out"
  done
  SENT_BYTES=$(($(tr ',' '+' <<<"$sizes")))
}

# check_counters LINE DATAGRAMS BYTES: at least DATAGRAMS each way, BYTES each way, 2 flows.
check_counters() {
  local line=$1 n=$2 bytes=$3
  assert_counter_ge "$line" udp_flows_opened 2
  assert_counter_ge "$line" udp_datagrams_up "$n"
  assert_counter_ge "$line" udp_datagrams_down "$n"
  assert_counter_ge "$line" udp_bytes_up "$bytes"
  assert_counter_ge "$line" udp_bytes_down "$bytes"
  local name
  for name in udp_flows_failed udp_dropped_malformed udp_dropped_fragmented \
    udp_dropped_unroutable udp_dropped_send_failed; do
    (($(counter_value "$line" "$name") == 0)) || fail "$name is not 0: $line"
  done
}

log "== tunnel with the default MTU (8500) =="
start_tunnel
echo_both 1,1400,8192
line=$(tunnel_counters)
log "SIGUSR1: $line"
check_counters "$line" 6 $((2 * SENT_BYTES))
stop_tunnel_ok

log "== tunnel with --mtu 1500: 8192 and 30000 byte datagrams are fragmented both ways =="
start_tunnel --mtu 1500
echo_both 1,1400,8192,30000
line=$(tunnel_counters)
log "SIGUSR1: $line"
check_counters "$line" 8 $((2 * SENT_BYTES))
# Fragments: 8192 B is 6 packets and 30000 B is 21 (IPv4) / 21 (IPv6) packets at MTU 1500, so
# the tunnel must have written clearly more packets than datagrams (and read more than it relayed).
down=$(counter_value "$line" udp_datagrams_down)
out=$(counter_value "$line" packets_out)
in=$(counter_value "$line" packets_in)
((out >= down + 2 * (5 + 20))) || fail "packets_out=$out for $down datagrams: replies not fragmented?"
((in >= down + 2 * (5 + 20))) || fail "packets_in=$in: app datagrams did not arrive as fragments?"
stop_tunnel_ok_with_counters
log "exit: $EXIT_COUNTERS"
assert_counter_ge "$EXIT_COUNTERS" udp_datagrams_down 8
log "PASS"
