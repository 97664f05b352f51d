#!/usr/bin/env bash
# --auto-route --fail-closed with the proxy stopped: apps get a refusal at once, and nothing
# reaches the uplink except the tunnel's own attempts to reach the proxy (counted by a capture
# on the uplink). When the proxy comes back, traffic flows again without a restart.
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

harness_up
add_uplink_default_routes
start_udp_echo
start_tunnel --auto-route --fail-closed
kill_dante "$PROXY_PORT"
start_uplink_capture

for url in "http://$HOST_V4/" "http://[$HOST_V6]/" "http://$HOST2_V4:$PEER_PORT/"; do
  rc=0
  in_app curl -sS -g --max-time 5 -o /dev/null "$url" 2>/dev/null || rc=$?
  ((rc != 0)) || fail "GET $url succeeded with the proxy stopped"
  ((rc != 28)) || fail "GET $url timed out instead of being refused"
done
for host in "$HOST_V4" "$HOST_V6"; do
  udp_client echo --host "$host" --port "$UDP_ECHO_PORT" --sizes 1,1400 --attempts 2 \
    --timeout 0.5 >/dev/null 2>&1 && fail "UDP echo via $host answered with the proxy stopped"
done
in_app dig +time=1 +tries=1 "@$DNS_V4" example.test A >/dev/null 2>&1 || true
stop_uplink_capture

attempts=$(uplink_packets "host $NET_V4 and tcp port $PROXY_PORT")
leaked=$(uplink_packets "$UPLINK_NOT_PROXY")
log "uplink with the proxy stopped: $attempts packets of proxy attempts, $leaked others"
((attempts > 0)) || fail "no attempt to reach the proxy was seen (is the capture working?)"
((leaked == 0)) || fail "$leaked packets left outside the tunnel: $(uplink_show "$UPLINK_NOT_PROXY")"

restart_dante "$PROXY_PORT"
in_app curl -fsS --max-time 5 -o /dev/null "http://$HOST_V4/" ||
  fail "GET failed after the proxy came back"
stop_tunnel_ok
log "PASS"
