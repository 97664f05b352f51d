#!/usr/bin/env bash
# HTTP GETs over IPv4 and IPv6 through the tunnel return the exact files; the counters (on
# SIGUSR1 and at exit) account for the connections and bytes.
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

harness_up
start_tunnel

got="$HARNESS_TMP/got"
fetch_to "$got" "http://$HOST_V4/" || fail "IPv4 GET http://$HOST_V4/ through the tunnel failed"
assert_same_file "$got" "$HTTP_ROOT/index.html" "IPv4 index.html"
fetch_to "$got" "http://$HOST_V4/1k.bin" || fail "IPv4 GET /1k.bin failed"
assert_same_file "$got" "$HTTP_ROOT/1k.bin" "IPv4 1k.bin"

fetch_to "$got" "http://[$HOST_V6]/" || fail "IPv6 GET http://[$HOST_V6]/ through the tunnel failed"
assert_same_file "$got" "$HTTP_ROOT/index.html" "IPv6 index.html"
fetch_to "$got" "http://[$HOST_V6]/1k.bin" || fail "IPv6 GET /1k.bin failed"
assert_same_file "$got" "$HTTP_ROOT/1k.bin" "IPv6 1k.bin"

# A second test host, to show the destination address is carried, not assumed.
fetch_to "$got" "http://$HOST2_V4/1k.bin" || fail "IPv4 GET http://$HOST2_V4/1k.bin failed"
assert_same_file "$got" "$HTTP_ROOT/1k.bin" "IPv4 1k.bin from $HOST2_V4"

# Each GET was its own connection through dante: dante's access log saw both families.
grep -q "$HOST_V6" "$HARNESS_TMP/http.log" || fail "http server never saw a request via IPv6"

# The server closes first, so the tunnel's side of each connection ends in TIME-WAIT while the
# app's side closes cleanly. A new connection from the same source port (the same addresses and
# ports) right after must connect at once, as it would without the tunnel.
reuse=$(in_app python3 - "$HOST_V4" <<'PY'
import socket, sys, time
for attempt in range(3):
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", 40123))
    sock.settimeout(5)
    start = time.monotonic()
    sock.connect((sys.argv[1], 80))
    connected = time.monotonic() - start
    sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
    while sock.recv(65536):  # until the server's FIN: our side closes second
        pass
    sock.close()
    print(round(connected * 1000))
    time.sleep(0.1)
PY
) || fail "reconnecting from source port 40123 failed (the previous connection is in TIME-WAIT)"
for ms in $reuse; do
  ((ms < 500)) || fail "a connection from source port 40123 took ${ms} ms to connect: $reuse"
done
log "three connections in a row from source port 40123, connect times (ms): $(tr '\n' ' ' <<<"$reuse")"

line=$(tunnel_counters)
log "SIGUSR1: $line"
assert_counter_ge "$line" tcp_opened 2
assert_counter_ge "$line" bytes_down 2048
assert_counter_ge "$line" bytes_up 1

stop_tunnel_ok_with_counters
line=$EXIT_COUNTERS
log "exit: $line"
assert_counter_ge "$line" tcp_opened 5
log "PASS"
