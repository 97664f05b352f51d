#!/usr/bin/env bash
# Username/password SOCKS5 (dante on 1081, password percent-encoded in the URL) works; a wrong
# password fails the client fast, logs "authentication failed" and never logs the password.
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

WRONG_PASS='Wr0ngSecret#!'
WRONG_PASS_ENC='Wr0ngSecret%23%21'

harness_up

# Right credentials.
start_tunnel --proxy "$PROXY_AUTH_URL"
got="$HARNESS_TMP/got"
fetch_to "$got" "http://$HOST_V4/1k.bin" || fail "GET through the tunnel with user/pass failed"
assert_same_file "$got" "$HTTP_ROOT/1k.bin" "1k.bin via authenticated proxy"
fetch_to "$got" "http://[$HOST_V6]/" || fail "IPv6 GET through the tunnel with user/pass failed"
assert_same_file "$got" "$HTTP_ROOT/index.html" "IPv6 index.html via authenticated proxy"
stop_tunnel_ok
if grep -qF -e "$T2S_PASS" -e "$T2S_PASS_ENC" "$TUN_LOG"; then
  fail "tunnel log contains the proxy password"
fi

# Wrong password (debug logging, so nothing may leak at any level).
start_tunnel --proxy "socks5://$T2S_USER:$WRONG_PASS_ENC@$NET_V4:$PROXY_AUTH_PORT" --log-level debug
t0=$(now_ms)
rc=0
err=$(in_app curl -sS --max-time 10 -o /dev/null "http://$HOST_V4/" 2>&1) || rc=$?
elapsed=$(($(now_ms) - t0))
log "curl with wrong proxy password: exit $rc after ${elapsed} ms: $err"
((rc != 0)) || fail "curl succeeded although the proxy password is wrong"
((rc != 28)) || fail "curl timed out instead of failing fast (wrong password)"
((elapsed < 3000)) || fail "curl took ${elapsed} ms to fail with a wrong password (limit 3000)"
wait_until 3 "'authentication failed' in the log" grep -q 'authentication failed' "$TUN_LOG" ||
  fail "tunnel log has no 'authentication failed' line"
if grep -qF -e "Wr0ngSecret" -e "$WRONG_PASS" -e "$WRONG_PASS_ENC" "$TUN_LOG"; then
  fail "tunnel log contains the wrong password text"
fi
tunnel_running || fail "tunnel died after an authentication failure"
stop_tunnel_ok
log "PASS"
