#!/usr/bin/env bash
# The proxy dies mid-transfer: four 1 GiB downloads (tcp_peer download: every byte checked as
# it arrives) are running when dante (no-auth, every process of it) is killed with SIGKILL. Every app connection must end with an error (reset, or
# a short read) within FAULT_KILL_LIMIT_MS, the tunnel must keep running and drop its sessions
# (tcp_active 0), connections while the proxy is down must be refused, and once dante is
# restarted on the same port a new GET must succeed at once.
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

FAULT_KILL_LIMIT_MS=${FAULT_KILL_LIMIT_MS:-5000}
DOWNLOADS=4
SIZE=$((1 << 30))

harness_up
start_tunnel

# Four downloads, far larger than what moves before the kill (checked below: bytes_down).
pids=()
for ((i = 0; i < DOWNLOADS; i++)); do
  in_app timeout 60 python3 "$TCP_PEER" download --host "$HOST_V4" --port "$PEER_PORT" \
    --bytes "$SIZE" --seed "$i" --io-timeout 30 >"$HARNESS_TMP/dl-$i.out" 2>&1 &
  pids+=($!)
done

# Wait until all four are relayed and data is flowing, then kill dante.
deadline=$(($(now_ms) + 10000))
while :; do
  line=$(tunnel_counters)
  (($(counter_value "$line" tcp_active) >= DOWNLOADS)) &&
    (($(counter_value "$line" bytes_down) >= 4 << 20)) && break
  (($(now_ms) < deadline)) || fail "downloads did not start within 10 s: $line"
  sleep 0.05
done
log "before the kill: $line"
before_down=$(counter_value "$line" bytes_down)
((before_down < DOWNLOADS * SIZE / 2)) ||
  fail "downloads nearly finished before the kill (bytes_down=$before_down): test cannot judge"

t_kill=$(now_ms)
kill_dante "$PROXY_PORT" KILL
t_dead=$(now_ms)
log "dante killed in $((t_dead - t_kill)) ms"

# Every client must end, with an error, in time.
deadline=$((t_kill + FAULT_KILL_LIMIT_MS))
remaining=("${pids[@]}")
while ((${#remaining[@]})); do
  still=()
  for pid in "${remaining[@]}"; do
    pid_alive "$pid" && still+=("$pid")
  done
  remaining=("${still[@]}")
  ((${#remaining[@]})) || break
  (($(now_ms) < deadline)) ||
    fail "${#remaining[@]} of $DOWNLOADS clients still running ${FAULT_KILL_LIMIT_MS} ms after dante was killed"
  sleep 0.02
done
t_all=$(now_ms)
ok_clients=0
for ((i = 0; i < DOWNLOADS; i++)); do
  rc=0
  wait "${pids[$i]}" || rc=$?
  log "download $i: exit $rc: $(tail -n 1 "$HARNESS_TMP/dl-$i.out")"
  ((rc == 0)) && ok_clients=$((ok_clients + 1))
  # A short stream is expected (EOF or reset); bytes that differ from what was sent are not.
  ! grep -q 'wrong data' "$HARNESS_TMP/dl-$i.out" || fail "download $i received corrupted data"
  ((rc != 124)) || fail "download $i hit its 60 s timeout"
done
((ok_clients == 0)) || fail "$ok_clients downloads completed although dante was killed mid-transfer"
figure kill_to_all_clients_errored_ms $((t_all - t_kill))

tunnel_running || fail "tunnel died when the proxy was killed"
t0=$(now_ms)
wait_counters_zero 5 tcp_active
line=$SETTLED_LINE
log "after the kill: $line"
figure kill_to_tcp_active_zero_ms $(($(now_ms) - t_kill))
assert_counter_ge "$line" tcp_opened "$DOWNLOADS"
resets=$(($(counter_value "$line" tcp_reset)))
figure tcp_reset_after_kill "$resets"
figure bytes_down_before_kill "$before_down"
log "tcp_active reached 0 within $(($(now_ms) - t0)) ms of the clients ending"

# Proxy down: a new connection is refused quickly, not left hanging.
rc=0
t0=$(now_ms)
in_app curl -sS --max-time 10 -o /dev/null "http://$HOST_V4/" 2>/dev/null || rc=$?
elapsed=$(($(now_ms) - t0))
((rc != 0)) || fail "GET succeeded while dante was down"
((rc != 28 && elapsed < 3000)) || fail "GET with dante down took ${elapsed} ms (exit $rc)"
figure refused_while_down_ms "$elapsed"

# Restart dante on the same port: the next GET works at once.
t_restart=$(now_ms)
restart_dante "$PROXY_PORT"
t_up=$(now_ms)
got="$HARNESS_TMP/got"
fetch_to "$got" "http://$HOST_V4/1k.bin" || fail "GET right after the dante restart failed"
assert_same_file "$got" "$HTTP_ROOT/1k.bin" "1k.bin after the restart"
t_ok=$(now_ms)
figure dante_restart_ms $((t_up - t_restart))
figure restart_to_first_good_get_ms $((t_ok - t_restart))
figure kill_to_recovered_ms $((t_ok - t_kill))

# And a full 64 MiB download (sha256 checked) again.
out=$(in_app timeout 60 python3 "$TCP_PEER" source --host "$HOST_V4" --port "$PEER_PORT" \
  --bytes $((64 << 20)) --seed 99) || fail "64 MiB download after the restart failed: $out"
log "after the restart: $out"

tunnel_running || fail "tunnel died"
stop_tunnel_ok_with_counters TERM
log "exit: $EXIT_COUNTERS"
log "PASS"
