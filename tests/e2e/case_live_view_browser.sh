#!/usr/bin/env bash
# The status page (GET /) in a real headless browser (Debian's chromium, --dump-dom) during an
# iperf3 transfer: its script polls /stats and /connections and renders non-zero counters and
# a row for the transfer's connection.
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
STATS_PORT=9080

command -v chromium >/dev/null || fail "chromium not installed (tools/setup.sh installs it)"
harness_up
start_tunnel --stats-listen "127.0.0.1:$STATS_PORT"
start_iperf_server

in_app iperf3 -c "$HOST_V4" -p "$IPERF_PORT" -t 15 -R -b 200M -J >"$HARNESS_TMP/iperf.json" 2>&1 &
iperf_pid=$!
sleep 2

# The page polls once a second; virtual time lets the browser run a few polls, then dump the
# DOM as the script left it. The browser contacts nothing but the page: its background services
# are off and every name lookup fails locally.
profile="$HARNESS_TMP/chromium-profile"
mkdir -p "$profile"
in_app timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --disable-dev-shm-usage --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" --user-data-dir="$profile" --virtual-time-budget=5000 \
  --dump-dom "http://127.0.0.1:$STATS_PORT/" >"$HARNESS_TMP/dom.html" 2>"$HARNESS_TMP/chromium.log" ||
  fail "chromium failed: $(tail -n 5 "$HARNESS_TMP/chromium.log")"
wait "$iperf_pid" || fail "iperf3 through the tunnel failed: $(tail -n 5 "$HARNESS_TMP/iperf.json")"

python3 - "$HARNESS_TMP/dom.html" "$HOST_V4:$IPERF_PORT" <<'PY' || fail "the status page did not render the live data"
import re, sys
dom, target = open(sys.argv[1]).read(), sys.argv[2]
def counter(name):
    m = re.search(r'data-counter="%s"><span>%s</span><span class="value">(\d+)</span>' % (name, name), dom)
    assert m, "counter %s not rendered" % name
    return int(m.group(1))
assert counter("bytes_down") > 0, "bytes_down is 0"
assert counter("tcp_opened") >= 2, "tcp_opened < 2"
assert counter("tcp_active") >= 2, "tcp_active < 2"
rows = re.findall(r'<tr class="connection">(.*?)</tr>', dom)
assert any("<td>%s</td>" % target in row and "established" in row for row in rows), rows
assert 'id="error"></div>' in dom, "the page shows an error"
print("rendered %d connection rows, bytes_down=%d" % (len(rows), counter("bytes_down")))
PY
log "status page: $(grep -o '<tr class="connection">.*</tr>' "$HARNESS_TMP/dom.html" | head -c 300)"
stop_tunnel_ok
log "PASS"
