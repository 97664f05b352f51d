#!/usr/bin/env bash
# A proxy that accepts TCP and never answers (tcp_peer blackhole on 192.0.2.2:1083), with
# --tcp-connect-timeout 2: the app's connect() is refused after ~2 s instead of hanging
# (limit SILENT_LIMIT_MS), tcp_failed counts it, and nothing stays active. Then 200 such
# connections at once: all refused within the limit, RSS growth bounded, tcp_active back to 0.
# A UDP datagram's association times out the same way and the app gets ICMP port unreachable.
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

SILENT_PORT=1083
CONNECT_TIMEOUT=2
SILENT_LIMIT_MS=${SILENT_LIMIT_MS:-4000}
CONNS=200
# Growth allowed while 200 connections wait on the silent proxy and after they are gone. Each
# waiting connection is a held SYN plus a socket and a small connector state (~1-2 KiB); 200 of
# them are well under 1 MiB, so 4 MiB only catches real leaks (or per-connection buffers
# allocated before the proxy answered).
SILENT_RSS_GROWTH_KIB=${SILENT_RSS_GROWTH_KIB:-4096}

harness_up
start_bg "$NET_NS" "$HARNESS_TMP/blackhole.log" python3 "$TCP_PEER" blackhole --bind "$NET_V4" \
  --port "$SILENT_PORT" --max-conns 5000 --seconds 300
wait_port "$NET_NS" "$SILENT_PORT" "$HARNESS_BG_PID" "blackhole proxy"

start_tunnel --proxy "socks5://$NET_V4:$SILENT_PORT" --tcp-connect-timeout "$CONNECT_TIMEOUT"
sleep 0.3
rss_idle=$(proc_rss_kib "$TUN_PID")

# One connection, IPv4 then IPv6: refused (not connected, not hanging) in about 2 s.
for host in "$HOST_V4" "$HOST_V6"; do
  out=$(in_app timeout 30 python3 "$TCP_PEER" connfail --host "$host" --port "$PEER_PORT" \
    --conns 1 --deadline 15) || fail "single connection to $host via the silent proxy: $out"
  log "single ($host): $out"
  ms=$(json_field "$out" max_fail_ms)
  ((ms >= CONNECT_TIMEOUT * 1000 - 200)) ||
    fail "refused after ${ms} ms, before the ${CONNECT_TIMEOUT} s connect timeout"
  ((ms <= SILENT_LIMIT_MS)) || fail "refused only after ${ms} ms (limit $SILENT_LIMIT_MS)"
  figure "single_refused_ms_${host//[:.]/_}" "$ms"
done
tunnel_running || fail "tunnel died"
wait_counters_zero 5 tcp_active
line=$SETTLED_LINE
log "after single connections: $line"
assert_counter_ge "$line" tcp_failed 2

# 200 at once.
out=$(ulimit -n 4096 && in_app timeout 60 python3 "$TCP_PEER" connfail --host "$HOST_V4" \
  --port "$PEER_PORT" --conns "$CONNS" --deadline 20) ||
  fail "$CONNS concurrent connections via the silent proxy: $out"
log "$CONNS at once: $out"
max_ms=$(json_field "$out" max_fail_ms)
min_ms=$(json_field "$out" min_fail_ms)
((max_ms <= SILENT_LIMIT_MS)) || fail "slowest refusal after ${max_ms} ms (limit $SILENT_LIMIT_MS)"
((min_ms >= CONNECT_TIMEOUT * 1000 - 200)) || fail "a connection was refused after ${min_ms} ms"
figure concurrent_refused "$(json_field "$out" refused)"
figure concurrent_min_refused_ms "$min_ms"
figure concurrent_max_refused_ms "$max_ms"
rss_peak=$(proc_hwm_kib "$TUN_PID")

tunnel_running || fail "tunnel died"
wait_counters_zero 5 tcp_active
line=$SETTLED_LINE
log "after $CONNS: $line"
assert_counter_ge "$line" tcp_failed $((CONNS + 2))
# tcp_opened counts sessions started; every one of them must have failed.
(($(counter_value "$line" tcp_failed) == $(counter_value "$line" tcp_opened))) ||
  fail "tcp_failed != tcp_opened: some connection via the silent proxy did not fail: $line"
rss_end=$(proc_rss_kib "$TUN_PID")
figure rss_idle_kib "$rss_idle"
figure rss_peak_kib "$rss_peak"
figure rss_end_kib "$rss_end"
assert_memory_below $((rss_peak - rss_idle)) $((SILENT_RSS_GROWTH_KIB + 1)) \
  "peak RSS growth with $CONNS connections waiting on the silent proxy"
assert_memory_below $((rss_end - rss_idle)) $((SILENT_RSS_GROWTH_KIB + 1)) \
  "RSS growth after the $CONNS connections ended"

# UDP: setting up the association has the same deadline. The app's datagram is then answered
# with ICMP port unreachable, as when a proxy refuses UDP.
out=$(udp_client refused --host "$HOST_V4" --port "$UDP_ECHO_PORT" --timeout 10) ||
  fail "UDP via the silent proxy was not refused within 10 s: $out"
log "UDP via the silent proxy: $out"
ms=$(json_field "$out" ms)
ms=${ms%.*}  # whole milliseconds
((ms >= CONNECT_TIMEOUT * 1000 - 200)) || fail "UDP refused after ${ms} ms, before the connect timeout"
((ms <= SILENT_LIMIT_MS)) || fail "UDP refused only after ${ms} ms (limit $SILENT_LIMIT_MS)"
figure udp_refused_ms "$ms"
grep -q "UDP ASSOCIATE failed: no answer within $CONNECT_TIMEOUT s" "$TUN_LOG" ||
  fail "no log line for the unanswered UDP ASSOCIATE"
assert_counter_ge "$(tunnel_counters)" udp_flows_failed 1

# The proxy's side was closed too: blackhole holds no connection from the tunnel any more.
held=$(in_net ss -Htn state established "sport = :$SILENT_PORT" | wc -l)
figure proxy_conns_left "$held"
((held == 0)) || fail "$held connections to the silent proxy still open after the timeouts"

stop_tunnel_ok_with_counters TERM
log "exit: $EXIT_COUNTERS"
log "PASS"
