#!/usr/bin/env bash
# --dns tcp through a proxy without UDP (microsocks): every query goes as DNS over TCP through
# a SOCKS5 CONNECT to the resolver; dig and curl by name work, and an answer too large for the
# client's UDP size comes back truncated so dig retries over TCP (relayed like any TCP).
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

harness_up
start_dns_server
start_microsocks
start_tunnel --proxy "socks5://$NET_V4:$MICROSOCKS_PORT" --dns tcp

answer=$(in_app dig +short +time=5 +tries=1 "@$DNS_V4" "$DNS_NAME" A) || fail "dig A $DNS_NAME via DNS over TCP failed: $answer"
[[ $answer == "$HOST_V4" ]] || fail "A $DNS_NAME via DNS over TCP: got '$answer'"
answer6=$(in_app dig +short +time=5 +tries=1 "@$DNS_V6" "$DNS_NAME" AAAA)
[[ $answer6 == "$HOST_V6" ]] || fail "AAAA $DNS_NAME over IPv6 via DNS over TCP: got '$answer6'"

got="$HARNESS_TMP/got"
fetch_to "$got" "http://$DNS_NAME/" -4 || fail "curl http://$DNS_NAME/ failed"
assert_same_file "$got" "$HTTP_ROOT/index.html" "index.html by name via microsocks"

# 20 queries at once share a few pipelined connections.
pids=()
for i in $(seq 1 20); do
  in_app dig +short +time=5 +tries=1 "@$DNS_V4" "$DNS_NAME" A >"$HARNESS_TMP/dig.$i" &
  pids+=($!)
done
wait "${pids[@]}" || true  # (a bare wait would also wait for the harness's servers)
for i in $(seq 1 20); do
  [[ $(cat "$HARNESS_TMP/dig.$i") == "$HOST_V4" ]] || fail "parallel query $i: $(cat "$HARNESS_TMP/dig.$i")"
done

# A big answer over UDP with a 512-byte limit: truncated (TC), dig retries over TCP.
big=$(in_app dig +time=5 +tries=1 +bufsize=512 "@$DNS_V4" "$DNS_BIG_NAME" TXT)
grep -q 'Truncated, retrying in TCP mode' <<<"$big" || fail "no truncation and TCP retry: $big"
records=$(grep -c '^big.example.test' <<<"$big" || true)
((records == DNS_BIG_RECORDS)) || fail "got $records TXT records over TCP, expected $DNS_BIG_RECORDS"

line=$(tunnel_counters)
log "SIGUSR1: $line"
assert_counter_ge "$line" dns_forwarded 23
assert_counter_ge "$line" dns_answered_upstream 23
(($(counter_value "$line" udp_flows_opened) == 0)) || fail "a query took the UDP path: $line"
stop_tunnel_ok_with_counters
log "PASS"
