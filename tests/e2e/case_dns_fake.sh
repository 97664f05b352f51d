#!/usr/bin/env bash
# --dns fake: names that exist only in the net namespace's resolver (app.example.test) work by
# name from the app namespace over IPv4 and IPv6, sent to dante as names, while a capture on
# the app namespace's uplink sees nothing but the SOCKS connection (no DNS in the clear).
# MX/TXT come back with the real answers (forwarded over TCP through the proxy), HTTPS gets an
# empty answer, and 50,000 distinct names leave the pool at its bound with memory bounded.
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

harness_up
start_dns_server

# Without the tunnel the app namespace cannot resolve the test names at all.
if in_app getent hosts "$DNS_NAME" >/dev/null 2>&1; then
  fail "$DNS_NAME resolves in the app namespace without the tunnel"
fi

# Everything the app namespace sends on its uplink, except to the proxy, is a leak.
start_uplink_capture

start_tunnel --dns fake

answer=$(in_app dig +short +time=3 +tries=1 "@$DNS_V4" "$DNS_NAME" A)
[[ $answer =~ ^198\.19\. ]] || fail "A $DNS_NAME: expected a 198.19.0.0/16 pool address, got '$answer'"
answer6=$(in_app dig +short +time=3 +tries=1 "@$DNS_V4" "$DNS_NAME" AAAA)
[[ $answer6 =~ ^fdfe:dcba:9877: ]] || fail "AAAA $DNS_NAME: expected a pool address, got '$answer6'"
again=$(in_app dig +short +time=3 +tries=1 "@$DNS_V6" "$DNS_NAME" A)
[[ $again == "$answer" ]] || fail "the same name got another address ($again, then $answer)"
log "fake A $answer, AAAA $answer6"

got="$HARNESS_TMP/got"
fetch_to "$got" "http://$DNS_NAME/" -4 || fail "curl -4 http://$DNS_NAME/ through the tunnel failed"
assert_same_file "$got" "$HTTP_ROOT/index.html" "index.html by name over IPv4"
fetch_to "$got" "http://$DNS_NAME/" -6 || fail "curl -6 http://$DNS_NAME/ through the tunnel failed"
assert_same_file "$got" "$HTTP_ROOT/index.html" "index.html by name over IPv6"

mx=$(in_app dig +short +time=5 +tries=1 "@$DNS_V4" example.test MX)
[[ $mx == "10 mail.example.test." ]] || fail "MX example.test: got '$mx'"
txt=$(in_app dig +short +time=5 +tries=1 "@$DNS_V4" example.test TXT)
[[ $txt == '"t2s-test-record"' ]] || fail "TXT example.test: got '$txt'"
https=$(in_app dig +time=3 +tries=1 "@$DNS_V4" "$DNS_NAME" TYPE65)
grep -q 'status: NOERROR' <<<"$https" || fail "HTTPS query did not get NOERROR: $https"
grep -q 'ANSWER: 0' <<<"$https" || fail "HTTPS query got answers: $https"

line=$(tunnel_counters)
log "SIGUSR1: $line"
assert_counter_ge "$line" dns_answered_from_pool 4
assert_counter_ge "$line" dns_forwarded 2
assert_counter_ge "$line" dns_answered_upstream 2
(($(counter_value "$line" dns_failed) == 0)) || fail "dns_failed is not 0: $line"

# The capture: only the SOCKS connection to dante may appear on the uplink.
stop_uplink_capture
total=$(uplink_packets)
dns=$(uplink_packets 'udp port 53 or tcp port 53')
other=$(uplink_packets "$UPLINK_NOT_PROXY")
log "uplink capture: $total packets, $dns DNS, $other not to the proxy"
((total > 0)) || fail "the capture saw nothing (is it working?)"
((dns == 0)) || fail "$dns DNS packets left the app namespace in the clear"
((other == 0)) || fail "$other packets on the uplink were not to the proxy: $(uplink_show \
  "$UPLINK_NOT_PROXY")"

# 50,000 distinct names: the pool stays at its bound (16384) and memory stays bounded.
rss_before=$(proc_rss_kib "$TUN_PID")
in_app timeout 90 python3 - "$DNS_V4" <<'PY' || fail "the 50,000-name query run failed"
import random, socket, struct, sys, time
server = (sys.argv[1], 53)
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(2)
def query(i):
    name = b"".join(bytes([len(p)]) + p for p in (b"n%d" % i, b"flood", b"test")) + b"\0"
    return struct.pack("!HHHHHH", i & 0xFFFF, 0x0100, 1, 0, 0, 0) + name + struct.pack("!HH", 1, 1)
answered = 0
deadline = time.time() + 80
window = 64
sent = 0
while answered < 50000 and time.time() < deadline:
    while sent < 50000 and sent - answered < window:
        sock.sendto(query(sent), server)
        sent += 1
    try:
        data, _ = sock.recvfrom(2048)
        answered += 1
    except socket.timeout:
        break
print(f"answered {answered} of {sent}")
sys.exit(0 if answered >= 49000 else 1)
PY
rss_after=$(proc_rss_kib "$TUN_PID")
line=$(tunnel_counters)
pool=$(counter_value "$line" dns_pool_size)
log "figure: pool size after 50,000 names = $pool; RSS $rss_before KiB -> $rss_after KiB"
((pool <= 16384)) || fail "pool holds $pool names, over its bound of 16384"
((pool >= 16000)) || fail "pool holds only $pool names after 50,000 queries"
assert_memory_below $((rss_after - rss_before)) 32768 "RSS growth for 50,000 names"

stop_tunnel_ok_with_counters
log "PASS"
