#!/usr/bin/env bash
# 100 slow-loris clients against the live view (64 held at the cap, each trickling a header
# byte a second, the rest closed at once) while iperf3 runs through the tunnel: the transfer
# keeps at least half the rate of the same run without them (a gross-regression bound, not a
# timing assertion: the machine is shared), and every slow client is closed by the server at
# its 10 s deadline or at once.
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
HTTP_PROBE="$E2E_DIR/http_probe.py"
STATS_PORT=9080

harness_up
start_tunnel --stats-listen "127.0.0.1:$STATS_PORT"
start_iperf_server

# iperf_mbits: one 5 s download through the tunnel, in Mbit/s (receiver side).
iperf_mbits() {
  in_app iperf3 -c "$HOST_V4" -p "$IPERF_PORT" -t 5 -R -J >"$HARNESS_TMP/iperf.json" ||
    fail "iperf3 through the tunnel failed: $(tail -n 5 "$HARNESS_TMP/iperf.json")"
  python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e6))' \
    "$HARNESS_TMP/iperf.json"
}

alone=$(iperf_mbits)
log "iperf3 alone: $alone Mbit/s"

in_app python3 "$HTTP_PROBE" slowloris 127.0.0.1 $STATS_PORT 100 20 >"$HARNESS_TMP/loris.json" &
loris_pid=$!
sleep 1
with_loris=$(iperf_mbits)
log "iperf3 with 100 slow-loris clients: $with_loris Mbit/s"
wait "$loris_pid" || fail "slow-loris clients failed: $(cat "$HARNESS_TMP/loris.json")"
log "slow loris: $(cat "$HARNESS_TMP/loris.json")"

((with_loris * 2 >= alone)) ||
  fail "throughput with slow-loris clients $with_loris Mbit/s, under half of $alone Mbit/s"
closed=$(json_field "$(cat "$HARNESS_TMP/loris.json")" closed_by_server)
((closed == 100)) || fail "the server closed $closed of 100 slow clients within 20 s"
metrics=$(in_app curl -sS --max-time 5 "http://127.0.0.1:$STATS_PORT/metrics") ||
  fail "the live view does not answer after the slow-loris clients"
timed_out=$(awk '$1 == "tun2socks_stats_clients_timed_out_total" {print $2}' <<<"$metrics")
refused=$(awk '$1 == "tun2socks_stats_clients_refused_total" {print $2}' <<<"$metrics")
log "timed out $timed_out, refused at once $refused"
((timed_out >= 64)) || fail "stats_clients_timed_out=$timed_out, expected >= 64"
((timed_out + refused >= 100)) || fail "timed out + refused = $((timed_out + refused)) < 100"

fetch_to "$HARNESS_TMP/got" "http://$HOST_V4/1k.bin" || fail "GET through the tunnel failed"
assert_same_file "$HARNESS_TMP/got" "$HTTP_ROOT/1k.bin" "1k.bin after the slow-loris clients"
stop_tunnel_ok
log "PASS"
