#!/usr/bin/env bash
# tun2socks benchmark: the same dante, the same hosts, measured through the tunnel and without it
# (proxychains4 in the app namespace), on the topology of tests/e2e/harness.sh.
#
#   T2S_BINARY=build-e2e/tun2socks tools/bench/bench.sh
#
# Environment:
#   T2S_BINARY          tun2socks to measure (required)
#   BENCH_REPS          repetitions; every figure is the median over them (default 3)
#   BENCH_SECONDS       length of each iperf3 and UDP run (default 10)
#   BENCH_CONN_SECONDS  length of each connection-rate run (default BENCH_SECONDS)
#   BENCH_MTU           --mtu for the tunnel (default 65535, the binary's default)
#   BENCH_STREAMS       parallel iperf3 flows for the multi-flow runs (default 8)
#   BENCH_HTTP_CLIENTS  parallel clients for the second connection-rate run (default 4)
#   BENCH_HOLD_CONNS    idle connections held for the RSS figures, a space-separated list
#                       (default "1000 10000"); the hard descriptor limit must exceed the
#                       largest by 1024
#   BENCH_UDP_FLOWS     parallel sockets for the second UDP transaction-rate run (default 16)
#   BENCH_UDP_BITRATE   offered rate of the bulk UDP runs, udp_blast and iperf3 -u (default 1G;
#                       iperf3's -b syntax: a number with an optional K, M or G); datagrams of
#                       BENCH_UDP_LEN (1400) bytes of payload
#   BENCH_UDP_BLAST     the udp_blast tool (default: tools/bench/udp_blast in the build directory
#                       T2S_BINARY comes from, i.e. T2S_BINARY's directory/../tools/bench/)
#   BENCH_ONLY          groups of figures to take, a space-separated subset of "memory tcp conn
#                       udp" (default all); idle RSS is always taken
#   BENCH_STATS         1: the tunnel runs with the live view on (--stats-listen
#                       127.0.0.1:9080 in the app namespace) and one scraper GETs /metrics every
#                       second for the whole repetition; its scrape count is logged (for A/B
#                       runs against BENCH_STATS=0, the default)
#   BENCH_JSON          if set, also write the figures as JSON to this file: the medians under
#                       their keys (as before), plus "samples" (per repetition), "targets"
#                       (each figure with its target and a holds flag) and "config"
#
# Measures: iperf3 throughput (1 and N flows, upload and download), tunnel CPU seconds per GiB
# relayed, new connections per second for 1 KiB HTTP GETs (one connection each) with the whole
# machine's CPU time per connection, and the tunnel's RSS idle and with each BENCH_HOLD_CONNS
# count of idle connections open. UDP: request/response transactions per second (64-byte
# datagrams, one outstanding per socket; 1 and BENCH_UDP_FLOWS sockets; without the tunnel the
# client speaks SOCKS5 UDP ASSOCIATE to dante itself) with the tunnel's CPU per transaction; bulk
# UDP goodput and loss at BENCH_UDP_BITRATE offered, each way, from udp_blast (tools/bench/
# udp_blast.cpp: a paced C++ sender and counter; its direct runs also speak SOCKS5 UDP ASSOCIATE
# to dante, with the project's codec) with the tunnel's CPU per GiB; and iperf3 -u through the
# tunnel at the same rate beside it (proxychains4 cannot carry UDP, so iperf3 has no direct
# figure). Needs root.
#
# Repetitions: each starts a fresh tunnel (idle RSS, then the held connections, then the rest).
# Within a repetition the direct (proxychains4) and tunnel runs of one figure follow each other
# back to back, direct first in odd repetitions and tunnel first in even ones, so slow drifts in
# the machine's load hit both alike. While a direct run goes, the app namespace has no default
# route (nothing can enter the tunnel); the routes into the device are put back for tunnel runs.
# Every figure printed is the median of its repetitions; a ratio is the MEDIAN OF THE
# PER-REPETITION RATIOS tunnel/direct (each from one adjacent pair of runs), so it need not equal
# the quotient of the two medians next to it. The final table sets each figure beside its target
# (the "fast data path" and UDP data path issues) with "holds" or "misses"; a "report" row would
# have no target.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/e2e/harness.sh
source "$BENCH_DIR/../../tests/e2e/harness.sh"

BENCH_REPS=${BENCH_REPS:-3}
BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_CONN_SECONDS=${BENCH_CONN_SECONDS:-$BENCH_SECONDS}
BENCH_MTU=${BENCH_MTU:-65535}
BENCH_STREAMS=${BENCH_STREAMS:-8}
BENCH_HTTP_CLIENTS=${BENCH_HTTP_CLIENTS:-4}
BENCH_HOLD_CONNS=${BENCH_HOLD_CONNS:-1000 10000}
BENCH_JSON=${BENCH_JSON:-}
BENCH_UDP_FLOWS=${BENCH_UDP_FLOWS:-16}
BENCH_UDP_BITRATE=${BENCH_UDP_BITRATE:-1G}
BENCH_UDP_LEN=${BENCH_UDP_LEN:-1400}
BENCH_ONLY=${BENCH_ONLY:-memory tcp conn udp}
BENCH_STATS=${BENCH_STATS:-0}
BENCH_STATS_PORT=9080

for var in BENCH_REPS BENCH_SECONDS BENCH_CONN_SECONDS BENCH_MTU BENCH_STREAMS \
  BENCH_HTTP_CLIENTS BENCH_UDP_FLOWS BENCH_UDP_LEN; do
  [[ ${!var} =~ ^[1-9][0-9]*$ ]] || { echo "bench: $var must be a positive integer" >&2; exit 2; }
done
[[ $BENCH_UDP_BITRATE =~ ^[0-9]+(\.[0-9]+)?[KMGkmg]?$ ]] ||
  { echo "bench: BENCH_UDP_BITRATE must be a bit rate like 500M or 1G" >&2; exit 2; }
[[ $BENCH_STATS =~ ^[01]$ ]] || { echo "bench: BENCH_STATS must be 0 or 1" >&2; exit 2; }
for group in $BENCH_ONLY; do
  [[ $group =~ ^(memory|tcp|conn|udp)$ ]] ||
    { echo "bench: BENCH_ONLY: unknown group '$group' (memory, tcp, conn, udp)" >&2; exit 2; }
done
read -r -a HOLD_LIST <<<"$BENCH_HOLD_CONNS"
((${#HOLD_LIST[@]} > 0)) || { echo "bench: BENCH_HOLD_CONNS must list at least one count" >&2; exit 2; }
HOLD_MAX=0
for n in "${HOLD_LIST[@]}"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] ||
    { echo "bench: BENCH_HOLD_CONNS must be positive integers separated by spaces" >&2; exit 2; }
  ((n > HOLD_MAX)) && HOLD_MAX=$n
done
command -v iperf3 >/dev/null || { echo "bench: iperf3 not found" >&2; exit 1; }
command -v proxychains4 >/dev/null || { echo "bench: proxychains4 not found" >&2; exit 1; }
harness_preflight
require_binary
BENCH_UDP_BLAST=${BENCH_UDP_BLAST:-$(dirname "$T2S_BINARY")/../tools/bench/udp_blast}
BENCH_UDP_BLAST_PORT=7790
if [[ " $BENCH_ONLY " == *" udp "* && ! -x $BENCH_UDP_BLAST ]]; then
  echo "bench: udp_blast not found at $BENCH_UDP_BLAST (the udp group needs it: build the" \
    "udp_blast target, e.g. tools/build.sh, or set BENCH_UDP_BLAST=/path/to/udp_blast)" >&2
  exit 1
fi
# Every process started from here on (dante, the servers, the holder, the tunnel) inherits the
# limit: a held connection costs a descriptor in the holder, the tunnel and the server.
hard=$(ulimit -Hn)
if [[ $hard != unlimited ]] && ((hard < HOLD_MAX + 1024)); then
  echo "bench: hard descriptor limit $hard < $((HOLD_MAX + 1024)) (BENCH_HOLD_CONNS max + 1024)" >&2
  exit 2
fi
ulimit -n "$hard"
((BENCH_REPS >= 3)) ||
  log "note: BENCH_REPS=$BENCH_REPS; the issue asks for medians of at least 3 repetitions"
BENCH_T0=$(now_ms)

# Results: "rep key value" lines, turned into medians, the tables (and JSON) at the end.
REP=0
RESULTS=""
result() { RESULTS+="$REP $1 $2"$'\n'; log "  [rep $REP] $1 = $2"; }

# use_mode MODE: sets VIA to the command prefix that runs a client in the app namespace through
# the tunnel (MODE=tunnel: default routes into the device) or through proxychains4 to the same
# dante (MODE=direct: no default route, so nothing can leak into the tunnel).
VIA=()
ROUTES=""
use_mode() {
  VIA=(ip netns exec "$APP_NS")
  if [[ $1 == direct ]]; then
    VIA+=(proxychains4 -q -f "$PROXYCHAINS_CONF")
    if [[ $ROUTES != none ]]; then
      remove_tunnel_routes
      ROUTES=none
    fi
    if ip -n "$APP_NS" route show default | grep -q .; then
      fail "app namespace still has a default route for a direct run"
    fi
  elif [[ $ROUTES != tunnel ]]; then
    ip -n "$APP_NS" route replace default dev "$TUN_DEV" ||
      fail "cannot add IPv4 default route into $TUN_DEV"
    ip -n "$APP_NS" -6 route replace default dev "$TUN_DEV" ||
      fail "cannot add IPv6 default route into $TUN_DEV"
    ROUTES=tunnel
  fi
}

# pair FUNCTION ARGS...: FUNCTION direct ARGS and FUNCTION tunnel ARGS back to back, direct first
# in odd repetitions, tunnel first in even ones.
# bench_group NAME: whether BENCH_ONLY selects this group of figures.
bench_group() {
  [[ " $BENCH_ONLY " == *" $1 "* ]]
}

pair() {
  local fn=$1
  shift
  if ((REP % 2)); then
    "$fn" direct "$@"
    "$fn" tunnel "$@"
  else
    "$fn" tunnel "$@"
    "$fn" direct "$@"
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
  local mode=$1 streams=$2 dir=$3 key report cpu0="" cpu1="" figures bps bytes
  key="iperf_${dir}_${streams}flow_${mode}"
  report="$HARNESS_TMP/$key.$REP.json"
  local args=(iperf3 -c "$HOST_V4" -p "$IPERF_PORT" -t "$BENCH_SECONDS" -P "$streams" -J)
  [[ $dir == down ]] && args+=(-R)
  log "iperf3 $mode: $streams flow(s) $dir for ${BENCH_SECONDS}s"
  use_mode "$mode"
  [[ $mode == tunnel ]] && cpu0=$(proc_cpu_seconds "$TUN_PID")
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
# the total successful GETs (each a new connection) per second, and the CPU time per connection
# of the whole machine (clients, dante, server and, through the tunnel, the tunnel): with the
# cores saturated, the rate follows it.
conn_rate() {
  local mode=$1 clients=$2 key i pids=() out prefix
  key="conn_rate_${clients}client_${mode}"
  prefix="$HARNESS_TMP/$key.$REP"
  log "connection rate $mode: $clients client(s) for ${BENCH_CONN_SECONDS}s"
  local cpu0="" cpu1="" busy0 busy1
  use_mode "$mode"
  [[ $mode == tunnel ]] && cpu0=$(proc_cpu_seconds "$TUN_PID")
  busy0=$(machine_busy_seconds)
  for ((i = 0; i < clients; i++)); do
    timeout $((BENCH_CONN_SECONDS + 30)) "${VIA[@]}" python3 "$TCP_PEER" httpget \
      --host "$HOST_V4" --port "$HTTPD_PORT" --path /1k.bin --expect-size 1024 \
      --seconds "$BENCH_CONN_SECONDS" >"$prefix.$i.json" 2>"$prefix.$i.err" &
    pids+=($!)
  done
  local failed=0
  for i in "${pids[@]}"; do
    wait "$i" || failed=1
  done
  busy1=$(machine_busy_seconds)
  [[ $mode == tunnel ]] && cpu1=$(proc_cpu_seconds "$TUN_PID")
  if ! out=$(python3 - "$prefix" "$clients" <<'EOF'
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
    log "connection rate $mode $clients: no usable result: $(cat "$prefix".*.err | head -c 400)"
    result "${key}_per_s" n/a
    return 0
  fi
  local rate ok nfail
  read -r rate ok nfail <<<"$out"
  ((failed == 0)) || log "connection rate $mode $clients: a client exited non-zero"
  ((nfail == 0)) || log "connection rate $mode $clients: $nfail failed GETs"
  result "${key}_per_s" "$rate"
  result "${key}_failed" "$nfail"
  if ((ok > 0)); then
    result "${key}_machine_cpu_ms_per_conn" \
      "$(python3 -c "print(round(($busy1 - $busy0) * 1000 / $ok, 3))")"
  fi
  if [[ $mode == tunnel ]] && ((ok > 0)); then
    result "${key}_cpu_ms_per_conn" "$(python3 -c "print(round(($cpu1 - $cpu0) * 1000 / $ok, 3))")"
  fi
}

# udp_rr MODE FLOWS: FLOWS sockets each doing sequential 64-byte request/response with the UDP
# echo server for BENCH_SECONDS; records transactions per second and, through the tunnel, the
# tunnel's CPU microseconds per transaction. MODE=direct: the client does SOCKS5 UDP ASSOCIATE to
# dante itself (no tunnel, no routes).
udp_rr() {
  local mode=$1 flows=$2 key out cpu0="" cpu1="" args err
  key="udp_rr_${flows}flow_${mode}"
  err="$HARNESS_TMP/$key.$REP.err"
  args=(rr --host "$HOST_V4" --port "$UDP_ECHO_PORT" --flows "$flows" --seconds "$BENCH_SECONDS"
    --timeout 1)
  [[ $mode == direct ]] && args+=(--socks "$NET_V4:$PROXY_PORT")
  log "UDP transactions $mode: $flows socket(s) for ${BENCH_SECONDS}s"
  use_mode "$mode"
  [[ $mode == tunnel ]] && cpu0=$(proc_cpu_seconds "$TUN_PID")
  if ! out=$(in_app timeout $((BENCH_SECONDS + 40)) python3 "$UDP_PEER" "${args[@]}" 2>"$err"); then
    log "UDP transactions $mode $flows failed: $out $(head -c 300 "$err")"
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

# udp_bulk MODE DIRECTION(up|down): udp_blast at BENCH_UDP_BITRATE with BENCH_UDP_LEN-byte
# payloads for BENCH_SECONDS (upload: `send`, download: `recv`); records goodput (Mbit/s of
# payload received over the run's seconds), loss % and, through the tunnel, the tunnel's CPU
# seconds per GiB received. MODE=direct: the tool speaks SOCKS5 UDP ASSOCIATE to dante itself (no
# tunnel, no routes), as udp_rr's direct runs.
udp_bulk() {
  local mode=$1 dir=$2 key out err cpu0="" cpu1="" args
  key="udp_bulk_${dir}_${mode}"
  err="$HARNESS_TMP/$key.$REP.err"
  args=(send --host "$HOST_V4" --port "$BENCH_UDP_BLAST_PORT" --bitrate "$BENCH_UDP_BITRATE"
    --length "$BENCH_UDP_LEN" --seconds "$BENCH_SECONDS")
  [[ $dir == down ]] && args[0]=recv
  [[ $mode == direct ]] && args+=(--socks "$NET_V4:$PROXY_PORT")
  log "UDP bulk $mode: $dir at $BENCH_UDP_BITRATE for ${BENCH_SECONDS}s (udp_blast)"
  use_mode "$mode"
  [[ $mode == tunnel ]] && cpu0=$(proc_cpu_seconds "$TUN_PID")
  if ! out=$(in_app timeout $((BENCH_SECONDS + 40)) "$BENCH_UDP_BLAST" "${args[@]}" 2>"$err"); then
    log "UDP bulk $mode $dir failed: $out $(head -c 300 "$err")"
    result "${key}_mbps" n/a
    return 0
  fi
  [[ $mode == tunnel ]] && cpu1=$(proc_cpu_seconds "$TUN_PID")
  local goodput loss bytes
  read -r goodput loss bytes < <(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(r["goodput_mbps"], "n/a" if r["loss_pct"] is None else r["loss_pct"], r["received"] * r["length"])' "$out")
  result "${key}_mbps" "$goodput"
  result "${key}_loss_pct" "$loss"
  if [[ $mode == tunnel ]] && ((bytes > 0)); then
    result "${key}_cpu_s_per_gib" "$(python3 -c "print(round(($cpu1 - $cpu0) / ($bytes / 2**30), 3))")"
  fi
}

# iperf_udp DIRECTION(up|down): iperf3 -u at BENCH_UDP_BITRATE through the tunnel (TCP control
# connection and UDP data both relayed); records goodput (Mbit/s received), loss % and the tunnel's
# CPU seconds per GiB received.
iperf_udp() {
  local dir=$1 key report cpu0 cpu1 figures
  key="iperf_udp_${dir}_tunnel"
  report="$HARNESS_TMP/$key.$REP.json"
  local args=(iperf3 -c "$HOST_V4" -p "$IPERF_PORT" -u -b "$BENCH_UDP_BITRATE" -l "$BENCH_UDP_LEN"
    -t "$BENCH_SECONDS" -J)
  [[ $dir == down ]] && args+=(-R)
  log "iperf3 -u tunnel: $dir at $BENCH_UDP_BITRATE for ${BENCH_SECONDS}s"
  use_mode tunnel
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

# tcp_settled SECONDS: polls (every 0.5 s, bounded) until the tunnel counts no active TCP
# connection; false if some remain after SECONDS.
tcp_settled() {
  local deadline=$(($(now_ms) + $1 * 1000)) line
  while :; do
    line=$(tunnel_counters)
    (($(counter_value "$line" tcp_active) == 0)) && return 0
    (($(now_ms) < deadline)) || return 1
    sleep 0.5
  done
}

# hold_rss N: opens N idle connections through the tunnel (one after another, each verified by an
# echo) and records the tunnel's RSS and (RSS - idle RSS of this repetition's fresh tunnel) / N.
# The echo server is tcp_peer aecho (asyncio): the threaded server's 10,000 threads, waking at
# once when the connections close, starved the tunnel and the runs after it for a minute.
hold_rss() {
  local n=$1 ready holder line limit rss
  ready="$HARNESS_TMP/hold-$n.$REP.ready"
  # Opening is sequential: allow 20 ms per connection on top of a minute.
  limit=$((60 + n / 50))
  log "holding $n idle connections through the tunnel"
  use_mode tunnel
  start_bg "$APP_NS" "$HARNESS_TMP/hold-$n.$REP.log" timeout $((limit + 120)) python3 "$TCP_PEER" \
    hold --host "$HOST_V4" --port "$HOLD_ECHO_PORT" --plain --conns "$n" --ready-file "$ready" \
    --hold-seconds $((limit + 60))
  holder=$HARNESS_BG_PID
  local t0
  t0=$(now_ms)
  if ! wait_until "$limit" "$n held connections" test -s "$ready"; then
    log "could not hold $n connections: $(tail -c 400 "$HARNESS_TMP/hold-$n.$REP.log")"
    result "rss_kib_${n}_conns" n/a
    kill_pid "$holder" 3
    tcp_settled 60 || log "WARNING: TCP connections still active 60 s after releasing"
    return 0
  fi
  log "  $n connections open after $((($(now_ms) - t0) / 1000)) s"
  sleep 1
  rss=$(proc_rss_kib "$TUN_PID")
  result "rss_kib_${n}_conns" "$rss"
  result "rss_kib_per_conn_${n}" "$(python3 -c "print(round(($rss - $RSS_IDLE) / $n, 2))")"
  line=$(tunnel_counters)
  result "tcp_active_while_holding_${n}" "$(counter_value "$line" tcp_active)"
  kill_pid "$holder" 3
  tcp_settled 60 || log "WARNING: TCP connections still active 60 s after releasing $n"
  result "rss_kib_after_release_${n}" "$(proc_rss_kib "$TUN_PID")"
}

# BENCH_STATS=1: one client GETs /metrics from the tunnel's live view once a second (at most an
# hour), as a Prometheus server would; each successful scrape is a line in its log.
SCRAPER_PID=""
start_scraper() {
  start_bg "$APP_NS" "$HARNESS_TMP/scraper.$REP.log" bash -c \
    'for ((i = 0; i < 3600; i++)); do
       curl -sf -o /dev/null --max-time 2 "$1" && echo ok
       sleep 1
     done' scraper "http://127.0.0.1:$BENCH_STATS_PORT/metrics"
  SCRAPER_PID=$HARNESS_BG_PID
}
stop_scraper() {
  kill_pid "$SCRAPER_PID" 3
  SCRAPER_PID=""
  log "live view: $(grep -c ok "$HARNESS_TMP/scraper.$REP.log" || true) successful scrapes of /metrics"
}

# One repetition: a fresh tunnel, its idle RSS, the held connections, then every paired figure.
run_repetition() {
  log "== repetition $REP of $BENCH_REPS: tun2socks (MTU $BENCH_MTU) and proxychains4 -> dante $NET_V4:$PROXY_PORT =="
  local stats_flags=()
  ((BENCH_STATS == 0)) || stats_flags=(--stats-listen "127.0.0.1:$BENCH_STATS_PORT")
  T2S_MTU=$BENCH_MTU start_tunnel --log-level "${T2S_LOG_LEVEL:-info}" "${stats_flags[@]}"
  ((BENCH_STATS == 0)) || start_scraper
  ROUTES=tunnel
  sleep 1
  RSS_IDLE=$(proc_rss_kib "$TUN_PID")
  result rss_kib_idle "$RSS_IDLE"
  # Held connections first, while nothing else has touched the heap.
  local n
  if bench_group memory; then
    for n in "${HOLD_LIST[@]}"; do
      hold_rss "$n"
    done
    sleep 2  # lwIP's TIME-WAIT (2 s) of the released connections
  fi
  TUNNEL_CPU_TOTAL=0
  TUNNEL_BYTES_TOTAL=0
  local dir streams
  if bench_group tcp; then
    for dir in up down; do
      for streams in 1 "$BENCH_STREAMS"; do
        pair iperf_run "$streams" "$dir"
      done
    done
  fi
  if ((TUNNEL_BYTES_TOTAL > 0)); then
    result tunnel_cpu_s_per_gib_all \
      "$(python3 -c "print(round($TUNNEL_CPU_TOTAL / ($TUNNEL_BYTES_TOTAL / 2**30), 3))")"
  fi
  if bench_group conn; then
    pair conn_rate 1
    pair conn_rate "$BENCH_HTTP_CLIENTS"
  fi
  if bench_group udp; then
    pair udp_rr 1
    pair udp_rr "$BENCH_UDP_FLOWS"
    pair udp_bulk up
    pair udp_bulk down
    iperf_udp up
    iperf_udp down
  fi
  result rss_kib_end "$(proc_rss_kib "$TUN_PID")"
  log "tunnel $(tunnel_counters)"
  [[ -z $SCRAPER_PID ]] || stop_scraper
  local rc=0
  stop_tunnel TERM 10 || rc=$?
  ROUTES=""
  ((rc == 0)) || log "WARNING: tunnel exited with status $rc after SIGTERM"
}

print_table() {
  printf '%s' "$RESULTS" >"$HARNESS_TMP/results.txt"
  BENCH_REPS=$BENCH_REPS BENCH_SECONDS=$BENCH_SECONDS BENCH_CONN_SECONDS=$BENCH_CONN_SECONDS \
    BENCH_MTU=$BENCH_MTU BENCH_STREAMS=$BENCH_STREAMS BENCH_HTTP_CLIENTS=$BENCH_HTTP_CLIENTS \
    BENCH_HOLD_CONNS="${HOLD_LIST[*]}" BENCH_UDP_FLOWS=$BENCH_UDP_FLOWS \
    BENCH_UDP_BITRATE=$BENCH_UDP_BITRATE BENCH_UDP_LEN=$BENCH_UDP_LEN \
    python3 - "$HARNESS_TMP/results.txt" "$BENCH_JSON" <<'EOF'
import json, os, statistics, sys

env = os.environ
reps = int(env["BENCH_REPS"])
mtu = int(env["BENCH_MTU"])
streams = int(env["BENCH_STREAMS"])
clients = int(env["BENCH_HTTP_CLIENTS"])
udp_flows = int(env["BENCH_UDP_FLOWS"])
holds = [int(n) for n in env["BENCH_HOLD_CONNS"].split()]
bitrate, udp_len = env["BENCH_UDP_BITRATE"], env["BENCH_UDP_LEN"]
DEFAULT_MTU = 65535

samples = {}  # key -> {rep: float or None}
with open(sys.argv[1]) as f:
    for line in f:
        if not line.strip():
            continue
        rep, key, value = line.split(" ", 2)
        try:
            v = float(value)
        except ValueError:
            v = None
        samples.setdefault(key, {})[int(rep)] = v

def values(key):
    return [v for v in samples.get(key, {}).values() if v is not None]

def median(key):
    vs = values(key)
    return statistics.median(vs) if vs else None

def pair_ratios(stem, unit):
    t = samples.get("%s_tunnel_%s" % (stem, unit), {})
    d = samples.get("%s_direct_%s" % (stem, unit), {})
    return [t[r] / d[r] for r in t if t[r] is not None and d.get(r)]

medians = {k: median(k) for k in samples}

def fmt(v, digits=3):
    if v is None:
        return "-"
    if abs(v) >= 100 or v == int(v):
        return "%.0f" % v
    return "%.*g" % (digits, v)

def span(vs, ratio=False):
    if len(vs) < 2:
        return "-"
    f = (lambda v: "%.2f" % v) if ratio else fmt
    return "%s..%s" % (f(min(vs)), f(max(vs)))

def count_note(n):
    return "" if n >= reps else " (%d/%d)" % (n, reps)

# Target rows: (label, kind, stem/key, unit, op, limit, mtu_bound)
#   kind "ratio": tunnel/direct pair, the target on the median per-repetition ratio
#   kind "value": one tunnel figure, the target on its median
rows = []
for dirn, label in (("up", "upload"), ("down", "download")):
    for flows in (1, streams):
        rows.append(("iperf3 %s, %d flow(s) [Mbit/s]" % (label, flows), "ratio",
                     "iperf_%s_%dflow" % (dirn, flows), "mbps", ">=", 0.8, True))
for dirn in ("up", "down"):
    for flows in (1, streams):
        rows.append(("tunnel CPU, iperf3 %s %d flow(s) [s/GiB]" % (dirn, flows), "value",
                     "iperf_%s_%dflow_tunnel_cpu_s_per_gib" % (dirn, flows), None, "<=", 1.0, True))
rows.append(("tunnel CPU, all iperf3 TCP runs [s/GiB]", "value", "tunnel_cpu_s_per_gib_all",
             None, "<=", 1.0, True))
for c in (1, clients):
    rows.append(("1 KiB GET, new conn each, %d client(s) [conn/s]" % c, "ratio",
                 "conn_rate_%dclient" % c, "per_s", ">=", 0.95, False))
rows.append(("tunnel RSS idle [KiB]", "value", "rss_kib_idle", None, "<=", 4096, False))
for n in holds:
    rows.append(("tunnel RSS per idle conn, %d open [KiB]" % n, "value",
                 "rss_kib_per_conn_%d" % n, None, "<=", 8, False))
for f in (1, udp_flows):
    rows.append(("UDP 64 B req/resp, %d socket(s) [txn/s]" % f, "ratio", "udp_rr_%dflow" % f,
                 "per_s", ">=", 0.95, False))
rows.append(("tunnel CPU per UDP txn, %d socket(s) [us]" % udp_flows, "value",
             "udp_rr_%dflow_tunnel_cpu_us_per_txn" % udp_flows, None, "<=", 10, False))
for dirn, label in (("up", "upload"), ("down", "download")):
    rows.append(("UDP %s B at %s %s, goodput [Mbit/s]" % (udp_len, bitrate, label), "ratio",
                 "udp_bulk_%s" % dirn, "mbps", ">=", 0.9, False))

targets = []
table = []
for label, kind, stem, unit, op, limit, mtu_bound in rows:
    entry = {"figure": label}
    if kind == "ratio":
        dk, tk = "%s_direct_%s" % (stem, unit), "%s_tunnel_%s" % (stem, unit)
        ratios = pair_ratios(stem, unit)
        value = statistics.median(ratios) if ratios else None
        d, t = medians.get(dk), medians.get(tk)
        n = len(ratios)
        entry.update(key="ratio_" + stem, direct=d, tunnel=t, ratio=value, ratios=ratios)
        medians["ratio_" + stem] = value
        # Three decimals: at two, a ratio just under its target (0.946) printed as 0.95.
        cells = (fmt(d), fmt(t), "-" if value is None else "%.3f" % value, span(ratios, True))
        target_text = "%s %.2fx" % (op, limit) if op else "-"
    else:
        value = medians.get(stem)
        n = len(values(stem))
        entry.update(key=stem, tunnel=value, samples=values(stem))
        cells = ("-", fmt(value), "-", span(values(stem)))
        target_text = ("%s %.1f" % (op, limit) if limit < 100 else "%s %d" % (op, limit)) \
            if op else "-"
    if op is None:
        verdict, ok = "report", None
    elif value is None:
        verdict, ok = "n/a", None
    else:
        ok = value >= limit if op == ">=" else value <= limit
        verdict = "holds" if ok else "misses"
        if mtu_bound and mtu != DEFAULT_MTU:
            verdict += "*"
    entry.update(op=op, limit=limit, holds=ok, verdict=verdict, repetitions=n,
                 default_mtu_only=mtu_bound)
    targets.append(entry)
    table.append((label, cells, target_text, verdict + count_note(n)))

def line(w=49):
    print("-" * (w + 79))

print()
print("tun2socks benchmark: medians of %d repetition(s); iperf3/UDP %ss per run, connection rate "
      "%ss, MTU %d" % (reps, env["BENCH_SECONDS"], env["BENCH_CONN_SECONDS"], mtu))
print("ratio = median of the per-repetition tunnel/direct ratios; range = min..max over the "
      "repetitions (of the ratio where there is one)")
print("direct (column proxychains4): TCP through proxychains4; UDP from clients that speak SOCKS5 "
      "UDP ASSOCIATE to the same dante themselves (udp_peer.py rr, udp_blast)")
print()
print("other figures (medians)")
print("  %-52s %12s %12s %7s" % ("measure", "proxychains4", "tun2socks", "ratio"))
other = []
for c in (1, clients):
    other.append(("machine CPU per connection, %d client(s) [ms]" % c, "conn_rate_%dclient" % c,
                  "machine_cpu_ms_per_conn"))
for label, stem, unit in other:
    d = medians.get("%s_direct_%s" % (stem, unit))
    t = medians.get("%s_tunnel_%s" % (stem, unit))
    ratios = pair_ratios(stem, unit)
    medians["ratio_" + stem] = statistics.median(ratios) if ratios else None
    r = medians["ratio_" + stem]
    print("  %-52s %12s %12s %7s" % (label, fmt(d), fmt(t), "-" if r is None else "%.2f" % r))
single = []  # (label, tunnel key, direct key or None)
for c in (1, clients):
    single.append(("tunnel CPU per connection, %d client(s) [ms]" % c,
                   "conn_rate_%dclient_tunnel_cpu_ms_per_conn" % c, None))
    single.append(("failed GETs, %d client(s)" % c, "conn_rate_%dclient_tunnel_failed" % c,
                   "conn_rate_%dclient_direct_failed" % c))
single.append(("tunnel CPU per UDP txn, 1 socket [us]", "udp_rr_1flow_tunnel_cpu_us_per_txn", None))
for f in (1, udp_flows):
    single.append(("UDP timeouts, %d socket(s)" % f, "udp_rr_%dflow_tunnel_timeouts" % f,
                   "udp_rr_%dflow_direct_timeouts" % f))
for dirn, label in (("up", "upload"), ("down", "download")):
    single.append(("UDP bulk (udp_blast) %s loss [%%]" % label, "udp_bulk_%s_tunnel_loss_pct" % dirn,
                   "udp_bulk_%s_direct_loss_pct" % dirn))
    single.append(("UDP bulk %s tunnel CPU [s per GiB received]" % label,
                   "udp_bulk_%s_tunnel_cpu_s_per_gib" % dirn, None))
    single.append(("iperf3 -u %s -l %s %s goodput [Mbit/s]" % (bitrate, udp_len, label),
                   "iperf_udp_%s_tunnel_mbps" % dirn, None))
    single.append(("iperf3 -u %s loss [%%]" % label, "iperf_udp_%s_tunnel_loss_pct" % dirn, None))
    single.append(("iperf3 -u %s tunnel CPU [s per GiB received]" % label,
                   "iperf_udp_%s_tunnel_cpu_s_per_gib" % dirn, None))
for n in holds:
    single.append(("tunnel RSS with %d idle conns open [KiB]" % n, "rss_kib_%d_conns" % n, None))
    single.append(("tcp_active while holding %d" % n, "tcp_active_while_holding_%d" % n, None))
    single.append(("tunnel RSS after releasing %d [KiB]" % n, "rss_kib_after_release_%d" % n,
                   None))
single.append(("tunnel RSS at the end of a repetition [KiB]", "rss_kib_end", None))
for label, tkey, dkey in single:
    print("  %-52s %12s %12s" % (label, fmt(medians.get(dkey)) if dkey else "-",
                                 fmt(medians.get(tkey))))
print()
print("targets (fast data path and UDP data path issues)")
print("%-49s %12s %10s %6s %13s %9s %s" % ("figure", "proxychains4", "tun2socks", "ratio",
                                          "range", "target", "verdict"))
line()
for label, (d, t, r, rng), target_text, verdict in table:
    print("%-49s %12s %10s %6s %13s %9s %s" % (label, d, t, r, rng, target_text, verdict))
line()
held = sum(1 for e in targets if e["holds"] is True)
missed = sum(1 for e in targets if e["holds"] is False)
print("%d hold, %d miss, %d without a figure; %d reported only" % (
    held, missed, sum(1 for e in targets if e["verdict"].startswith("n/a")),
    sum(1 for e in targets if e["verdict"] == "report")))
if mtu != DEFAULT_MTU:
    print("* the throughput and CPU targets are set for the default MTU %d, not %d"
          % (DEFAULT_MTU, mtu))
print()
if sys.argv[2]:
    out = {k: v for k, v in medians.items()}
    out["samples"] = {k: [samples[k].get(r) for r in range(1, reps + 1)] for k in sorted(samples)}
    out["targets"] = targets
    out["config"] = {"reps": reps, "seconds": int(env["BENCH_SECONDS"]),
                     "conn_seconds": int(env["BENCH_CONN_SECONDS"]), "mtu": mtu,
                     "streams": streams, "http_clients": clients, "hold_conns": holds,
                     "udp_flows": udp_flows, "udp_bitrate": bitrate, "udp_len": int(udp_len),
                     "ratio": "median of per-repetition tunnel/direct ratios"}
    with open(sys.argv[2], "w") as f:
        json.dump(out, f, indent=2, sort_keys=True)
EOF
}

harness_up
start_iperf_server
start_httpd
start_udp_echo
HOLD_ECHO_PORT=7001
if bench_group memory; then
  start_bg "$NET_NS" "$HARNESS_TMP/aecho.log" python3 "$TCP_PEER" aecho --port "$HOLD_ECHO_PORT"
  wait_port "$NET_NS" "$HOLD_ECHO_PORT" "$HARNESS_BG_PID" "tcp_peer aecho"
fi
UDP_BLAST_PID=""
if bench_group udp; then
  start_bg "$NET_NS" "$HARNESS_TMP/udp_blast.log" "$BENCH_UDP_BLAST" serve --listen "$HOST_V4" \
    --port "$BENCH_UDP_BLAST_PORT"
  UDP_BLAST_PID=$HARNESS_BG_PID
  wait_port "$NET_NS" "$BENCH_UDP_BLAST_PORT" "$UDP_BLAST_PID" "udp_blast serve" udp
fi
write_proxychains_conf

for ((REP = 1; REP <= BENCH_REPS; REP++)); do
  run_repetition
done
REP=0
if [[ -n $UDP_BLAST_PID ]]; then
  kill_pid "$UDP_BLAST_PID" 3
  log "$(tail -n 1 "$HARNESS_TMP/udp_blast.log")"
fi

print_table
log "bench: total wall time $((($(now_ms) - BENCH_T0) / 1000)) s"
