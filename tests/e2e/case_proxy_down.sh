#!/usr/bin/env bash
# With nothing listening at the proxy address, app connections are refused/reset at once (not left
# to time out), and the tunnel keeps running.
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

harness_up
port_listening "$NET_NS" 1099 && fail "something listens on 1099 in $NET_NS"
start_tunnel --proxy "socks5://$NET_V4:1099"

for url in "http://$HOST_V4/" "http://[$HOST_V6]/"; do
  t0=$(now_ms)
  rc=0
  err=$(in_app curl -sS -g --max-time 10 -o /dev/null "$url" 2>&1) || rc=$?
  elapsed=$(($(now_ms) - t0))
  log "curl $url with the proxy down: exit $rc after ${elapsed} ms: $err"
  ((rc != 0)) || fail "curl $url succeeded with the proxy down"
  ((rc != 28)) || fail "curl $url timed out instead of being refused/reset"
  ((elapsed < 2000)) || fail "curl $url took ${elapsed} ms to fail (limit 2000)"
  # 7: connection refused (RST to the SYN); 56: connection reset after the handshake.
  if ! ((rc == 7 || rc == 56)) && ! grep -qiE 'reset|refused' <<<"$err"; then
    fail "curl $url failed with exit $rc ($err), expected a reset or refused connection"
  fi
done

tunnel_running || fail "tunnel is not running after failed proxy connections"
# The user is told why, in words that name the proxy connection (the refusal is noticed on the
# first write or read of the socket, not by a connect callback).
grep -qF "cannot connect to proxy: connection refused (proxy socks5://$NET_V4:1099)" "$TUN_LOG" ||
  fail "no 'cannot connect to proxy: connection refused' warning in the tunnel log"
line=$(tunnel_counters)
log "SIGUSR1: $line"
assert_counter_ge "$line" tcp_failed 2
stop_tunnel_ok
log "PASS"
