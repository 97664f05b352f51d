#!/usr/bin/env bash
# Spare proxy connections (--proxy-spares, default 2). In a burst of GETs through dante, all but
# the first two start on a connection opened ahead of time, and two spares wait for the next,
# only connected (dante reads a request pipelined behind the greeting, so each flow sends both);
# once no flow came for the spares' lifetime (10 s) the tunnel holds no connection to the proxy.
# --proxy-spares 0 opens none. A proxy killed while spares wait: they are dropped, the spares a
# flow asks for meanwhile are refused and counted as failed, and GETs work once it is back.
# With username/password, spares are greeted and authenticated ahead of time; with a wrong
# password their greetings fail and are counted, and no spare is used or left open. A
# proxy that closes an idle connection just as the client speaks (a negotiation timeout), on a
# connected and on a greeted spare: the flow starts over on a new connection and its GET works
# without an error.
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

# gets COUNT WHAT: COUNT GETs of 1k.bin, one after another, each checked.
gets() {
  local count=$1 what=$2 i
  for ((i = 1; i <= count; i++)); do
    fetch_to "$got" "http://$HOST_V4/1k.bin" || fail "GET $i ($what) failed"
    assert_same_file "$got" "$HTTP_ROOT/1k.bin" "1k.bin, GET $i ($what)"
  done
}
# proxy_conns PORT: established connections from the app namespace (the tunnel's) to PORT.
proxy_conns() { in_app ss -Htn state established "dport = :$1" | wc -l; }
proxy_conns_are() { (($(proxy_conns "$1") == $2)); }
spares_failed_at_least() { (($(counter_value "$(tunnel_counters)" proxy_spares_failed) >= $1)); }
# proxy_conns_that_sent PORT: how many of those connections have sent any bytes.
proxy_conns_that_sent() {
  in_app ss -Htni state established "dport = :$1" | grep -c 'bytes_sent:' || true
}

harness_up
got="$HARNESS_TMP/got"

start_tunnel
gets 6 "a burst through dante"
line=$(tunnel_counters)
used=$(counter_value "$line" proxy_spares_used)
log "GETs started on a spare: $used of 6"
((used >= 3)) || fail "only $used of 6 GETs started on a spare: $line"
wait_until 5 "two spares waiting" proxy_conns_are "$PROXY_PORT" 2 ||
  fail "expected 2 spare connections to the proxy, found $(proxy_conns "$PROXY_PORT")"
sent=$(proxy_conns_that_sent "$PROXY_PORT")
((sent == 0)) || fail "$sent spares sent a greeting; with pipelining they are only connected"
t0=$(now_ms)
wait_until 16 "the spares to expire" proxy_conns_are "$PROXY_PORT" 0 ||
  fail "$(proxy_conns "$PROXY_PORT") connections to the proxy still open 16 s after the last GET"
log "spares closed $(($(now_ms) - t0)) ms after the burst"
line=$(tunnel_counters)
(($(counter_value "$line" proxy_spares_unused) >= 2)) || fail "expired spares not counted: $line"
(($(counter_value "$line" tcp_failed) == 0)) || fail "a GET failed: $line"
stop_tunnel_ok

start_tunnel --proxy-spares 0
gets 4 "--proxy-spares 0"
line=$(tunnel_counters)
(($(counter_value "$line" proxy_spares_used) == 0)) || fail "--proxy-spares 0 used a spare: $line"
proxy_conns_are "$PROXY_PORT" 0 ||
  fail "--proxy-spares 0 left $(proxy_conns "$PROXY_PORT") connections to the proxy open"
stop_tunnel_ok

# The proxy dies while two spares wait: they see the close; it restarts, and later GETs work.
start_tunnel
gets 3 "before the proxy restarts"
wait_until 5 "two spares waiting" proxy_conns_are "$PROXY_PORT" 2 || fail "no spares before the restart"
used_before=$(counter_value "$(tunnel_counters)" proxy_spares_used)
kill_dante "$PROXY_PORT"
wait_until 5 "the dead spares to go" proxy_conns_are "$PROXY_PORT" 0 ||
  fail "spares of the killed proxy still count as connections"
# While it is down, a flow's new spares are refused: counted as failed, never used.
in_app curl -sS --max-time 5 -o /dev/null "http://$HOST_V4/1k.bin" 2>/dev/null &&
  fail "a GET worked while the proxy was down"
wait_until 5 "the refused spares to be counted" spares_failed_at_least 1 ||
  fail "refused spare connections not counted: $(tunnel_counters)"
line=$(tunnel_counters)
failed_while_down=$(counter_value "$line" tcp_failed)
(($(counter_value "$line" proxy_spares_used) == used_before)) || fail "a refused spare was used: $line"
restart_dante "$PROXY_PORT"
gets 3 "after the proxy restarted"
line=$(tunnel_counters)
(($(counter_value "$line" tcp_failed) == failed_while_down)) ||
  fail "a GET after the restart failed: $line"
(($(counter_value "$line" proxy_spares_unused) >= 2)) || fail "dropped spares not counted: $line"
stop_tunnel_ok

# dante checks the password with crypt(3), which takes a while: the spares get a second.
start_tunnel --proxy "$PROXY_AUTH_URL"
gets 2 "through dante with username/password"
sleep 1
gets 2 "on authenticated spares"
line=$(tunnel_counters)
(($(counter_value "$line" proxy_spares_used) == 2)) || fail "authenticated spares unused: $line"
wait_until 5 "two spares waiting" proxy_conns_are "$PROXY_AUTH_PORT" 2 ||
  fail "no spares waiting with username/password"
sent=$(proxy_conns_that_sent "$PROXY_AUTH_PORT")
((sent == 2)) || fail "$sent of 2 spares sent their greeting and password ahead of time"
stop_tunnel_ok

start_tunnel --proxy "socks5://$T2S_USER:wrong@$NET_V4:$PROXY_AUTH_PORT"
for i in 1 2 3; do
  in_app curl -sS --max-time 5 -o /dev/null "http://$HOST_V4/1k.bin" 2>/dev/null &&
    fail "GET $i worked with a wrong proxy password"
done
wait_until 5 "the failed spares to go" proxy_conns_are "$PROXY_AUTH_PORT" 0 ||
  fail "$(proxy_conns "$PROXY_AUTH_PORT") connections left open to a proxy that rejects us"
line=$(tunnel_counters)
(($(counter_value "$line" proxy_spares_failed) >= 1)) || fail "failed greetings not counted: $line"
(($(counter_value "$line" proxy_spares_used) == 0)) || fail "a spare that failed was used: $line"
stop_tunnel_ok

# A server that closes a connection whose greeting comes over 300 ms after its accept, or whose
# request comes over 300 ms after its greeting. It reads pipelined requests, so spares are only
# connected; with --proxy-pipelining off they are greeted.
IDLE_PORT=1085
start_bg "$NET_NS" "$HARNESS_TMP/trickle-idle.log" python3 "$TCP_PEER" trickle --bind "$NET_V4" \
  --port "$IDLE_PORT" --chunks 10 --greet-first --drop-idle-ms 300 --seconds 120
idle_pid=$HARNESS_BG_PID
wait_port "$NET_NS" "$IDLE_PORT" "$idle_pid" "SOCKS5 server that drops idle connections"
for spare_kind in "connected:before its greeting" "greeted:before its request"; do
  kind=${spare_kind%%:*}
  dropped_when=${spare_kind#*:}
  pipelining=auto
  [[ $kind == greeted ]] && pipelining=off
  start_tunnel --proxy "socks5://$NET_V4:$IDLE_PORT" --proxy-pipelining "$pipelining"
  gets 3 "a burst through a server that drops idle connections ($kind spares)"
  wait_until 5 "two spares waiting" proxy_conns_are "$IDLE_PORT" 2 || fail "no $kind spares to drop"
  sleep 0.5
  t0=$(now_ms)
  gets 1 "on a $kind spare the server drops"
  log "GET whose $kind spare was dropped: $(($(now_ms) - t0)) ms"
  grep -q "dropped a connection idle for [0-9]* ms $dropped_when" "$HARNESS_TMP/trickle-idle.log" ||
    fail "the server dropped no $kind spare; the case no longer tests starting over"
  line=$(tunnel_counters)
  (($(counter_value "$line" tcp_failed) == 0)) || fail "the flow on a dropped $kind spare failed: $line"
  stop_tunnel_ok
done
kill_pid "$idle_pid" 3
log "PASS"
