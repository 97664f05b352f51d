#!/usr/bin/env bash
# A proxy without UDP ASSOCIATE (microsocks): an app's UDP datagram is answered at once with ICMP
# port unreachable (a connected socket's recv raises ConnectionRefusedError within 1 s), over
# IPv4 and IPv6, also for later flows; TCP through the same proxy keeps working; the reason is
# logged once, not once per flow.
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

harness_up
start_microsocks
start_udp_echo
start_tunnel --proxy "socks5://$NET_V4:$MICROSOCKS_PORT"

# Three flows per family (the first asks the proxy, the later ones are refused from memory).
for host in "$HOST_V4" "$HOST_V6" "$HOST_V4" "$HOST_V6" "$HOST_V4" "$HOST_V6"; do
  out=$(udp_client refused --host "$host" --port "$UDP_ECHO_PORT" --timeout 1) ||
    fail "UDP to $host:$UDP_ECHO_PORT via microsocks was not refused within 1 s: $out"
  log "refused $host: $out"
done

got="$HARNESS_TMP/got"
fetch_to "$got" "http://$HOST_V4/" || fail "TCP (HTTP GET) via microsocks failed"
assert_same_file "$got" "$HTTP_ROOT/index.html" "IPv4 index.html via microsocks"
fetch_to "$got" "http://[$HOST_V6]/" || fail "IPv6 TCP (HTTP GET) via microsocks failed"
assert_same_file "$got" "$HTTP_ROOT/index.html" "IPv6 index.html via microsocks"

line=$(tunnel_counters)
log "SIGUSR1: $line"
assert_counter_ge "$line" udp_flows_failed 1
failed=$(counter_value "$line" udp_flows_failed)
refused=$(counter_value "$line" udp_refused)
((failed + refused >= 6)) || fail "6 refused datagrams, but udp_flows_failed=$failed udp_refused=$refused"
(($(counter_value "$line" udp_datagrams_up) == 0)) || fail "datagrams relayed without UDP: $line"
(($(counter_value "$line" udp_flows_active) == 0)) || fail "UDP flows left active: $line"
assert_counter_ge "$line" tcp_opened 2

reason='does not support UDP ASSOCIATE'
count=$(grep -c "$reason" "$TUN_LOG" || true)
((count == 1)) || fail "log has '$reason' $count times, expected exactly once"
log "log: $(grep "$reason" "$TUN_LOG")"
tunnel_running || fail "tunnel died"
stop_tunnel_ok
log "PASS"
