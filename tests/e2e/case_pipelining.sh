#!/usr/bin/env bash
# SOCKS5 handshakes are pipelined (greeting and request in one segment) once a probe has shown
# that the proxy reads a request sent behind the greeting: dante does, so a GET's handshake is
# one 13-byte segment (3-byte greeting + 10-byte IPv4 request). microsocks drops such a request:
# the probe gets no reply, connections made meanwhile and afterwards still work, and their
# greeting and request go out separately. --proxy-pipelining off sends no probe. A proxy
# replaced by another server on the same port: the first pipelined handshake that stalls makes
# the tunnel probe again, and later connections work. A proxy that writes its answer in pieces
# (the tunnel waits for a whole pipelined answer before waking, then for every byte): GETs
# complete in the time the pieces take, not at the connect timeout.
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

# capture_gets PORT COUNT: COUNT GETs of 1k.bin under an uplink capture; SEGMENTS is set to the
# payload lengths of the segments the tunnel sent to the proxy on PORT.
capture_gets() {
  local port=$1 count=$2 i
  start_uplink_capture
  for ((i = 1; i <= count; i++)); do
    fetch_to "$got" "http://$HOST_V4/1k.bin" || fail "GET $i through the proxy on port $port failed"
    assert_same_file "$got" "$HTTP_ROOT/1k.bin" "1k.bin, GET $i through the proxy on port $port"
  done
  stop_uplink_capture
  SEGMENTS=$(tcpdump -n -r "$UPLINK_CAPTURE" "tcp dst port $port and (tcp[tcpflags] & tcp-push != 0)" \
    2>/dev/null | grep -o 'length [0-9]*$' | awk '{print $2}' | tr '\n' ' ')
  log "segments to port $port for $count GET(s): $SEGMENTS"
}

harness_up
got="$HARNESS_TMP/got"

# dante: the probe succeeds, then a GET's greeting and request share one segment.
start_tunnel
wait_until 5 "the pipelining verdict" grep -q 'reads a request sent behind the greeting' "$TUN_LOG" ||
  fail "no pipelining verdict for dante in the log: $(grep -i greeting "$TUN_LOG")"
grep -q 'unbound ipaddress (0.0.0.0.0)' "$HARNESS_TMP/danted-$PROXY_PORT.log" ||
  fail "dante's log does not show the probe's CONNECT to 0.0.0.0 port 0"
capture_gets "$PROXY_PORT" 1
[[ $SEGMENTS == "13 "* ]] || fail "the handshake was not pipelined: first segments $SEGMENTS"
stop_tunnel_ok

# --proxy-pipelining off: no probe, greeting and request apart.
probes_before=$(grep -c 'unbound ipaddress (0.0.0.0.0)' "$HARNESS_TMP/danted-$PROXY_PORT.log")
start_tunnel --proxy-pipelining off
capture_gets "$PROXY_PORT" 1
[[ $SEGMENTS == "3 10 "* ]] || fail "expected a 3-byte greeting, then a 10-byte request: $SEGMENTS"
probes_after=$(grep -c 'unbound ipaddress (0.0.0.0.0)' "$HARNESS_TMP/danted-$PROXY_PORT.log")
((probes_after == probes_before)) || fail "--proxy-pipelining off still sent a probe"
grep -q 'behind the greeting' "$TUN_LOG" && fail "--proxy-pipelining off logged a pipelining verdict"
stop_tunnel_ok

# microsocks reads the greeting and drops the rest: connections during the probe and after its
# verdict work, with greeting and request apart. Spares are off: their greetings would come
# between the segments checked here (case_spares covers them).
start_microsocks
start_tunnel --proxy "socks5://$NET_V4:$MICROSOCKS_PORT" --proxy-spares 0
fetch_to "$got" "http://$HOST_V4/1k.bin" || fail "GET through microsocks during the probe failed"
assert_same_file "$got" "$HTTP_ROOT/1k.bin" "1k.bin via microsocks during the probe"
wait_until 8 "the pipelining verdict" grep -q 'does not take a request sent behind the greeting' \
  "$TUN_LOG" || fail "no negative pipelining verdict for microsocks: $(grep -i greeting "$TUN_LOG")"
grep -q 'reads a request sent behind the greeting' "$TUN_LOG" &&
  fail "microsocks was taken for a server that reads pipelined requests"
capture_gets "$MICROSOCKS_PORT" 3
[[ $SEGMENTS == "3 10 "* ]] || fail "expected a 3-byte greeting, then a 10-byte request: $SEGMENTS"
[[ " $SEGMENTS" != *" 13 "* ]] || fail "a handshake to microsocks was pipelined: $SEGMENTS"
stop_tunnel_ok
kill_pid "$MICROSOCKS_PID" 3
MICROSOCKS_PID=""

# dante, then microsocks on dante's port while the tunnel runs.
start_tunnel --tcp-connect-timeout 2
wait_until 5 "the pipelining verdict" grep -q 'reads a request sent behind the greeting' "$TUN_LOG" ||
  fail "no pipelining verdict for dante in the log"
kill_dante "$PROXY_PORT"
sleep 2.2  # past the pause before a failed handshake may reopen the verdict
start_bg "$NET_NS" "$HARNESS_TMP/microsocks-swap.log" microsocks -i "$NET_V4" -p "$PROXY_PORT"
swap_pid=$HARNESS_BG_PID
wait_port "$NET_NS" "$PROXY_PORT" "$swap_pid" "microsocks on dante's port"
t0=$(now_ms)
rc=0
in_app curl -sS --max-time 10 -o /dev/null "http://$HOST_V4/1k.bin" 2>/dev/null || rc=$?
log "GET with a pipelined handshake to microsocks: curl exit $rc after $(($(now_ms) - t0)) ms"
((rc != 0)) || fail "a pipelined handshake to microsocks worked; the case no longer tests a stall"
fetch_to "$got" "http://$HOST_V4/1k.bin" || fail "GET after the stalled handshake failed"
assert_same_file "$got" "$HTTP_ROOT/1k.bin" "1k.bin via the swapped-in microsocks"
wait_until 8 "the new pipelining verdict" grep -q 'does not take a request sent behind the greeting' \
  "$TUN_LOG" || fail "no new verdict after the proxy changed: $(grep -i greeting "$TUN_LOG")"
capture_gets "$PROXY_PORT" 2
[[ " $SEGMENTS" != *" 13 "* ]] || fail "handshakes to the swapped-in microsocks pipelined: $SEGMENTS"
stop_tunnel_ok
kill_pid "$swap_pid" 3

# Answers in pieces of 2, 3, 4, then 1, 1, 1 bytes, 100 ms apart: the first 9 bytes wake the
# tunnel once; the last three must each be read, although fewer than a whole answer.
TRICKLE_PORT=1084
start_bg "$NET_NS" "$HARNESS_TMP/trickle.log" python3 "$TCP_PEER" trickle --bind "$NET_V4" \
  --port "$TRICKLE_PORT" --chunks 2,3,4,1,1,1 --gap-ms 100 --seconds 120
trickle_pid=$HARNESS_BG_PID
wait_port "$NET_NS" "$TRICKLE_PORT" "$trickle_pid" "trickling SOCKS5 server"
start_tunnel --proxy "socks5://$NET_V4:$TRICKLE_PORT" --tcp-connect-timeout 5
wait_until 5 "the pipelining verdict" grep -q 'reads a request sent behind the greeting' "$TUN_LOG" ||
  fail "no pipelining verdict for the trickling server: $(grep -i greeting "$TUN_LOG")"
for i in 1 2; do
  t0=$(now_ms)
  fetch_to "$got" "http://$HOST_V4/1k.bin" || fail "GET $i through the trickling server failed"
  took=$(($(now_ms) - t0))
  assert_same_file "$got" "$HTTP_ROOT/1k.bin" "1k.bin, GET $i through the trickling server"
  log "GET $i through the trickling server: $took ms"
  ((took >= 500 && took < 2500)) || fail "GET $i took $took ms; the answer takes 500 ms to arrive"
done
stop_tunnel_ok
kill_pid "$trickle_pid" 3
log "PASS"
