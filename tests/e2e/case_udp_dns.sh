#!/usr/bin/env bash
# DNS over UDP through the tunnel (dante has UDP ASSOCIATE) to dnsmasq at DNS_V4 and [DNS_V6]:
# A, AAAA, MX and TXT answers are exact; a ~7.7 KiB TXT answer (EDNS bufsize 8192, +notcp +ignore)
# arrives complete over UDP. The tunnel runs with --mtu 1500, so that answer reaches the app as IP
# fragments built by the tunnel (IPv4 and IPv6).
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

command -v dig >/dev/null || fail "dig not found (package bind9-dnsutils)"
harness_up
start_dns_server
start_tunnel --mtu 1500

# ask SERVER NAME TYPE [DIG_ARGS...]: +short answer through the app namespace (UDP only).
ask() {
  local server=$1 name=$2 type=$3
  shift 3
  in_app timeout 15 dig +notcp +time=2 +tries=2 +short "@$server" "$name" "$type" "$@"
}

for server in "$DNS_V4" "$DNS_V6"; do
  got=$(ask "$server" "$DNS_NAME" A) || fail "dig @$server $DNS_NAME A failed: $got"
  [[ $got == "$HOST_V4" ]] || fail "dig @$server $DNS_NAME A: got '$got', expected $HOST_V4"
  got=$(ask "$server" "$DNS_NAME" AAAA) || fail "dig @$server $DNS_NAME AAAA failed: $got"
  [[ $got == "$HOST_V6" ]] || fail "dig @$server $DNS_NAME AAAA: got '$got', expected $HOST_V6"
  got=$(ask "$server" example.test MX) || fail "dig @$server example.test MX failed: $got"
  [[ $got == "10 mail.example.test." ]] || fail "dig @$server example.test MX: got '$got'"
  got=$(ask "$server" example.test TXT) || fail "dig @$server example.test TXT failed: $got"
  [[ $got == '"t2s-test-record"' ]] || fail "dig @$server example.test TXT: got '$got'"
  log "dig @$server: A, AAAA, MX, TXT correct"
done

# big_txt SERVER: the big answer over UDP: not truncated, every record present, > 4 KiB. Sets
# BIG_SIZE to the message size.
big_txt() {
  local server=$1 full="$HARNESS_TMP/big.txt" flags records text
  in_app timeout 15 dig +notcp +ignore +bufsize=8192 +time=3 +tries=2 "@$server" "$DNS_BIG_NAME" \
    TXT >"$full" || fail "dig @$server $DNS_BIG_NAME TXT failed: $(tail -n 5 "$full")"
  grep -q "SERVER: $server#53($server) (UDP)" "$full" || fail "big answer from $server not over UDP"
  flags=$(sed -nE 's/^;; flags: ([a-z ]*);.*/\1/p' "$full")
  [[ -n $flags ]] || fail "no flags line in the dig output: $(head -n 20 "$full")"
  [[ " $flags " != *" tc "* ]] || fail "big answer from $server truncated (flags: $flags)"
  BIG_SIZE=$(sed -nE 's/^;; MSG SIZE +rcvd: ([0-9]+)$/\1/p' "$full")
  if [[ -z $BIG_SIZE ]] || ((BIG_SIZE <= 4096)); then
    fail "big answer from $server is ${BIG_SIZE:-?} bytes, expected > 4096"
  fi
  records=$(grep -cE "^$DNS_BIG_NAME\.[[:space:]].*TXT[[:space:]]+\"rec[0-9]{3}-" "$full" || true)
  ((records == DNS_BIG_RECORDS)) ||
    fail "big answer from $server has $records TXT records, expected $DNS_BIG_RECORDS"
  text=$(grep -oE '"rec[0-9]{3}-[0-9]+"' "$full" | tr -d '"\n' | wc -c)
  ((text == DNS_BIG_TXT_BYTES)) ||
    fail "big answer from $server carries $text bytes of text, expected $DNS_BIG_TXT_BYTES"
  log "big TXT answer from $server: $BIG_SIZE bytes over UDP, $records records, flags: $flags"
}

big_txt "$DNS_V4"
# Same over IPv6: the tunnel fragments the answer with IPv6 fragment headers.
big_txt "$DNS_V6"

line=$(tunnel_counters)
log "SIGUSR1: $line"
# 8 small queries + the big one twice (dig may retry, so at least).
assert_counter_ge "$line" udp_datagrams_up 10
assert_counter_ge "$line" udp_datagrams_down 10
assert_counter_ge "$line" udp_bytes_down $((2 * BIG_SIZE))
# Each ~7.7 KiB answer at MTU 1500 is 6 fragments: more packets out than datagrams down.
out=$(counter_value "$line" packets_out)
down=$(counter_value "$line" udp_datagrams_down)
((out >= down + 2 * 5)) || fail "packets_out=$out, udp_datagrams_down=$down: answers not fragmented?"
stop_tunnel_ok
log "PASS"
