#!/usr/bin/env bash
# tun2socks benchmark: the same dante, the same hosts, measured through the tunnel and without it
# (proxychains4 in the app namespace), on the topology of tests/e2e/harness.sh.
#
#   T2S_BINARY=build-e2e/tun2socks tools/bench/bench.sh
#
# Environment:
#   T2S_BINARY          tun2socks to measure (required)
#   BENCH_SECONDS       length of each iperf3 run (default 10)
#   BENCH_CONN_SECONDS  length of each connection-rate run (default BENCH_SECONDS)
#   BENCH_MTU           --mtu for the tunnel (default 65535, the binary's default)
#   BENCH_STREAMS       parallel iperf3 flows for the multi-flow runs (default 8)
#   BENCH_HTTP_CLIENTS  parallel clients for the second connection-rate run (default 4)
#   BENCH_HOLD_CONNS    idle connections held for the RSS figure (default 1000)
#   BENCH_UDP_FLOWS     parallel sockets for the second UDP transaction-rate run (default 64)
#   BENCH_UDP_BITRATE   iperf3 -u target bitrate (default 500M); datagrams of BENCH_UDP_LEN (1400)
#   BENCH_JSON          if set, also write the figures as JSON to this file
#
# Measures: iperf3 throughput (1 and N flows, upload and download), tunnel CPU seconds per GiB
# relayed, new connections per second for 1 KiB HTTP GETs (one connection each), and the
# tunnel's RSS idle and with BENCH_HOLD_CONNS idle connections open. UDP: request/response
# transactions per second (64-byte datagrams, one outstanding per socket; 1 and BENCH_UDP_FLOWS
# sockets; without the tunnel the client speaks SOCKS5 UDP ASSOCIATE to dante itself) with the
# tunnel's CPU per transaction, and iperf3 -u goodput and loss through the tunnel (proxychains4
# cannot carry UDP, so there is no direct figure). Needs root.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/e2e/harness.sh
source "$BENCH_DIR/../../tests/e2e/harness.sh"

BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_CONN_SECONDS=${BENCH_CONN_SECONDS:-$BENCH_SECONDS}
BENCH_MTU=${BENCH_MTU:-65535}
BENCH_STREAMS=${BENCH_STREAMS:-8}
BENCH_HTTP_CLIENTS=${BENCH_HTTP_CLIENTS:-4}
BENCH_HOLD_CONNS=${BENCH_HOLD_CONNS:-1000}
BENCH_JSON=${BENCH_JSON:-}
BENCH_UDP_FLOWS=${BENCH_UDP_FLOWS:-64}
BENCH_UDP_BITRATE=${BENCH_UDP_BITRATE:-500M}
BENCH_UDP_LEN=${BENCH_UDP_LEN:-1400}

for var in BENCH_SECONDS BENCH_CONN_SECONDS BENCH_MTU BENCH_STREAMS BENCH_HTTP_CLIENTS \
  BENCH_HOLD_CONNS BENCH_UDP_FLOWS BENCH_UDP_LEN; do
  [[ ${!var} =~ ^[1-9][0-9]*$ ]] || { echo "bench: $var must be a positive integer" >&2; exit 2; }
done
command -v iperf3 >/dev/null || { echo "bench: iperf3 not found" >&2; exit 1; }
command -v proxychains4 >/dev/null || { echo "bench: proxychains4 not found" >&2; exit 1; }
harness_preflight
require_binary

# Results: "key value" lines, turned into the table (and JSON) at the end.
RESULTS=""
result() { RESULTS+="$1 $2"$'\n'; log "  $1 = $2"; }

# via_cmd MODE: sets VIA to the command prefix that runs a client in the app namespace through
# the tunnel (MODE=tunnel) or through proxychains4 to the same dante (MODE=direct).
VIA=()
via_cmd() {
  VIA=(ip netns exec "$APP_NS")
  if [[ $1 == direct ]]; then
    VIA+=(proxychains4 -q -f "$PROXYCHAINS_CONF")
  fi
}

# Prints "bits_per_second bytes" from an iperf3 -J report (receiver side), or fails.
iperf_figures() {
  python3 - "$1" <<'EOF'
import json, sys
try:
    with open(sys.argv[1]) as f:
        report = json.load(f)
except (OSError, ValueError) as exc:
    sys.exit("unreadable iperf3 report: %s" % exc)
if report.get("error"):
    sys.exit("iperf3: %s" % report["error"])
summary = report["end"]["sum_received"]
print("%.0f %d" % (summary["bits_per_second"], summary["bytes"]))
EOF
}

# iperf_run MODE STREAMS DIRECTION(up|down): one iperf3 client run, records Mbit/s and, through
# the tunnel, the tunnel's CPU seconds per GiB.
TUNNEL_CPU_TOTAL=0
TUNNEL_BYTES_TOTAL=0
iperf_run() {
  local mode=$1 streams=$2 dir=$3 key report cpu0 cpu1 figures bps bytes
  key="iperf_${dir}_${streams}flow_${mode}"
  report="$HARNESS_TMP/$key.json"
  local args=(iperf3 -c "$HOST_V4" -p "$IPERF_PORT" -t "$BENCH_SECONDS" -P "$streams" -J)
  [[ $dir == down ]] && args+=(-R)
  log "iperf3 $mode: $streams flow(s) $dir for ${BENCH_SECONDS}s"
  [[ $mode == tunnel ]] && cpu0=$(proc_cpu_seconds "$TUN_PID")
  via_cmd "$mode"
  if ! timeout $((BENCH_SECONDS + 30)) "${VIA[@]}" "${args[@]}" >"$report" 2>"$report.err"; then
    log "iperf3 $mode $streams $dir failed: $(tail -c 300 "$report" "$report.err" | tr '\n' ' ')"
    result "${key}_mbps" n/a
    # A failed run can leave the server busy with it: start a fresh one for the next run.
    kill_pid "$IPERF_PID" 3
    start_iperf_server
    return 0
  fi
  [[ $mode == tunnel ]] && cpu1=$(proc_cpu_seconds "$TUN_PID")
  if ! figures=$(iperf_figures "$report" 2>&1); then
    log "iperf3 $mode $streams $dir: $figures"
    result "${key}_mbps" n/a
    return 0
  fi
  read -r bps bytes <<<"$figures"
  result "${key}_mbps" "$(python3 -c "print(round($bps / 1e6, 1))")"
  if [[ $mode == tunnel ]]; then
    result "${key}_cpu_s_per_gib" \
      "$(python3 -c "print(round(($cpu1 - $cpu0) / ($bytes / 2**30), 3) if $bytes else 'n/a')")"
    TUNNEL_CPU_TOTAL=$(python3 -c "print($TUNNEL_CPU_TOTAL + $cpu1 - $cpu0)")
    TUNNEL_BYTES_TOTAL=$((TUNNEL_BYTES_TOTAL + bytes))
  fi
}

# conn_rate MODE CLIENTS: CLIENTS parallel sequential-GET loops for BENCH_CONN_SECONDS; records
# the total successful GETs (each a new connection) per second.
conn_rate() {
  local mode=$1 clients=$2 key i pids=() out
  key="conn_rate_${clients}client_${mode}"
  log "connection rate $mode: $clients client(s) for ${BENCH_CONN_SECONDS}s"
  local cpu0="" cpu1=""
  [[ $mode == tunnel ]] && cpu0=$(proc_cpu_seconds "$TUN_PID")
  via_cmd "$mode"
  for ((i = 0; i < clients; i++)); do
    timeout $((BENCH_CONN_SECONDS + 30)) "${VIA[@]}" python3 "$TCP_PEER" httpget \
      --host "$HOST_V4" --port "$HTTPD_PORT" --path /1k.bin --expect-size 1024 \
      --seconds "$BENCH_CONN_SECONDS" >"$HARNESS_TMP/$key.$i.json" 2>"$HARNESS_TMP/$key.$i.err" &
    pids+=($!)
  done
  local failed=0
  for i in "${pids[@]}"; do
    wait "$i" || failed=1
  done
  [[ $mode == tunnel ]] && cpu1=$(proc_cpu_seconds "$TUN_PID")
  if ! out=$(python3 - "$HARNESS_TMP/$key" "$clients" <<'EOF'
import json, sys
prefix, clients = sys.argv[1], int(sys.argv[2])
ok = failed = 0
seconds = 0.0
for i in range(clients):
    with open("%s.%d.json" % (prefix, i)) as f:
        r = json.loads(f.read().strip().splitlines()[-1])
    ok += r["ok"]; failed += r["failed"]; seconds = max(seconds, r["seconds"])
    if r["first_error"]:
        print("client %d first error: %s" % (i, r["first_error"]), file=sys.stderr)
print("%.1f %d %d" % (ok / seconds, ok, failed))
EOF
  ); then
    log "connection rate $mode $clients: no usable result: $(cat "$HARNESS_TMP/$key".*.err | head -c 400)"
    result "${key}_per_s" n/a
    return 0
  fi
  local rate ok nfail
  read -r rate ok nfail <<<"$out"
  ((failed == 0)) || log "connection rate $mode $clients: a client exited non-zero"
  ((nfail == 0)) || log "connection rate $mode $clients: $nfail failed GETs"
  result "${key}_per_s" "$rate"
  result "${key}_failed" "$nfail"
  if [[ $mode == tunnel ]] && ((ok > 0)); then
    result "${key}_cpu_ms_per_conn" "$(python3 -c "print(round(($cpu1 - $cpu0) * 1000 / $ok, 3))")"
  fi
}

# udp_rr MODE FLOWS: FLOWS sockets each doing sequential 64-byte request/response with the UDP
# echo server for BENCH_SECONDS; records transactions per second and, through the tunnel, the
# tunnel's CPU microseconds per transaction. MODE=direct: the client does SOCKS5 UDP ASSOCIATE to
# dante itself (no tunnel, no routes).
udp_rr() {
  local mode=$1 flows=$2 key out cpu0="" cpu1="" args
  key="udp_rr_${flows}flow_${mode}"
  args=(rr --host "$HOST_V4" --port "$UDP_ECHO_PORT" --flows "$flows" --seconds "$BENCH_SECONDS"
    --timeout 1)
  [[ $mode == direct ]] && args+=(--socks "$NET_V4:$PROXY_PORT")
  log "UDP transactions $mode: $flows socket(s) for ${BENCH_SECONDS}s"
  [[ $mode == tunnel ]] && cpu0=$(proc_cpu_seconds "$TUN_PID")
  if ! out=$(in_app timeout $((BENCH_SECONDS + 40)) python3 "$UDP_PEER" "${args[@]}" \
    2>"$HARNESS_TMP/$key.err"); then
    log "UDP transactions $mode $flows failed: $out $(head -c 300 "$HARNESS_TMP/$key.err")"
    result "${key}_per_s" n/a
    return 0
  fi
  [[ $mode == tunnel ]] && cpu1=$(proc_cpu_seconds "$TUN_PID")
  local rate txns timeouts
  read -r rate txns timeouts < <(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(r["per_s"], r["transactions"], r["timeouts"])' "$out")
  result "${key}_per_s" "$rate"
  result "${key}_timeouts" "$timeouts"
  if [[ $mode == tunnel ]] && ((txns > 0)); then
    result "${key}_cpu_us_per_txn" "$(python3 -c "print(round(($cpu1 - $cpu0) * 1e6 / $txns, 2))")"
  fi
}

# iperf_udp DIRECTION(up|down): iperf3 -u at BENCH_UDP_BITRATE through the tunnel (TCP control
# connection and UDP data both relayed); records goodput (Mbit/s received), loss % and the tunnel's
# CPU seconds per GiB received.
iperf_udp() {
  local dir=$1 key report cpu0 cpu1 figures
  key="iperf_udp_${dir}_tunnel"
  report="$HARNESS_TMP/$key.json"
  local args=(iperf3 -c "$HOST_V4" -p "$IPERF_PORT" -u -b "$BENCH_UDP_BITRATE" -l "$BENCH_UDP_LEN"
    -t "$BENCH_SECONDS" -J)
  [[ $dir == down ]] && args+=(-R)
  log "iperf3 -u tunnel: $dir at $BENCH_UDP_BITRATE for ${BENCH_SECONDS}s"
  cpu0=$(proc_cpu_seconds "$TUN_PID")
  if ! in_app timeout $((BENCH_SECONDS + 30)) "${args[@]}" >"$report" 2>"$report.err"; then
    log "iperf3 -u $dir failed: $(tail -c 300 "$report" "$report.err" | tr '\n' ' ')"
    result "${key}_mbps" n/a
    kill_pid "$IPERF_PID" 3
    start_iperf_server
    return 0
  fi
  cpu1=$(proc_cpu_seconds "$TUN_PID")
  if ! figures=$(python3 - "$report" <<'EOF'
import json, sys
with open(sys.argv[1]) as f:
    report = json.load(f)
if report.get("error"):
    sys.exit("iperf3: %s" % report["error"])
end = report["end"]
total = end["sum"]
received = end.get("sum_received")
if received and received.get("bytes"):
    bps, nbytes = received["bits_per_second"], received["bytes"]
else:  # older iperf3: the summary carries the sender's rate and the receiver's loss
    bps = total["bits_per_second"] * (1 - total["lost_percent"] / 100.0)
    nbytes = total["bytes"] * (1 - total["lost_percent"] / 100.0)
print("%.0f %d %.2f" % (bps, nbytes, total["lost_percent"]))
EOF
  ); then
    log "iperf3 -u $dir: $figures"
    result "${key}_mbps" n/a
    return 0
  fi
  local bps bytes loss
  read -r bps bytes loss <<<"$figures"
  result "${key}_mbps" "$(python3 -c "print(round($bps / 1e6, 1))")"
  result "${key}_loss_pct" "$loss"
  ((bytes > 0)) && result "${key}_cpu_s_per_gib" \
    "$(python3 -c "print(round(($cpu1 - $cpu0) / ($bytes / 2**30), 3))")"
  return 0
}

# Opens BENCH_HOLD_CONNS idle connections through the tunnel and records the tunnel's RSS.
hold_rss() {
  local ready="$HARNESS_TMP/hold.ready" holder line
  log "holding $BENCH_HOLD_CONNS idle connections through the tunnel"
  ulimit -n $((BENCH_HOLD_CONNS * 2 + 1024))
  start_bg "$APP_NS" "$HARNESS_TMP/hold.log" timeout 300 python3 "$TCP_PEER" hold \
    --host "$HOST_V4" --port "$PEER_PORT" --conns "$BENCH_HOLD_CONNS" --ready-file "$ready" \
    --hold-seconds 240
  holder=$HARNESS_BG_PID
  if ! wait_until 180 "$BENCH_HOLD_CONNS held connections" test -s "$ready"; then
    log "could not hold $BENCH_HOLD_CONNS connections: $(tail -c 400 "$HARNESS_TMP/hold.log")"
    result "rss_kib_${BENCH_HOLD_CONNS}_conns" n/a
    kill_pid "$holder" 3
    return 0
  fi
  sleep 1
  local rss
  rss=$(proc_rss_kib "$TUN_PID")
  result "rss_kib_${BENCH_HOLD_CONNS}_conns" "$rss"
  result "rss_kib_per_conn" "$(python3 -c "print(round(($rss - $RSS_IDLE) / $BENCH_HOLD_CONNS, 2))")"
  line=$(tunnel_counters)
  result "tcp_active_while_holding" "$(counter_value "$line" tcp_active)"
  kill_pid "$holder" 3
  sleep 2
  result rss_kib_after_release "$(proc_rss_kib "$TUN_PID")"
  line=$(tunnel_counters)
  result "tcp_active_after_release" "$(counter_value "$line" tcp_active)"
}

print_table() {
  python3 - "$BENCH_JSON" <<EOF
import json, sys
raw = """$RESULTS"""
r = {}
for line in raw.splitlines():
    if line.strip():
        k, v = line.split(" ", 1)
        try:
            r[k] = float(v)
        except ValueError:
            r[k] = v

def fmt(v):
    if isinstance(v, float):
        return ("%.0f" % v) if abs(v) >= 100 or v == int(v) else ("%.3g" % v)
    return str(v) if v is not None else "-"

def ratio(t, d):
    if isinstance(t, float) and isinstance(d, float) and d:
        return "%.2f" % (t / d)
    return "-"

rows = []
for dirn, label in (("up", "upload"), ("down", "download")):
    for flows in (1, $BENCH_STREAMS):
        k = "iperf_%s_%dflow_%%s_mbps" % (dirn, flows)
        rows.append(("iperf3 %s, %d flow(s) [Mbit/s]" % (label, flows),
                     r.get(k % "direct"), r.get(k % "tunnel")))
for clients in (1, $BENCH_HTTP_CLIENTS):
    k = "conn_rate_%dclient_%%s_per_s" % clients
    rows.append(("1 KiB GET, new conn each, %d client(s) [conn/s]" % clients,
                 r.get(k % "direct"), r.get(k % "tunnel")))
for flows in (1, $BENCH_UDP_FLOWS):
    k = "udp_rr_%dflow_%%s_per_s" % flows
    rows.append(("UDP 64 B request/response, %d socket(s) [txn/s]" % flows,
                 r.get(k % "direct"), r.get(k % "tunnel")))
for dirn, label in (("up", "upload"), ("down", "download")):
    rows.append(("iperf3 -u $BENCH_UDP_BITRATE -l $BENCH_UDP_LEN %s goodput [Mbit/s]" % label,
                 None, r.get("iperf_udp_%s_tunnel_mbps" % dirn)))
    rows.append(("iperf3 -u $BENCH_UDP_BITRATE -l $BENCH_UDP_LEN %s loss [%%]" % label,
                 None, r.get("iperf_udp_%s_tunnel_loss_pct" % dirn)))

w = 50
print()
print("tun2socks benchmark  (iperf3 %ss per run, connection rate %ss, MTU $BENCH_MTU)"
      % ("$BENCH_SECONDS", "$BENCH_CONN_SECONDS"))
print("%-*s %14s %14s %8s" % (w, "measure", "proxychains4", "tun2socks", "ratio"))
print("-" * (w + 39))
for name, d, t in rows:
    print("%-*s %14s %14s %8s" % (w, name, fmt(d), fmt(t), ratio(t, d)))
print()
print("tunnel CPU [s per GiB relayed]")
for dirn in ("up", "down"):
    for flows in (1, $BENCH_STREAMS):
        k = "iperf_%s_%dflow_tunnel_cpu_s_per_gib" % (dirn, flows)
        print("  %-46s %10s" % ("iperf3 %s, %d flow(s)" % (dirn, flows), fmt(r.get(k))))
print("  %-46s %10s" % ("all iperf3 runs", fmt(r.get("tunnel_cpu_s_per_gib_all"))))
for clients in (1, $BENCH_HTTP_CLIENTS):
    k = "conn_rate_%dclient_tunnel_cpu_ms_per_conn" % clients
    print("  %-46s %10s" % ("CPU ms per connection, %d client(s)" % clients, fmt(r.get(k))))
for flows in (1, $BENCH_UDP_FLOWS):
    k = "udp_rr_%dflow_tunnel_cpu_us_per_txn" % flows
    print("  %-46s %10s" % ("CPU us per UDP transaction, %d socket(s)" % flows, fmt(r.get(k))))
for dirn in ("up", "down"):
    k = "iperf_udp_%s_tunnel_cpu_s_per_gib" % dirn
    print("  %-46s %10s" % ("iperf3 -u %s [s per GiB received]" % dirn, fmt(r.get(k))))
print()
print("tunnel memory [VmRSS KiB]")
for k, name in (("rss_kib_idle", "idle, after start"),
                ("rss_kib_${BENCH_HOLD_CONNS}_conns", "$BENCH_HOLD_CONNS idle connections open"),
                ("rss_kib_per_conn", "per held connection"),
                ("rss_kib_after_release", "after closing them"),
                ("rss_kib_end", "at the end of the run")):
    print("  %-46s %10s" % (name, fmt(r.get(k))))
for k in ("tcp_active_while_holding", "tcp_active_after_release"):
    if k in r:
        print("  %-46s %10s" % (k.replace("_", " ", 1).replace("_", " "), fmt(r[k])))
print()
if sys.argv[1]:
    with open(sys.argv[1], "w") as f:
        json.dump(r, f, indent=2, sort_keys=True)
EOF
}

harness_up
start_iperf_server
start_httpd
start_udp_echo
write_proxychains_conf

log "== without tunnel: proxychains4 -> dante $NET_V4:$PROXY_PORT =="
# No default route exists in the app namespace yet: proxychains is the only way out.
if ip -n "$APP_NS" route show default | grep -q .; then
  fail "app namespace has a default route before the tunnel started"
fi
for dir in up down; do
  for streams in 1 "$BENCH_STREAMS"; do
    iperf_run direct "$streams" "$dir"
  done
done
conn_rate direct 1
conn_rate direct "$BENCH_HTTP_CLIENTS"
udp_rr direct 1
udp_rr direct "$BENCH_UDP_FLOWS"

log "== through tun2socks (MTU $BENCH_MTU) -> dante $NET_V4:$PROXY_PORT =="
T2S_MTU=$BENCH_MTU start_tunnel --log-level "${T2S_LOG_LEVEL:-info}"
sleep 1
RSS_IDLE=$(proc_rss_kib "$TUN_PID")
result rss_kib_idle "$RSS_IDLE"
for dir in up down; do
  for streams in 1 "$BENCH_STREAMS"; do
    iperf_run tunnel "$streams" "$dir"
  done
done
if ((TUNNEL_BYTES_TOTAL > 0)); then
  result tunnel_cpu_s_per_gib_all \
    "$(python3 -c "print(round($TUNNEL_CPU_TOTAL / ($TUNNEL_BYTES_TOTAL / 2**30), 3))")"
fi
conn_rate tunnel 1
conn_rate tunnel "$BENCH_HTTP_CLIENTS"
udp_rr tunnel 1
udp_rr tunnel "$BENCH_UDP_FLOWS"
iperf_udp up
iperf_udp down
hold_rss
result rss_kib_end "$(proc_rss_kib "$TUN_PID")"
log "tunnel $(tunnel_counters)"
rc=0
stop_tunnel TERM 10 || rc=$?
((rc == 0)) || log "WARNING: tunnel exited with status $rc after SIGTERM"

print_table
