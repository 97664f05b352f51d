#!/usr/bin/env bash
# Live view (--stats-listen) and --check: --check reports each step against dante and fails
# against a port with no proxy; /metrics, /stats and /connections move during an iperf3
# transfer; a token is enforced (401); malformed and oversized requests get 400/413 and the
# tunnel keeps relaying meanwhile; more than 64 clients at once are closed and counted.
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
HTTP_PROBE="$E2E_DIR/http_probe.py"
STATS_PORT=9080
STATS="http://127.0.0.1:$STATS_PORT"

harness_up

# --check needs neither root privileges of its own nor a device: run it before any tunnel.
out=$(in_app "$T2S_BINARY" --check --proxy "$PROXY_URL" --check-target "$HOST_V4:$HTTP_PORT") ||
  fail "--check against dante failed: $out"
log "--check: $(tr '\n' '|' <<<"$out")"
for expected in "greeting: OK" "CONNECT $HOST_V4:$HTTP_PORT: OK" "UDP ASSOCIATE: OK" \
  "pipelining: " "check: OK"; do
  grep -qF "$expected" <<<"$out" || fail "--check output lacks '$expected': $out"
done
out=$(in_app "$T2S_BINARY" --check --proxy "$PROXY_AUTH_URL" --check-target "$HOST_V4:$HTTP_PORT") ||
  fail "--check with username/password failed: $out"
grep -qF "username/password accepted" <<<"$out" || fail "--check with password: $out"
rc=0
out=$(in_app "$T2S_BINARY" --check --proxy "socks5://$NET_V4:1099" --tcp-connect-timeout 3) || rc=$?
((rc == 1)) || fail "--check against a port with no proxy exited $rc, expected 1: $out"
grep -qF "greeting: FAILED" <<<"$out" || fail "--check without proxy: $out"
rc=0
out=$(in_app "$T2S_BINARY" --check --proxy "$PROXY_URL" --check-target "$HOST_V4:9" \
  --tcp-connect-timeout 3) || rc=$?
((rc == 1)) || fail "--check with a refused CONNECT exited $rc, expected 1: $out"
grep -qF "CONNECT $HOST_V4:9: FAILED" <<<"$out" || fail "--check, refused CONNECT: $out"

# A non-loopback address without a token is refused before anything is set up.
rc=0
in_app "$T2S_BINARY" --stats-listen 0.0.0.0:$STATS_PORT >"$HARNESS_TMP/refused.log" 2>&1 || rc=$?
((rc == 2)) || fail "--stats-listen 0.0.0.0 without a token exited $rc, expected 2"
grep -q "stats-token-file" "$HARNESS_TMP/refused.log" || fail "no clear error: $(cat "$HARNESS_TMP/refused.log")"

token="$HARNESS_TMP/stats-token"
printf 'e2e-token-%s\n' "$RUN_ID" >"$token"
auth=(-H "Authorization: Bearer e2e-token-$RUN_ID")
start_tunnel --stats-listen "127.0.0.1:$STATS_PORT" --stats-token-file "$token"
start_iperf_server

get() { in_app curl -sS --max-time 5 "${auth[@]}" "$@"; }
code() { in_app curl -s -o /dev/null --max-time 5 -w '%{http_code}' "$@"; }
metric() { awk -v name="$2" '$1 == name {print $2}' <<<"$1"; }

[[ $(code "$STATS/metrics") == 401 ]] || fail "/metrics without a token: not 401"
[[ $(code -H "Authorization: Bearer wrong" "$STATS/stats") == 401 ]] || fail "wrong token: not 401"
[[ $(code "${auth[@]}" "$STATS/nowhere") == 404 ]] || fail "unknown path: not 404"
[[ $(code "${auth[@]}" -X POST "$STATS/stats") == 405 ]] || fail "POST: not 405"

before=$(get "$STATS/metrics") || fail "GET /metrics failed"
grep -q '^# TYPE tun2socks_bytes_down_total counter$' <<<"$before" || fail "/metrics: $before"

# A transfer of a few seconds, scraped while it runs.
in_app iperf3 -c "$HOST_V4" -p "$IPERF_PORT" -t 4 -R -J >"$HARNESS_TMP/iperf.json" 2>&1 &
iperf_pid=$!
sleep 2
during=$(get "$STATS/metrics") || fail "GET /metrics during the transfer failed"
stats=$(get "$STATS/stats") || fail "GET /stats failed"
connections=$(get "$STATS/connections?limit=10") || fail "GET /connections failed"
# The tunnel keeps relaying while bad requests come in.
for request in 'GARBAGE\r\n\r\n' 'GET / HTTP/1.1\r\nno colon\r\n\r\n'; do
  status=$(in_app python3 "$HTTP_PROBE" status 127.0.0.1 $STATS_PORT --send "$request")
  [[ $status == 400 ]] || fail "malformed request '$request' got $status, expected 400"
done
big="GET /metrics HTTP/1.1\\r\\nX-Pad: $(head -c 20000 /dev/zero | tr '\0' a)\\r\\n\\r\\n"
status=$(in_app python3 "$HTTP_PROBE" status 127.0.0.1 $STATS_PORT --send "$big")
[[ $status == 413 ]] || fail "a 20 KB request head got $status, expected 413"
status=$(in_app python3 "$HTTP_PROBE" status 127.0.0.1 $STATS_PORT --send-hex 160301020000)
[[ $status == 400 ]] || fail "a TLS hello got $status, expected 400"
wait "$iperf_pid" || fail "iperf3 through the tunnel failed: $(tail -n 5 "$HARNESS_TMP/iperf.json")"
after=$(get "$STATS/metrics") || fail "GET /metrics after the transfer failed"

b0=$(metric "$before" tun2socks_bytes_down_total)
b1=$(metric "$during" tun2socks_bytes_down_total)
b2=$(metric "$after" tun2socks_bytes_down_total)
log "bytes_down: before $b0, during $b1, after $b2"
((b1 > b0 + 1000000)) || fail "bytes_down did not move during the transfer ($b0 -> $b1)"
((b2 > b1)) || fail "bytes_down did not move after the scrape during the transfer ($b1 -> $b2)"
(($(metric "$during" tun2socks_tcp_active) >= 2)) || fail "tcp_active < 2 during iperf3: $during"
handshakes=$(metric "$after" tun2socks_proxy_handshake_seconds_count)
((handshakes >= 2)) || fail "proxy_handshake_seconds_count=$handshakes, expected >= 2"
grep -q 'tun2socks_proxy_handshake_seconds_bucket{le="+Inf"}' <<<"$after" || fail "no +Inf bucket"
(($(metric "$after" tun2socks_stats_bad_requests_total) >= 4)) || fail "bad requests not counted"
(($(metric "$after" tun2socks_stats_unauthorized_total) >= 2)) || fail "401s not counted"

python3 - "$stats" "$connections" "$HOST_V4:$IPERF_PORT" <<'PY' || fail "/stats or /connections JSON wrong"
import json, sys
stats, page, target = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
assert stats["counters"]["bytes_down"] > 0, stats
assert stats["gauges"]["tcp_active"] >= 2, stats
assert "proxy_handshake_seconds" in stats["histograms"], stats
assert page["total"] >= 2 and page["limit"] == 10, page
rows = [c for c in page["connections"] if c["destination"] == target]
assert rows, page
assert any(c["bytes_down"] > 0 and c["state"] == "established" for c in rows), rows
assert all(c["protocol"] == "tcp" and c["source"].startswith("198.18.") for c in rows), rows
print("connections:", json.dumps(rows))
PY

# Over the cap of 64 clients at once: the extra ones are closed at once and counted.
in_app python3 - $STATS_PORT <<'PY' || fail "clients over the cap were not closed at once"
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(64)]
time.sleep(0.3)
extra = socket.create_connection(("127.0.0.1", port), timeout=5)
extra.settimeout(3)
try:
    assert extra.recv(1) == b"", "the 65th client got data"
except ConnectionResetError:
    pass
for s in held:
    s.close()
PY
sleep 0.3
after=$(get "$STATS/metrics") || fail "GET /metrics after the client flood failed"
(($(metric "$after" tun2socks_stats_clients_refused_total) >= 1)) || fail "refused client not counted"
fetch_to "$HARNESS_TMP/got" "http://$HOST_V4/1k.bin" || fail "GET through the tunnel failed after"
assert_same_file "$HARNESS_TMP/got" "$HTTP_ROOT/1k.bin" "1k.bin after the live view's tests"

stop_tunnel_ok_with_counters
assert_counter_ge "$EXIT_COUNTERS" bytes_down 1000000
log "PASS"
