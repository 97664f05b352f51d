# shellcheck shell=bash disable=SC2034
# End-to-end harness for tun2socks: sourced by tests/e2e/case_*.sh and tools/bench/bench.sh.
#
# Topology (all names carry the PID of the sourcing shell, so parallel runs never collide):
#
#   ns t2s-app-PID                                   ns t2s-net-PID
#   +---------------------------+   veth pair    +-----------------------------------------+
#   | tun2socks  (TUN 198.18.0.1/15,             | dante no-auth    192.0.2.2:1080          |
#   |             fdfe:dcba:9876::1/64)          | dante user/pass  192.0.2.2:1081          |
#   | default routes -> TUN     | 192.0.2.1/24 ----- 192.0.2.2/24   | lo: test hosts            |
#   | clients (curl, tcp_peer)  | 2001:db8:2::1  --- 2001:db8:2::2  |  203.0.113.10, 198.51.100.10
#   +---------------------------+                |  2001:db8:113::10, 2001:db8:51::10       |
#                                                | http.server :80, tcp_peer :7000, iperf3   |
#                                                | on demand: udp_peer :7777/:7778, dnsmasq  |
#                                                |  (203.0.113.53, 2001:db8:113::53),        |
#                                                |  microsocks 192.0.2.2:1082                |
#                                                +-----------------------------------------+
#
# The app namespace reaches only 192.0.2.0/24 directly, so anything else it sends goes into the
# TUN device once start_tunnel has added the default routes, and nowhere before that. Nothing is
# routed to the root namespace or beyond.
#
# Typical use:
#   source "$(dirname "$0")/harness.sh"
#   harness_up                 # namespaces, dante x2, http server, tcp peer; trap EXIT cleans up
#   start_tunnel               # default: --proxy socks5://192.0.2.2:1080
#   in_app curl -fsS "http://$HOST_V4/"
#   stop_tunnel || fail "..."
#
# Running this file directly with "selfcheck" validates the topology and dante without the tunnel.

if [[ -n ${T2S_HARNESS_LOADED:-} ]]; then
  return 0
fi
T2S_HARNESS_LOADED=1

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$E2E_DIR/../.." && pwd)"
TCP_PEER="$E2E_DIR/tcp_peer.py"
UDP_PEER="$E2E_DIR/udp_peer.py"

RUN_ID="$$"
APP_NS="t2s-app-$RUN_ID"
NET_NS="t2s-net-$RUN_ID"
VETH_APP="t2sa$RUN_ID"
VETH_NET="t2sn$RUN_ID"

APP_V4=192.0.2.1
NET_V4=192.0.2.2
APP_V6=2001:db8:2::1
NET_V6=2001:db8:2::2
HOST_V4=203.0.113.10
HOST2_V4=198.51.100.10
HOST_V6=2001:db8:113::10
HOST2_V6=2001:db8:51::10
TUN_V4=198.18.0.1/15
TUN_V6=fdfe:dcba:9876::1/64

PROXY_PORT=1080
PROXY_AUTH_PORT=1081
HTTP_PORT=80
PEER_PORT=7000
IPERF_PORT=5201
HTTPD_PORT=8080
# Optional services (start_udp_echo, start_dns_server, start_microsocks).
UDP_ECHO_PORT=7777
UDP_CONE_PORT=7778
DNS_V4=203.0.113.53
DNS_V6=2001:db8:113::53
DNS_NAME=app.example.test
DNS_BIG_NAME=big.example.test
PROXY_NAME=proxy.example.test  # dante's address, by name
DNS_BIG_RECORDS=36
MICROSOCKS_PORT=1082

# Username/password accepted by the dante on port 1081. The password has characters that must be
# percent-encoded in a URL; PROXY_AUTH_URL carries the encoded form.
T2S_USER="t2s_$RUN_ID"
T2S_PASS='p@ss:w%rd/x'
T2S_PASS_ENC='p%40ss%3Aw%25rd%2Fx'
PROXY_URL="socks5://$NET_V4:$PROXY_PORT"
PROXY_AUTH_URL="socks5://$T2S_USER:$T2S_PASS_ENC@$NET_V4:$PROXY_AUTH_PORT"

HARNESS_TMP=""
T2S_LAUNCHER=()
HARNESS_PIDS=()
HARNESS_USER_CREATED=0
HARNESS_IS_UP=0
TUN_PID=""
TUN_DEV=""
TUN_LOG=""
TUN_COUNT=0
IPERF_PID=""

log() { printf '[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Prints the failure, the tail of the tunnel log (and dante's if relevant) and exits 1.
fail() {
  printf '[e2e] FAIL: %s\n' "$*" >&2
  if [[ -n $TUN_LOG && -f $TUN_LOG ]]; then
    printf '[e2e] ---- last 40 lines of tunnel log %s ----\n' "$TUN_LOG" >&2
    tail -n 40 "$TUN_LOG" >&2 || true
    printf '[e2e] ---- end of tunnel log ----\n' >&2
  fi
  exit 1
}

in_app() { ip netns exec "$APP_NS" "$@"; }
in_net() { ip netns exec "$NET_NS" "$@"; }

# Milliseconds since the epoch, for measuring elapsed times.
now_ms() { date +%s%3N; }

# wait_until TIMEOUT_SECONDS DESCRIPTION CMD...: polls CMD every 50 ms until it succeeds.
wait_until() {
  local timeout=$1 what=$2
  shift 2
  local deadline=$(($(now_ms) + timeout * 1000))
  until "$@" >/dev/null 2>&1; do
    if (($(now_ms) > deadline)); then
      log "timed out after ${timeout}s waiting for $what"
      return 1
    fi
    sleep 0.05
  done
}

# port_listening NS PORT [tcp|udp]: true if something in NS listens on (is bound to) PORT.
port_listening() {
  local ns=$1 port=$2 proto=${3:-tcp} flags=-Hltn
  [[ $proto == udp ]] && flags=-Hlun
  [[ -n $(ip netns exec "$ns" ss "$flags" "sport = :$port" 2>/dev/null) ]]
}

# wait_port NS PORT PID NAME [tcp|udp]: waits (10 s) for PORT to listen while PID stays alive.
wait_port() {
  local ns=$1 port=$2 pid=$3 name=$4 proto=${5:-tcp} deadline
  deadline=$(($(now_ms) + 10000))
  until port_listening "$ns" "$port" "$proto"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      fail "$name (pid $pid) exited before listening on port $port"
    fi
    if (($(now_ms) > deadline)); then
      fail "$name (pid $pid) is not listening on port $port after 10 s"
    fi
    sleep 0.05
  done
}

harness_preflight() {
  [[ $(id -u) == 0 ]] || { echo "e2e: must run as root (network namespaces, TUN)" >&2; exit 1; }
  [[ -c /dev/net/tun ]] || { echo "e2e: /dev/net/tun is missing" >&2; exit 1; }
  local tool
  for tool in ip ss danted python3 curl; do
    command -v "$tool" >/dev/null || { echo "e2e: required tool '$tool' not found" >&2; exit 1; }
  done
}

# Checks T2S_BINARY (harness_up calls it unless HARNESS_NO_BINARY is set, as for selfcheck).
require_binary() {
  if [[ -z ${T2S_BINARY:-} ]]; then
    fail "T2S_BINARY is not set (ctest sets it; otherwise export T2S_BINARY=/path/to/tun2socks)"
  fi
  [[ -x $T2S_BINARY ]] || fail "T2S_BINARY=$T2S_BINARY is not an executable file"
}

# start_bg NS LOGFILE CMD...: starts CMD in namespace NS in the background, records its PID
# (ip netns exec execs the command, so the PID is the command's own) in HARNESS_BG_PID.
HARNESS_BG_PID=""
start_bg() {
  local ns=$1 logfile=$2
  shift 2
  ip netns exec "$ns" "$@" >"$logfile" 2>&1 </dev/null &
  HARNESS_BG_PID=$!
  HARNESS_PIDS+=("$HARNESS_BG_PID")
}

# pid_alive PID: true while PID exists and is not a zombie (state from /proc/PID/stat).
pid_alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z && ${stat:0:1} != X ]]
}

# kill_pid PID [SECONDS]: SIGTERM, bounded wait, then SIGKILL. Only for PIDs we started.
kill_pid() {
  local pid=$1 grace=${2:-5} deadline
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$(($(now_ms) + grace * 1000))
  while pid_alive "$pid"; do
    if (($(now_ms) > deadline)); then
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.05
  done
  wait "$pid" 2>/dev/null || true
  # Forget it, so harness_down never signals a PID that may since have been reused.
  local kept=() p
  for p in "${HARNESS_PIDS[@]}"; do
    [[ $p == "$pid" ]] || kept+=("$p")
  done
  HARNESS_PIDS=("${kept[@]}")
}

# Kills whatever is still running inside one of OUR namespaces (e.g. dante's children). The
# namespace names carry our PID, so every process listed there was started by this run.
kill_ns_pids() {
  local ns=$1 pid pids round
  for round in TERM TERM KILL; do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [[ -n $pids ]] || return 0
    for pid in $pids; do
      kill "-$round" "$pid" 2>/dev/null || true
    done
    sleep 0.3
  done
}

harness_down() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [[ -n $TUN_PID ]]; then
    kill_pid "$TUN_PID" 5
    TUN_PID=""
  fi
  local pid
  for pid in "${HARNESS_PIDS[@]}"; do
    kill_pid "$pid" 3
  done
  HARNESS_PIDS=()
  if [[ $HARNESS_IS_UP == 1 ]]; then
    kill_ns_pids "$APP_NS"
    kill_ns_pids "$NET_NS"
    ip netns del "$APP_NS" 2>/dev/null
    ip netns del "$NET_NS" 2>/dev/null
    rm -rf "/etc/netns/$APP_NS" "/etc/netns/$NET_NS"
    HARNESS_IS_UP=0
  fi
  if [[ $HARNESS_USER_CREATED == 1 ]]; then
    userdel "$T2S_USER" 2>/dev/null
    HARNESS_USER_CREATED=0
  fi
  if [[ -n $HARNESS_TMP && -d $HARNESS_TMP ]]; then
    if [[ -n ${T2S_KEEP_LOGS:-} ]]; then
      log "keeping logs in $HARNESS_TMP"
    else
      rm -rf "$HARNESS_TMP"
    fi
  fi
  return "$rc"
}

# Writes a dante config: write_dante_conf FILE PORT METHOD.
write_dante_conf() {
  local file=$1 port=$2 method=$3
  cat >"$file" <<EOF
# generated by tests/e2e/harness.sh for run $RUN_ID
logoutput: $HARNESS_TMP/danted-$port.log
debug: 0
internal: $NET_V4 port = $port
external: $HOST_V4
external: $HOST_V6
external.rotation: none
clientmethod: none
socksmethod: $method
user.privileged: root
user.unprivileged: nobody
timeout.negotiate: 30
timeout.io: 0
# Keep relay sockets unconnected, so replies from any remote reach the client (full-cone).
udp.connectdst: no
client pass {
  from: 0/0 to: 0/0
  log: error
}
socks pass {
  from: 0/0 to: 0/0
  command: connect
  protocol: tcp
  socksmethod: $method
  log: error
}
# UDP ASSOCIATE; udpreply from any address (full-cone: replies from hosts the client never sent to).
socks pass {
  from: 0/0 to: 0/0
  command: udpassociate udpreply
  protocol: udp
  socksmethod: $method
  log: error
}
EOF
}

ensure_test_user() {
  if ! id "$T2S_USER" >/dev/null 2>&1; then
    useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$T2S_USER" ||
      fail "useradd $T2S_USER failed"
    HARNESS_USER_CREATED=1
  fi
  printf '%s:%s\n' "$T2S_USER" "$T2S_PASS" | chpasswd || fail "chpasswd for $T2S_USER failed"
}

setup_namespaces() {
  ip netns add "$APP_NS" || fail "cannot create namespace $APP_NS"
  ip netns add "$NET_NS" || { ip netns del "$APP_NS"; fail "cannot create namespace $NET_NS"; }
  HARNESS_IS_UP=1
  # Each namespace's resolver is the net namespace's dnsmasq (start_dns_server): `ip netns exec`
  # shows /etc/netns/NS/resolv.conf as /etc/resolv.conf. Names like app.example.test therefore
  # resolve for dante in the net namespace, and in the app namespace only through the tunnel.
  mkdir -p "/etc/netns/$APP_NS" "/etc/netns/$NET_NS"
  printf 'nameserver %s\noptions timeout:2 attempts:2\n' "$DNS_V4" >"/etc/netns/$APP_NS/resolv.conf"
  printf 'nameserver %s\n' "$DNS_V4" >"/etc/netns/$NET_NS/resolv.conf"

  ip -n "$APP_NS" link set lo up
  ip -n "$NET_NS" link set lo up
  ip -n "$APP_NS" link add "$VETH_APP" type veth peer name "$VETH_NET" netns "$NET_NS" ||
    fail "cannot create veth pair"
  ip -n "$APP_NS" addr add "$APP_V4/24" dev "$VETH_APP"
  ip -n "$APP_NS" addr add "$APP_V6/64" dev "$VETH_APP" nodad
  ip -n "$NET_NS" addr add "$NET_V4/24" dev "$VETH_NET"
  ip -n "$NET_NS" addr add "$NET_V6/64" dev "$VETH_NET" nodad
  ip -n "$APP_NS" link set "$VETH_APP" up
  ip -n "$NET_NS" link set "$VETH_NET" up

  # Test hosts live on the net namespace's loopback (no dummy module needed).
  ip -n "$NET_NS" addr add "$HOST_V4/32" dev lo
  ip -n "$NET_NS" addr add "$HOST2_V4/32" dev lo
  ip -n "$NET_NS" addr add "$HOST_V6/128" dev lo nodad
  ip -n "$NET_NS" addr add "$HOST2_V6/128" dev lo nodad

  # Many short connections (benchmark, concurrency) must not run out of ports.
  local ns
  for ns in "$APP_NS" "$NET_NS"; do
    ip netns exec "$ns" sysctl -q -w net.ipv4.ip_local_port_range="10000 65000" >/dev/null
    ip netns exec "$ns" sysctl -q -w net.ipv4.tcp_tw_reuse=1 >/dev/null
    ip netns exec "$ns" sysctl -q -w net.core.somaxconn=4096 >/dev/null 2>&1 || true
  done
  wait_until 5 "IPv6 addresses to become usable" ipv6_ready ||
    fail "IPv6 addresses still tentative after 5 s"
}

ipv6_ready() {
  [[ -z $(ip -n "$APP_NS" -6 addr show tentative) && -z $(ip -n "$NET_NS" -6 addr show tentative) ]]
}

start_services() {
  local www="$HARNESS_TMP/www"
  mkdir -p "$www"
  printf '<html><body>tun2socks e2e %s</body></html>\n' "$RUN_ID" >"$www/index.html"
  python3 -c 'import random,sys; sys.stdout.buffer.write(random.Random(1024).randbytes(1024))' \
    >"$www/1k.bin"
  HTTP_ROOT="$www"

  ensure_test_user
  write_dante_conf "$HARNESS_TMP/danted-$PROXY_PORT.conf" "$PROXY_PORT" none
  write_dante_conf "$HARNESS_TMP/danted-$PROXY_AUTH_PORT.conf" "$PROXY_AUTH_PORT" username

  local port
  for port in "$PROXY_PORT" "$PROXY_AUTH_PORT"; do
    start_bg "$NET_NS" "$HARNESS_TMP/danted-$port.out" \
      danted -f "$HARNESS_TMP/danted-$port.conf" -p "$HARNESS_TMP/danted-$port.pid"
    wait_port "$NET_NS" "$port" "$HARNESS_BG_PID" "danted ($port)"
  done

  start_bg "$NET_NS" "$HARNESS_TMP/http.log" \
    python3 -m http.server "$HTTP_PORT" --bind :: --directory "$www"
  wait_port "$NET_NS" "$HTTP_PORT" "$HARNESS_BG_PID" "http.server"

  start_bg "$NET_NS" "$HARNESS_TMP/tcp_peer.log" \
    python3 "$TCP_PEER" server --bind :: --port "$PEER_PORT" --verbose
  wait_port "$NET_NS" "$PEER_PORT" "$HARNESS_BG_PID" "tcp_peer server"
}

# harness_up: builds the topology and starts dante (1080 no-auth, 1081 user/pass), the HTTP
# server and the TCP peer. Installs harness_down as the EXIT trap.
harness_up() {
  harness_preflight
  [[ -n ${HARNESS_NO_BINARY:-} ]] || require_binary
  trap harness_down EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  HARNESS_TMP="$(mktemp -d /tmp/t2s-e2e.XXXXXX)"
  chmod 755 "$HARNESS_TMP"
  setup_namespaces
  start_services
  log "topology up: $APP_NS <-> $NET_NS (tmp $HARNESS_TMP)"
}

# iperf3 server on HOST_V4 (only the benchmark needs it).
start_iperf_server() {
  start_bg "$NET_NS" "$HARNESS_TMP/iperf3-server.log" iperf3 -s -B "$HOST_V4" -p "$IPERF_PORT"
  IPERF_PID=$HARNESS_BG_PID
  wait_port "$NET_NS" "$IPERF_PORT" "$IPERF_PID" "iperf3 server"
}

# Fast HTTP/1.0 responder for 1 KiB GETs on HTTPD_PORT (the benchmark's connection rate).
start_httpd() {
  start_bg "$NET_NS" "$HARNESS_TMP/httpd.log" python3 "$TCP_PEER" httpd --port "$HTTPD_PORT" \
    --file "$HTTP_ROOT/1k.bin" --workers 2
  wait_port "$NET_NS" "$HTTPD_PORT" "$HARNESS_BG_PID" "tcp_peer httpd"
}

# start_udp_echo: udp_peer.py server in the net namespace: echo on HOST_V4 and HOST_V6 port
# UDP_ECHO_PORT (datagrams up to 65507 bytes); "CONE ..." datagrams are answered from HOST2_V4 /
# HOST2_V6 port UDP_CONE_PORT instead (see udp_peer.py).
UDP_ECHO_PID=""
start_udp_echo() {
  [[ -z $UDP_ECHO_PID ]] || return 0
  start_bg "$NET_NS" "$HARNESS_TMP/udp_peer.log" python3 "$UDP_PEER" server \
    --listen "$HOST_V4" --listen "$HOST_V6" --port "$UDP_ECHO_PORT" \
    --cone "$HOST2_V4" --cone "$HOST2_V6" --cone-port "$UDP_CONE_PORT" --verbose
  UDP_ECHO_PID=$HARNESS_BG_PID
  wait_port "$NET_NS" "$UDP_ECHO_PORT" "$UDP_ECHO_PID" "udp_peer server" udp
  wait_port "$NET_NS" "$UDP_CONE_PORT" "$UDP_ECHO_PID" "udp_peer server (cone)" udp
}

# start_dns_server: dnsmasq (foreground, no upstream, no hosts file) on DNS_V4 and DNS_V6 port 53
# in the net namespace. Serves DNS_NAME A HOST_V4 / AAAA HOST_V6, an MX and a TXT record for
# example.test, and DNS_BIG_NAME with DNS_BIG_RECORDS TXT records of 200 bytes (an answer of
# about 7.7 KiB, under the 8192 of dig +bufsize=8192; DNS_BIG_TXT_BYTES holds the total text length).
DNS_PID=""
DNS_BIG_TXT_BYTES=0
start_dns_server() {
  [[ -z $DNS_PID ]] || return 0
  command -v dnsmasq >/dev/null || fail "dnsmasq not found (package dnsmasq-base)"
  ip -n "$NET_NS" addr add "$DNS_V4/32" dev lo
  ip -n "$NET_NS" addr add "$DNS_V6/128" dev lo nodad
  local args=(--keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --pid-file=
    --user=nobody --group=nogroup --bind-interfaces --listen-address="$DNS_V4"
    --listen-address="$DNS_V6" --port=53 --log-facility=- --log-queries
    --edns-packet-max=16384 --no-negcache
    --address="/$DNS_NAME/$HOST_V4" --address="/$DNS_NAME/$HOST_V6" --address="/$PROXY_NAME/$NET_V4"
    "--mx-host=example.test,mail.example.test,10" "--txt-record=example.test,t2s-test-record")
  local i text
  DNS_BIG_TXT_BYTES=0
  for ((i = 0; i < DNS_BIG_RECORDS; i++)); do
    # 200 bytes each, distinct, so a lost or repeated record changes the answer.
    printf -v text 'rec%03d-%0196d' "$i" "$i"
    text=${text:0:200}
    args+=(--txt-record="$DNS_BIG_NAME,$text")
    DNS_BIG_TXT_BYTES=$((DNS_BIG_TXT_BYTES + ${#text}))
  done
  start_bg "$NET_NS" "$HARNESS_TMP/dnsmasq.log" dnsmasq "${args[@]}"
  DNS_PID=$HARNESS_BG_PID
  wait_port "$NET_NS" 53 "$DNS_PID" "dnsmasq" udp
}

# start_microsocks: microsocks (SOCKS5 without UDP ASSOCIATE) on NET_V4:MICROSOCKS_PORT.
MICROSOCKS_PID=""
start_microsocks() {
  [[ -z $MICROSOCKS_PID ]] || return 0
  command -v microsocks >/dev/null || fail "microsocks not found"
  start_bg "$NET_NS" "$HARNESS_TMP/microsocks.log" microsocks -i "$NET_V4" -p "$MICROSOCKS_PORT"
  MICROSOCKS_PID=$HARNESS_BG_PID
  wait_port "$NET_NS" "$MICROSOCKS_PORT" "$MICROSOCKS_PID" "microsocks"
}

# udp_client MODE ARGS...: runs a udp_peer.py client in the app namespace (60 s bound); its JSON
# result goes to stdout.
udp_client() {
  in_app timeout 60 python3 "$UDP_PEER" "$@"
}

# json_field JSON KEY: prints one top-level field of a JSON object.
json_field() {
  python3 -c 'import json,sys; v=json.loads(sys.argv[1])[sys.argv[2]]; print(json.dumps(v) if isinstance(v,(list,dict)) else v)' "$1" "$2"
}

# True if the option $1 appears among the remaining arguments.
has_flag() {
  local flag=$1 arg
  shift
  for arg in "$@"; do
    [[ $arg == "$flag" || $arg == "$flag="* ]] && return 0
  done
  return 1
}

tunnel_ready() { grep -q 'ready' "$TUN_LOG"; }

# start_tunnel [FLAGS...]: starts $T2S_BINARY in the app namespace on a fresh device, waits for
# its "ready" log line (10 s), then routes all IPv4/IPv6 into it (unless FLAGS have --auto-route:
# the tunnel routes itself). --address, --address6, --proxy, --mtu and --log-level
# get defaults (dante no-auth, --mtu $T2S_MTU if set, else the binary's default, info) unless FLAGS give them.
# Sets TUN_PID, TUN_DEV, TUN_LOG.
start_tunnel() {
  require_binary
  [[ -z $TUN_PID ]] || fail "start_tunnel: a tunnel (pid $TUN_PID) is already running"
  TUN_COUNT=$((TUN_COUNT + 1))
  TUN_DEV="t2s${RUN_ID}t$TUN_COUNT"
  TUN_LOG="$HARNESS_TMP/tunnel-$TUN_COUNT.log"
  local args=(--device "$TUN_DEV")
  has_flag --address "$@" || args+=(--address "$TUN_V4")
  has_flag --address6 "$@" || args+=(--address6 "$TUN_V6")
  has_flag --proxy "$@" || args+=(--proxy "$PROXY_URL")
  if [[ -n ${T2S_MTU:-} ]] && ! has_flag --mtu "$@"; then args+=(--mtu "$T2S_MTU"); fi
  has_flag --log-level "$@" || args+=(--log-level "${T2S_LOG_LEVEL:-info}")
  args+=("$@")
  log "starting tunnel: $T2S_BINARY ${args[*]}"
  # T2S_LAUNCHER (an array, optional) runs the tunnel through e.g. setpriv; it must exec.
  ip netns exec "$APP_NS" "${T2S_LAUNCHER[@]}" "$T2S_BINARY" "${args[@]}" >"$TUN_LOG" 2>&1 \
    </dev/null &
  TUN_PID=$!
  local deadline=$(($(now_ms) + 10000))
  until tunnel_ready; do
    if ! kill -0 "$TUN_PID" 2>/dev/null; then
      local rc=0
      wait "$TUN_PID" || rc=$?
      TUN_PID=""
      fail "tunnel exited with status $rc before logging 'ready'"
    fi
    if (($(now_ms) > deadline)); then
      fail "tunnel did not log 'ready' within 10 s"
    fi
    sleep 0.05
  done
  ip -n "$APP_NS" link show "$TUN_DEV" >/dev/null 2>&1 ||
    fail "tunnel logged 'ready' but device $TUN_DEV does not exist in $APP_NS"
  if has_flag --auto-route "$@"; then
    log "tunnel up: pid $TUN_PID device $TUN_DEV (routes by --auto-route)"
    return 0
  fi
  ip -n "$APP_NS" route replace default dev "$TUN_DEV" ||
    fail "cannot add IPv4 default route into $TUN_DEV"
  ip -n "$APP_NS" -6 route replace default dev "$TUN_DEV" ||
    fail "cannot add IPv6 default route into $TUN_DEV"
  log "tunnel up: pid $TUN_PID device $TUN_DEV"
}

# stop_tunnel [SIGNAL] [SECONDS]: signals the tunnel (default TERM) and waits up to SECONDS
# (default 5). Returns the tunnel's exit status; 124 if it had to be killed. Prints nothing.
stop_tunnel() {
  local sig=${1:-TERM} grace=${2:-5} rc=0 deadline
  [[ -n $TUN_PID ]] || fail "stop_tunnel: no tunnel running"
  kill "-$sig" "$TUN_PID" 2>/dev/null || true
  deadline=$(($(now_ms) + grace * 1000))
  while pid_alive "$TUN_PID"; do
    if (($(now_ms) > deadline)); then
      log "tunnel pid $TUN_PID still running ${grace}s after SIG$sig; killing it"
      kill -KILL "$TUN_PID" 2>/dev/null || true
      wait "$TUN_PID" 2>/dev/null || true
      TUN_PID=""
      return 124
    fi
    sleep 0.05
  done
  wait "$TUN_PID" || rc=$?
  TUN_PID=""
  return "$rc"
}

# stop_tunnel_ok [SIGNAL]: stop_tunnel and fail unless the tunnel exited 0 in time.
stop_tunnel_ok() {
  local sig=${1:-TERM} rc=0
  stop_tunnel "$sig" 5 || rc=$?
  ((rc != 124)) || fail "tunnel still running 5 s after SIG$sig"
  ((rc == 0)) || fail "tunnel exited with status $rc after SIG$sig"
}

tunnel_running() { [[ -n $TUN_PID ]] && pid_alive "$TUN_PID"; }

# A machine's usual set-up: default routes through the uplink, to the net namespace as gateway
# (which holds the test hosts itself, so nothing is forwarded beyond it).
add_uplink_default_routes() {
  ip -n "$APP_NS" route replace default via "$NET_V4" dev "$VETH_APP" ||
    fail "cannot add the IPv4 default route via $NET_V4"
  ip -n "$APP_NS" -6 route replace default via "$NET_V6" dev "$VETH_APP" ||
    fail "cannot add the IPv6 default route via $NET_V6"
}

# start_uplink_capture: records the IPv4/IPv6 packets on the app namespace's uplink into
# UPLINK_CAPTURE until stop_uplink_capture. uplink_packets FILTER counts those matching FILTER
# (tcpdump syntax); UPLINK_NOT_PROXY matches every packet that is not the SOCKS connection to
# dante nor the kernel's own link-local IPv6 chatter (neighbour discovery, MLD reports behind a
# hop-by-hop header): that is, traffic that left outside the tunnel.
UPLINK_CAPTURE=""
UPLINK_CAPTURE_PID=""
UPLINK_NOT_PROXY="not (host $NET_V4 and tcp port $PROXY_PORT) and not icmp6"
UPLINK_NOT_PROXY+=" and not (ip6 and (ip6 multicast or src net fe80::/10))"
start_uplink_capture() {
  UPLINK_CAPTURE="$HARNESS_TMP/uplink-$(now_ms).pcap"
  # --immediate-mode: otherwise libpcap hands packets over only when a ring block fills or its
  # timeout (about 1 s) passes, and the last second before stop_uplink_capture goes missing.
  in_app timeout 120 tcpdump -i "$VETH_APP" -n -U --immediate-mode -w "$UPLINK_CAPTURE" 'ip or ip6' \
    >/dev/null 2>&1 &
  UPLINK_CAPTURE_PID=$!
  HARNESS_PIDS+=("$UPLINK_CAPTURE_PID")
  # tcpdump writes the file's header once it has opened the interface.
  wait_until 5 "tcpdump on $VETH_APP" test -s "$UPLINK_CAPTURE" || fail "tcpdump did not start"
  sleep 0.2
}
stop_uplink_capture() {
  sleep 0.5  # the last packets
  kill "$UPLINK_CAPTURE_PID" 2>/dev/null || true
  wait "$UPLINK_CAPTURE_PID" 2>/dev/null || true
}
uplink_packets() { tcpdump -n -r "$UPLINK_CAPTURE" "$@" 2>/dev/null | wc -l; }
# uplink_show FILTER: the first matching packets, for a failure message.
uplink_show() { tcpdump -n -r "$UPLINK_CAPTURE" "$@" 2>/dev/null | head -n 5; }

# Everything --auto-route may touch in the app namespace: routes of every table, rules and
# addresses, both families.
routing_snapshot() {
  local family
  for family in -4 -6; do
    echo "== ip $family route show table all"
    ip -n "$APP_NS" "$family" route show table all
    echo "== ip $family rule"
    ip -n "$APP_NS" "$family" rule show
    echo "== ip $family addr"
    ip -n "$APP_NS" "$family" addr show
  done
}

# Removes the default routes into the TUN device (app namespace then reaches only 192.0.2.0/24).
remove_tunnel_routes() {
  ip -n "$APP_NS" route del default 2>/dev/null || true
  ip -n "$APP_NS" -6 route del default 2>/dev/null || true
}

counters_lines() { grep -c 'counters:' "$TUN_LOG" 2>/dev/null || true; }

# tunnel_counters: sends SIGUSR1, waits (5 s) for a new "counters:" line and prints it.
tunnel_counters() {
  local before
  before=$(counters_lines)
  kill -USR1 "$TUN_PID" || fail "cannot signal tunnel pid $TUN_PID"
  wait_until 5 "a counters: line after SIGUSR1" counters_grew "$before" ||
    fail "no new 'counters:' line within 5 s of SIGUSR1"
  last_counters
}
counters_grew() { (($(counters_lines) > $1)); }

# stop_tunnel_ok_with_counters [SIGNAL]: stop_tunnel_ok, then requires a NEW "counters:" line
# written at exit and stores it in EXIT_COUNTERS. (Not for $(...): stop_tunnel must run in the
# shell that started the tunnel.)
EXIT_COUNTERS=""
stop_tunnel_ok_with_counters() {
  local before
  before=$(counters_lines)
  stop_tunnel_ok "${1:-TERM}"
  (($(counters_lines) > before)) || fail "no counters: line logged at exit"
  EXIT_COUNTERS=$(last_counters)
}

# Prints the last "counters:" line of the tunnel log (empty if none).
last_counters() { grep 'counters:' "$TUN_LOG" | tail -n 1 || true; }

# counter_value LINE NAME: prints NAME's value in a counters line, fails if absent.
counter_value() {
  local line=$1 name=$2 value
  value=$(sed -nE "s/.*[[:space:]:]$name=([0-9]+).*/\\1/p" <<<"$line")
  [[ -n $value ]] || fail "counter '$name' missing from: $line"
  printf '%s\n' "$value"
}

# Seconds of CPU the whole machine has been busy so far (user, nice, system, irq and softirq of
# every CPU; idle, I/O wait and time stolen by the hypervisor left out), as a decimal string.
machine_busy_seconds() {
  local label user nice system idle iowait irq softirq rest
  read -r label user nice system idle iowait irq softirq rest </proc/stat
  python3 -c "import os,sys; print(int(sys.argv[1]) / os.sysconf('SC_CLK_TCK'))" \
    "$((user + nice + system + irq + softirq))"
}

# Seconds of CPU (user+system) used so far by PID, as a decimal string.
proc_cpu_seconds() {
  local pid=$1 stat fields
  stat=$(cat "/proc/$pid/stat") || return 1
  # Field 2 (comm) may contain spaces; strip through the closing parenthesis.
  read -r -a fields <<<"${stat##*) }"
  # After stripping, index 0 is field 3 (state): utime is field 14, stime field 15.
  python3 -c "import os,sys; print((int(sys.argv[1]) + int(sys.argv[2])) / os.sysconf('SC_CLK_TCK'))" \
    "${fields[11]}" "${fields[12]}"
}

# Resident set size of PID in KiB.
proc_rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# assert_memory_below VALUE_KIB LIMIT_KIB WHAT: a memory bound. Sanitizer builds (tools/test.sh
# sets T2S_SANITIZED=1) carry shadow memory and a free-queue quarantine of their own, so there
# the figure is only logged.
assert_memory_below() {
  if [[ -n ${T2S_SANITIZED:-} ]]; then
    log "$3: $1 KiB (sanitizer build: bound of $2 KiB not checked)"
    return 0
  fi
  (($1 < $2)) || fail "$3: $1 KiB, over the bound of $2 KiB"
}

# tcp_peer MODE ARGS...: runs the TCP peer client in the app namespace against HOST_V4.
peer_client() {
  in_app python3 "$TCP_PEER" "$@"
}

# fetch_to FILE URL [CURL_ARGS...]: GET through the app namespace (10 s bound) into FILE.
fetch_to() {
  local file=$1 url=$2
  shift 2
  in_app curl -sS -g --max-time 10 -o "$file" "$@" "$url"
}

# assert_same_file GOT EXPECTED WHAT: byte-for-byte comparison.
assert_same_file() {
  cmp -s "$1" "$2" || fail "$3: content differs ($(wc -c <"$1") bytes received, $(wc -c <"$2") expected)"
}

# assert_counter_ge LINE NAME MIN
assert_counter_ge() {
  local value
  value=$(counter_value "$1" "$2")
  ((value >= $3)) || fail "counter $2=$value, expected >= $3 (line: $1)"
}

# Writes $HARNESS_TMP/proxychains.conf (dante no-auth) and sets PROXYCHAINS_CONF. Used to run a
# client through the same proxy without the tunnel: in_app proxychains4 -f "$PROXYCHAINS_CONF" ...
write_proxychains_conf() {
  PROXYCHAINS_CONF="$HARNESS_TMP/proxychains.conf"
  cat >"$PROXYCHAINS_CONF" <<EOF
strict_chain
quiet_mode
tcp_read_time_out 15000
tcp_connect_time_out 8000
[ProxyList]
socks5 $NET_V4 $PROXY_PORT
EOF
}

# Validates the topology and dante without a tunnel: curl through SOCKS5 from the app namespace.
harness_selfcheck() {
  HARNESS_NO_BINARY=1 harness_up
  local out
  out=$(in_app curl -sS --max-time 5 --socks5 "$NET_V4:$PROXY_PORT" "http://$HOST_V4/") ||
    fail "selfcheck: IPv4 GET via dante $PROXY_PORT failed"
  [[ $out == "$(cat "$HTTP_ROOT/index.html")" ]] || fail "selfcheck: IPv4 content differs"
  out=$(in_app curl -sS -g --max-time 5 --socks5 "$NET_V4:$PROXY_PORT" "http://[$HOST_V6]/") ||
    fail "selfcheck: IPv6 GET via dante $PROXY_PORT failed"
  [[ $out == "$(cat "$HTTP_ROOT/index.html")" ]] || fail "selfcheck: IPv6 content differs"
  out=$(in_app curl -sS --max-time 5 \
    -x "socks5://$T2S_USER:$T2S_PASS_ENC@$NET_V4:$PROXY_AUTH_PORT" "http://$HOST_V4/") ||
    fail "selfcheck: GET via dante $PROXY_AUTH_PORT with user/pass failed"
  [[ $out == "$(cat "$HTTP_ROOT/index.html")" ]] || fail "selfcheck: auth content differs"
  if in_app curl -sS --max-time 5 -x "socks5://$T2S_USER:wrong@$NET_V4:$PROXY_AUTH_PORT" \
    "http://$HOST_V4/" >/dev/null 2>&1; then
    fail "selfcheck: dante $PROXY_AUTH_PORT accepted a wrong password"
  fi
  if in_app curl -sS --max-time 2 "http://$HOST_V4/" >/dev/null 2>&1; then
    fail "selfcheck: test host reachable from the app namespace without a proxy"
  fi
  log "selfcheck: proxy paths OK"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -euo pipefail
  case ${1:-} in
    selfcheck) harness_selfcheck ;;
    *) echo "usage: $0 selfcheck   (otherwise source this file)" >&2; exit 2 ;;
  esac
fi

# ------------------------------------------------------------------ fault injection and soak
# (used by case_fault_*.sh, case_soak.sh and tools/bench/soak.sh)

# dante_pid PORT: prints the PID of the dante main process serving PORT (one this run started).
dante_pid() {
  local port=$1 pid
  for pid in "${HARNESS_PIDS[@]}"; do
    if pid_alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null |
      grep -q -- "danted-$port.conf"; then
      printf '%s\n' "$pid"
      return 0
    fi
  done
  return 1
}

# pid_tree PID: prints PID and all its descendants.
pid_tree() {
  local table todo=("$1") pid child out=()
  table=$(ps -e -o pid=,ppid=)
  while ((${#todo[@]})); do
    pid=${todo[0]}
    todo=("${todo[@]:1}")
    out+=("$pid")
    while read -r child; do
      [[ -n $child ]] && todo+=("$child")
    done < <(awk -v p="$pid" '$2 == p {print $1}' <<<"$table")
  done
  printf '%s\n' "${out[@]}"
}

# kill_dante PORT [SIGNAL]: signals dante on PORT and all its children (default KILL: a crash),
# waits (5 s) until all are gone and the port is closed. Children first, so none is re-spawned.
kill_dante() {
  local port=$1 sig=${2:-KILL} main pids pid deadline
  main=$(dante_pid "$port") || fail "kill_dante: no dante running for port $port"
  mapfile -t pids < <(pid_tree "$main")
  log "kill_dante $port: SIG$sig to ${pids[*]}"
  for pid in "${pids[@]}"; do
    kill "-$sig" "$pid" 2>/dev/null || true
  done
  deadline=$(($(now_ms) + 5000))
  for pid in "${pids[@]}"; do
    while pid_alive "$pid"; do
      (($(now_ms) < deadline)) || fail "kill_dante: pid $pid still alive 5 s after SIG$sig"
      sleep 0.02
    done
  done
  kill_pid "$main" 1  # reaps it and drops it from HARNESS_PIDS
  wait_until 5 "port $port to close" bash -c "! ip netns exec '$NET_NS' ss -Hltn 'sport = :$port' | grep -q ." ||
    fail "kill_dante: port $port still listening"
}

# restart_dante PORT: starts dante again with the config harness_up wrote for PORT.
restart_dante() {
  local port=$1
  [[ -f $HARNESS_TMP/danted-$port.conf ]] || fail "restart_dante: no config for port $port"
  ! dante_pid "$port" >/dev/null || fail "restart_dante: dante for port $port is still running"
  start_bg "$NET_NS" "$HARNESS_TMP/danted-$port.restart.out" \
    danted -f "$HARNESS_TMP/danted-$port.conf" -p "$HARNESS_TMP/danted-$port.pid"
  wait_port "$NET_NS" "$port" "$HARNESS_BG_PID" "danted ($port, restarted)"
}

# counters_settled NAME...: true if the tunnel's fresh counters show 0 for every NAME given.
# Stores the line in SETTLED_LINE.
SETTLED_LINE=""
counters_zero() {
  local name
  SETTLED_LINE=$(tunnel_counters)
  for name in "$@"; do
    (($(counter_value "$SETTLED_LINE" "$name") == 0)) || return 1
  done
}

# wait_counters_zero SECONDS NAME...: polls (every 0.5 s) until every NAME is 0; fails otherwise.
# The last counters line is left in SETTLED_LINE.
wait_counters_zero() {
  local seconds=$1 deadline
  shift
  deadline=$(($(now_ms) + seconds * 1000))
  until counters_zero "$@"; do
    (($(now_ms) < deadline)) || fail "$* not 0 after ${seconds} s: $SETTLED_LINE"
    sleep 0.5
  done
}

# Peak RSS (VmHWM) of PID in KiB.
proc_hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# figure NAME VALUE [UNIT]: one measured figure, in a form scripts can collect.
figure() { printf 'figure: %s=%s%s\n' "$1" "$2" "${3:+ $3}"; }

# ---- soak: a mixed workload for SOAK seconds (case_soak.sh, tools/bench/soak.sh)
#
# Workers, each a loop bounded by the deadline and an iteration cap, every step under timeout:
#   down   tcp_peer source 16 MiB, IPv4 and IPv6 alternately (sha256 checked)
#   up     tcp_peer sink 16 MiB (sha256 checked by the server)
#   short  tcp_peer httpget: new connection per 1 KiB GET for 10 s (no failure allowed)
#   conc   tcp_peer concurrent: 100 connections at once, echo round trips; then halfclose
#   udp    udp_peer rr over 8 sockets for 10 s, then udp_peer flows 200 (new flows each time)
#   churn  stall clients (4 conns, never read) killed with SIGKILL after 1-2 s (abrupt resets),
#          and connections to a closed port (must be refused: the expected failures)
# Each worker appends "ok NAME ..." or "FAIL NAME ..." lines to $HARNESS_TMP/soak-NAME.log.
SOAK_WORKERS=(down up short conc udp churn)

# soak_step NAME SECONDS CMD...: runs CMD in the app namespace under timeout, logs the outcome.
soak_step() {
  local name=$1 limit=$2 out rc=0
  shift 2
  out=$(timeout "$limit" ip netns exec "$APP_NS" "$@" 2>&1) || rc=$?
  if ((rc == 0)); then
    printf 'ok %s %s\n' "$name" "$(tail -n 1 <<<"$out")" >>"$HARNESS_TMP/soak-$name.log"
  else
    printf 'FAIL %s rc=%s %s\n' "$name" "$rc" "$(tr '\n' ' ' <<<"$out" | tail -c 400)" \
      >>"$HARNESS_TMP/soak-$name.log"
    sleep 0.5  # a broken step must not turn the loop into a busy loop
  fi
}

soak_worker() {
  local name=$1 end_ms=$2 i=0 max=100000 left host
  while (($(now_ms) < end_ms && i < max)); do
    i=$((i + 1))
    left=$(((end_ms - $(now_ms)) / 1000))
    ((left >= 2)) || break
    case $name in
      down)
        host=$HOST_V4
        ((i % 2)) || host=$HOST_V6
        soak_step down 60 python3 "$TCP_PEER" source --host "$host" --port "$PEER_PORT" \
          --bytes $((16 << 20)) --seed "$i" --io-timeout 30
        ;;
      up)
        soak_step up 60 python3 "$TCP_PEER" sink --host "$HOST_V4" --port "$PEER_PORT" \
          --bytes $((16 << 20)) --seed "$i" --io-timeout 30
        ;;
      short)
        ((left > 10)) && left=10
        soak_step short $((left + 30)) python3 "$TCP_PEER" httpget --host "$HOST_V4" \
          --port "$HTTPD_PORT" --seconds "$left" --expect-size 1024 --max-failures 0
        ;;
      conc)
        soak_step conc 60 python3 "$TCP_PEER" concurrent --host "$HOST_V4" \
          --port "$PEER_PORT" --conns 100 --bytes 4096 --deadline 30
        soak_step conc 30 python3 "$TCP_PEER" halfclose --host "$HOST_V6" \
          --port "$PEER_PORT" --bytes 65536 --upload 65536 --delay-ms 100 --io-timeout 20
        ;;
      udp)
        ((left > 10)) && left=10
        soak_step udp $((left + 30)) python3 "$UDP_PEER" rr --host "$HOST_V4" \
          --port "$UDP_ECHO_PORT" --flows 8 --seconds "$left" --timeout 1
        soak_step udp 40 python3 "$UDP_PEER" flows 200 --host "$HOST_V6" \
          --port "$UDP_ECHO_PORT" --seconds 20
        ;;
      churn)
        soak_churn_once "$i"
        ;;
    esac
  done
}

# One churn round: abruptly killed readers, then a refused connection (expected).
soak_churn_once() {
  local i=$1 pid rc=0 out
  # ip netns exec execs python, so $! is the client itself (bounded by --hold-seconds).
  ip netns exec "$APP_NS" python3 "$TCP_PEER" stall --host "$HOST_V4" --port "$PEER_PORT" \
    --conns 4 --bytes $((64 << 20)) --seed "$i" --hold-seconds 10 >/dev/null 2>&1 &
  pid=$!
  sleep "1.$((i % 10))"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  out=$(in_app timeout 15 python3 "$TCP_PEER" connfail --host "$HOST_V4" --port 9 --conns 5 \
    --deadline 10 2>&1) || rc=$?
  if ((rc == 0)); then
    printf 'ok churn %s\n' "$out" >>"$HARNESS_TMP/soak-churn.log"
  else
    printf 'FAIL churn rc=%s %s\n' "$rc" "$(tr '\n' ' ' <<<"$out" | tail -c 400)" \
      >>"$HARNESS_TMP/soak-churn.log"
  fi
}

# soak_report LABEL: one line of RSS, CPU and counters, plus figures.
soak_report() {
  local label=$1 line
  line=$(tunnel_counters)
  log "soak $label: rss=$(proc_rss_kib "$TUN_PID")KiB cpu=$(proc_cpu_seconds "$TUN_PID")s" \
    "tcp_active=$(counter_value "$line" tcp_active) tcp_opened=$(counter_value "$line" tcp_opened)" \
    "udp_flows_active=$(counter_value "$line" udp_flows_active)" \
    "bytes_down=$(counter_value "$line" bytes_down) bytes_up=$(counter_value "$line" bytes_up)"
}

# run_soak SECONDS REPORT_EVERY WARMUP: runs the workers for SECONDS (needs harness_up, a tunnel,
# start_httpd and start_udp_echo), logging RSS/CPU every REPORT_EVERY seconds. Sets
# SOAK_WARM_RSS (KiB, after WARMUP seconds), SOAK_OK and SOAK_FAILED (step counts).
SOAK_WARM_RSS=0
SOAK_OK=0
SOAK_FAILED=0
run_soak() {
  local seconds=$1 every=$2 warmup=$3 start end next name wpids=() pid warm_at
  start=$(now_ms)
  end=$((start + seconds * 1000))
  for name in "${SOAK_WORKERS[@]}"; do
    : >"$HARNESS_TMP/soak-$name.log"
    soak_worker "$name" "$end" &
    wpids+=($!)
  done
  warm_at=$((start + warmup * 1000))
  next=$((start + every * 1000))
  SOAK_WARM_RSS=0
  while (($(now_ms) < end)); do
    tunnel_running || fail "tunnel died during the soak"
    if ((SOAK_WARM_RSS == 0 && $(now_ms) >= warm_at)); then
      SOAK_WARM_RSS=$(proc_rss_kib "$TUN_PID")
      log "soak: RSS after ${warmup} s warm-up: $SOAK_WARM_RSS KiB"
    fi
    if (($(now_ms) >= next)); then
      soak_report "t=$((($(now_ms) - start) / 1000))s"
      next=$((next + every * 1000))
    fi
    sleep 0.5
  done
  # Workers stop starting steps at the deadline; a running step is bounded by its timeout.
  for pid in "${wpids[@]}"; do
    wait "$pid" || true
  done
  log "soak: workers finished $((($(now_ms) - end) / 1000)) s after the deadline"
  SOAK_OK=$(cat "$HARNESS_TMP"/soak-*.log | grep -c '^ok ' || true)
  SOAK_FAILED=$(cat "$HARNESS_TMP"/soak-*.log | grep -c '^FAIL ' || true)
  for name in "${SOAK_WORKERS[@]}"; do
    log "soak worker $name: $(grep -c '^ok ' "$HARNESS_TMP/soak-$name.log" || true) ok," \
      "$(grep -c '^FAIL ' "$HARNESS_TMP/soak-$name.log" || true) failed"
  done
  if ((SOAK_FAILED > 0)); then
    grep -h '^FAIL ' "$HARNESS_TMP"/soak-*.log | head -n 5 >&2
  fi
}
