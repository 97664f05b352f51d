#!/usr/bin/env bash
# --auto-route on a namespace set up like a machine (default routes through the uplink to a
# gateway that holds dante and the test hosts):
# - traffic to a test host goes through the proxy, and the tunnel's own proxy connection does
#   not loop back into the device;
# - an --exclude'd host, a connection from the host's own address and a connection accepted
#   from outside (an SSH session into the machine) go direct;
# - routes, rules and addresses read byte-identical before and after a SIGTERM run;
# - after SIGKILL the leftovers are there, the next start cleans them up, and the run after
#   that leaves nothing behind; --cleanup removes leftovers without starting;
# - CAP_NET_ADMIN alone is enough for all of it.
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

harness_up
add_uplink_default_routes
start_dns_server
before="$HARNESS_TMP/routing-before.txt"
routing_snapshot >"$before"

# Without the tunnel the test hosts are reached directly through the uplink.
in_app curl -fsS --max-time 5 -o /dev/null "http://$HOST_V4/" || fail "direct GET failed"

expect_unchanged_routing() {
  local after="$HARNESS_TMP/routing-after-$1.txt"
  routing_snapshot >"$after"
  if ! diff -u "$before" "$after" >&2; then
    fail "routes, rules or addresses differ after $1 (diff above)"
  fi
  log "routing identical to the start after $1"
}

# tcp_opened_during COMMAND...: runs COMMAND and prints how many connections the tunnel opened
# meanwhile.
tcp_opened_during() {
  local before_line after_line
  before_line=$(tunnel_counters)
  "$@" >/dev/null || fail "failed: $*"
  after_line=$(tunnel_counters)
  echo $(($(counter_value "$after_line" tcp_opened) - $(counter_value "$before_line" tcp_opened)))
}

start_tunnel --auto-route --exclude "$HOST2_V4/32" --exclude "$HOST2_V6/128"
grep -q 'auto-route: all traffic into' "$TUN_LOG" || fail "no auto-route line in the log"
rules=$(in_app ip rule show)
grep -q 'lookup 2080' <<<"$rules" || fail "no rule looking up table 2080: $rules"

for url in "http://$HOST_V4/" "http://[$HOST_V6]/"; do
  opened=$(tcp_opened_during in_app curl -fsS -g --max-time 5 -o /dev/null "$url")
  log "GET $url: $opened connection(s) through the tunnel"
  # A loop would open a second connection (the tunnel's own one to the proxy) and more.
  ((opened == 1)) || fail "GET $url opened $opened connections in the tunnel, expected 1"
done

for url in "http://$HOST2_V4/" "http://[$HOST2_V6]/"; do
  opened=$(tcp_opened_during in_app curl -fsS -g --max-time 5 -o /dev/null "$url")
  ((opened == 0)) || fail "GET $url (excluded) went through the tunnel"
  log "GET $url (excluded): direct"
done
opened=$(tcp_opened_during in_app curl -fsS --max-time 5 --interface "$APP_V4" -o /dev/null \
  "http://$HOST_V4/")
((opened == 0)) || fail "a connection from the host's own address $APP_V4 entered the tunnel"
log "GET from the host's own address $APP_V4: direct"

# A connection accepted from outside, like an SSH session into the machine, keeps working.
start_bg "$APP_NS" "$HARNESS_TMP/inbound.log" python3 "$TCP_PEER" server --port 2222
wait_port "$APP_NS" 2222 "$HARNESS_BG_PID" "inbound echo server"
reply=$(in_net python3 "$TCP_PEER" echo --host "$APP_V4" --port 2222 --bytes 100000 2>&1) ||
  fail "inbound connection to $APP_V4:2222 failed: $reply"
log "inbound connection from the gateway: $reply"

stop_tunnel_ok
grep -q 'removed the routes and rules' "$TUN_LOG" || fail "no teardown line in the log"
expect_unchanged_routing "SIGTERM"

# SIGKILL leaves the routes; with --fail-closed nothing leaks while they are there.
start_tunnel --auto-route --fail-closed
in_app curl -fsS --max-time 5 -o /dev/null "http://$HOST_V4/" || fail "GET with --fail-closed"
stop_tunnel KILL 5 || true
rules=$(in_app ip rule show)
grep -q '^20801:' <<<"$rules" || fail "no leftover rule after SIGKILL: $rules"
for url in "http://$HOST_V4/" "http://[$HOST_V6]/"; do
  rc=0
  err=$(in_app curl -sS -g --max-time 5 -o /dev/null "$url" 2>&1) || rc=$?
  ((rc != 0)) || fail "GET $url succeeded after SIGKILL with --fail-closed: traffic leaked"
  log "after SIGKILL with --fail-closed: GET $url fails ($rc: $err)"
done

# The proxy by name: resolving it must not be blocked by the leftover fail-closed routes.
start_tunnel --auto-route --proxy "socks5://$PROXY_NAME:$PROXY_PORT"
grep -qE 'removed [1-9][0-9]* leftover' "$TUN_LOG" || fail "start did not report leftovers"
in_app curl -fsS --max-time 5 -o /dev/null "http://$HOST_V4/" || fail "GET after restart failed"
stop_tunnel_ok
expect_unchanged_routing "SIGKILL and a restart"

start_tunnel --auto-route --fail-closed
stop_tunnel KILL 5 || true
out=$(in_app "$T2S_BINARY" --cleanup 2>&1) || fail "--cleanup failed: $out"
log "--cleanup: $out"
expect_unchanged_routing "SIGKILL and --cleanup"

# CAP_NET_ADMIN alone is enough (the systemd unit's set-up: root's uid, no other capability).
T2S_LAUNCHER=(setpriv --inh-caps=-all,+net_admin --ambient-caps=-all,+net_admin
  --bounding-set=-all,+net_admin)
start_tunnel --auto-route --fail-closed
T2S_LAUNCHER=()
caps=$(awk '/^CapEff:/ {print $2}' "/proc/$TUN_PID/status")
[[ $caps == 0000000000001000 ]] || fail "launched with CapEff $caps, expected CAP_NET_ADMIN only"
in_app curl -fsS --max-time 5 -o /dev/null "http://$HOST_V4/" || fail "GET with CAP_NET_ADMIN only"
stop_tunnel_ok
expect_unchanged_routing "a run with CAP_NET_ADMIN only"

# A device without IPv6 leaves IPv6 alone, or blocks it with --fail-closed.
start_tunnel --auto-route --address6 none
opened=$(tcp_opened_during in_app curl -fsS -g --max-time 5 -o /dev/null "http://[$HOST_V6]/")
((opened == 0)) || fail "IPv6 entered a tunnel without IPv6"
stop_tunnel_ok
start_tunnel --auto-route --address6 none --fail-closed
rc=0
in_app curl -sS -g --max-time 5 -o /dev/null "http://[$HOST_V6]/" 2>/dev/null || rc=$?
((rc == 7)) || fail "IPv6 with --fail-closed and no IPv6 in the tunnel: curl exit $rc, expected 7"
in_app curl -fsS --max-time 5 -o /dev/null "http://$HOST_V4/" || fail "IPv4 GET, no IPv6 device"
stop_tunnel_ok
expect_unchanged_routing "runs with --address6 none"
log "--address6 none: IPv6 direct, or refused with --fail-closed"

# --interface binds the proxy sockets to the uplink; a wrong name fails at start, by name.
start_tunnel --auto-route --interface "$VETH_APP"
in_app curl -fsS --max-time 5 -o /dev/null "http://$HOST_V4/" || fail "GET with --interface"
stop_tunnel_ok
rc=0
out=$(in_app "$T2S_BINARY" --device t2sbad0 --auto-route --interface nosuch0 2>&1) || rc=$?
((rc != 0)) || fail "--interface nosuch0 did not fail"
grep -q 'nosuch0' <<<"$out" || fail "the error does not name the interface: $out"
log "--interface nosuch0: exit $rc: $out"
expect_unchanged_routing "a failed start"
log "PASS"
