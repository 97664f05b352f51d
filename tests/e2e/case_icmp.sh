#!/usr/bin/env bash
# ICMP and ICMPv6 echo requests to any address are answered by the tunnel itself: ping to
# addresses that exist nowhere succeeds. With --icmp drop they go unanswered and ping fails. The
# icmp_* counters account for both.
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

command -v ping >/dev/null || fail "ping not found (package iputils-ping)"
NOWHERE_V4=198.51.100.77
NOWHERE_V6=2001:db8:dead::1

harness_up
# Nothing has these addresses: the net namespace cannot answer for them.
in_net ip -o addr | grep -qE "$NOWHERE_V4/|$NOWHERE_V6/" && fail "$NOWHERE_V4 or $NOWHERE_V6 exists"
# And without the tunnel the app namespace has no route for them at all.
in_app timeout 5 ping -c 1 -W 1 "$NOWHERE_V4" >/dev/null 2>&1 && fail "ping works without the tunnel"

start_tunnel
out=$(in_app timeout 15 ping -c 3 -W 2 "$NOWHERE_V4" 2>&1) || fail "ping $NOWHERE_V4 failed: $out"
log "ping $NOWHERE_V4: $(tail -n 2 <<<"$out" | head -n 1)"
grep -q '3 received' <<<"$out" || fail "ping $NOWHERE_V4: not 3 replies: $out"
grep -q "from $NOWHERE_V4: icmp_seq=" <<<"$out" || fail "ping $NOWHERE_V4: replies not from it: $out"
out=$(in_app timeout 15 ping -6 -c 3 -W 2 "$NOWHERE_V6" 2>&1) || fail "ping -6 $NOWHERE_V6 failed: $out"
log "ping -6 $NOWHERE_V6: $(tail -n 2 <<<"$out" | head -n 1)"
grep -q '3 received' <<<"$out" || fail "ping -6 $NOWHERE_V6: not 3 replies: $out"
# A large echo (payload 4000 bytes) comes back whole too.
out=$(in_app timeout 15 ping -c 1 -W 2 -s 4000 "$NOWHERE_V4" 2>&1) || fail "ping -s 4000 failed: $out"
grep -q '4008 bytes from' <<<"$out" || fail "ping -s 4000: unexpected reply: $out"

line=$(tunnel_counters)
log "SIGUSR1: $line"
assert_counter_ge "$line" icmp_echo_replies 7
(($(counter_value "$line" icmp_dropped) == 0)) || fail "echo requests dropped in reply mode: $line"
stop_tunnel_ok

start_tunnel --icmp drop
rc=0
out=$(in_app timeout 15 ping -c 2 -W 1 "$NOWHERE_V4" 2>&1) || rc=$?
((rc != 0)) || fail "ping $NOWHERE_V4 succeeded with --icmp drop: $out"
grep -q ' 0 received' <<<"$out" || fail "ping with --icmp drop: unexpected output: $out"
rc=0
out=$(in_app timeout 15 ping -6 -c 2 -W 1 "$NOWHERE_V6" 2>&1) || rc=$?
((rc != 0)) || fail "ping -6 $NOWHERE_V6 succeeded with --icmp drop: $out"
grep -q ' 0 received' <<<"$out" || fail "ping -6 with --icmp drop: unexpected output: $out"
line=$(tunnel_counters)
log "SIGUSR1 (--icmp drop): $line"
assert_counter_ge "$line" icmp_dropped 4
(($(counter_value "$line" icmp_echo_replies) == 0)) || fail "echo replies with --icmp drop: $line"
# TCP is unaffected by --icmp drop.
fetch_to "$HARNESS_TMP/got" "http://$HOST_V4/" || fail "HTTP GET with --icmp drop failed"
stop_tunnel_ok
log "PASS"
