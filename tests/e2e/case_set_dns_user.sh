#!/usr/bin/env bash
# --set-dns and --user with --auto-route:
# - the system resolver (the namespace's /etc/resolv.conf) points into the tunnel, keeps its
#   other lines, and names resolve by fake IP; other query types reach the nameserver the
#   system had, through the proxy;
# - the tunnel runs as nobody with only CAP_NET_ADMIN, and still tears everything down;
# - after SIGKILL, --cleanup puts the resolver configuration back, from the file alone.
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

harness_up
add_uplink_default_routes
start_dns_server
resolv="/etc/netns/$APP_NS/resolv.conf"
printf 'search example.test\n' >>"$resolv"
original=$(cat "$resolv")
before="$HARNESS_TMP/routing-before.txt"
routing_snapshot >"$before"
cap_net_admin=0000000000001000
nobody_uid=$(id -u nobody)

start_tunnel --auto-route --dns fake --set-dns --user nobody
ours=$(in_app cat /etc/resolv.conf)
log "resolver while running: $(tr '\n' '|' <<<"$ours")"
grep -q '^nameserver 198\.18\.0\.2$' <<<"$ours" || fail "resolver does not point into the tunnel"
grep -q "^nameserver $DNS_V4" <<<"$ours" && fail "the old nameserver is still in use"
grep -q "^# tun2socks saved: nameserver $DNS_V4\$" <<<"$ours" || fail "the old nameserver is not kept"
grep -q '^search example.test$' <<<"$ours" || fail "the search line was lost"
grep -q '^options timeout:2 attempts:2$' <<<"$ours" || fail "the options line was lost"

status=$(cat "/proc/$TUN_PID/status")
uid=$(awk '/^Uid:/ {print $2 " " $3 " " $4}' <<<"$status")
caps=$(awk '/^CapEff:/ {print $2}' <<<"$status")
bound=$(awk '/^CapBnd:/ {print $2}' <<<"$status")
log "tunnel process: uid $uid, CapEff $caps, CapBnd $bound"
[[ $uid == "$nobody_uid $nobody_uid $nobody_uid" ]] || fail "tunnel is not running as nobody: $uid"
[[ $caps == "$cap_net_admin" ]] || fail "effective capabilities $caps, expected CAP_NET_ADMIN only"
[[ $bound == "$cap_net_admin" ]] || fail "bounding set $bound, expected CAP_NET_ADMIN only"

# The system resolver (getent, curl) resolves through the tunnel: by fake IP, by name at dante.
address=$(in_app getent ahostsv4 app | awk 'NR == 1 {print $1}')
[[ $address =~ ^198\.19\. ]] || fail "app (search example.test) resolved to '$address', not a fake IP"
got="$HARNESS_TMP/got"
in_app curl -fsS --max-time 5 -o "$got" "http://$DNS_NAME/" || fail "GET by name failed"
assert_same_file "$got" "$HTTP_ROOT/index.html" "index.html by name through the system resolver"
mx=$(in_app dig +short +time=3 +tries=1 example.test MX)
[[ $mx == "10 mail.example.test." ]] || fail "MX through the system resolver: got '$mx'"
line=$(tunnel_counters)
assert_counter_ge "$line" dns_answered_from_pool 1
assert_counter_ge "$line" dns_answered_upstream 1
log "resolved $DNS_NAME to $address, MX forwarded upstream; new proxy sockets still marked as nobody"

stop_tunnel_ok
[[ $(cat "$resolv") == "$original" ]] || fail "resolver not restored after SIGTERM: $(cat "$resolv")"
routing_snapshot >"$HARNESS_TMP/routing-after.txt"
diff -u "$before" "$HARNESS_TMP/routing-after.txt" >&2 || fail "routing differs after a run as nobody"
log "SIGTERM as nobody: resolver and routing restored"

start_tunnel --auto-route --dns fake --set-dns
stop_tunnel KILL 5 || true
grep -q '^# written by tun2socks' "$resolv" || fail "resolver not ours after SIGKILL (test broken?)"
# The original comes back from the file alone (nothing else survives a reboot).
out=$(in_app "$T2S_BINARY" --cleanup 2>&1) || fail "--cleanup: $out"
[[ $(cat "$resolv") == "$original" ]] || fail "--cleanup did not restore the resolver"
diff -u "$before" <(routing_snapshot) >&2 || fail "routing differs after SIGKILL and --cleanup"
log "after SIGKILL, --cleanup restored the resolver: $out"
log "PASS"
