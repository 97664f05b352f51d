#!/usr/bin/env bash
# packaging/docker-entrypoint.sh in a fresh network namespace standing in for a container (no
# Docker engine needed), with IPv6 turned off as on Docker's default network: with an empty
# /dev/net (its own mount namespace) it creates the TUN node, and with nothing but TUN2SOCKS_*
# variables (the default --address6 included) the tunnel runs IPv4-only and routes the
# namespace's traffic through the proxy; on SIGTERM (docker stop) routes, rules and addresses
# are as before.
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

ENTRYPOINT="$REPO_DIR/packaging/docker-entrypoint.sh"
harness_up
add_uplink_default_routes
# Like a Docker container on its default network: IPv6 turned off.
in_app sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
before="$HARNESS_TMP/routing-before.txt"
routing_snapshot >"$before"

TUN_DEV="t2s${RUN_ID}c"
TUN_LOG="$HARNESS_TMP/entrypoint.log"
bin_dir="$HARNESS_TMP/bin"
mkdir -p "$bin_dir"
ln -s "$T2S_BINARY" "$bin_dir/tun2socks"
# The entrypoint execs tun2socks, so the PID started here ends up being the tunnel's.
ip netns exec "$APP_NS" env PATH="$bin_dir:$PATH" TUN2SOCKS_PROXY="$PROXY_URL" \
  TUN2SOCKS_DEVICE="$TUN_DEV" TUN2SOCKS_ADDRESS="$TUN_V4" TUN2SOCKS_DNS=fake unshare --mount --propagation private \
  sh -c 'mount -t tmpfs none /dev/net && exec "$0"' "$ENTRYPOINT" >"$TUN_LOG" 2>&1 </dev/null &
TUN_PID=$!
wait_until 10 "the tunnel to be ready" tunnel_ready || fail "entrypoint: no 'ready' line: $(cat "$TUN_LOG")"
grep -q 'auto-route: all traffic into' "$TUN_LOG" || fail "the entrypoint did not turn on --auto-route"
grep -q 'running IPv4 only' "$TUN_LOG" || fail "no word that IPv6 is off: $(cat "$TUN_LOG")"

got="$HARNESS_TMP/got"
in_app curl -fsS --max-time 5 -o "$got" "http://$HOST_V4/" || fail "GET through the container's tunnel"
assert_same_file "$got" "$HTTP_ROOT/index.html" "index.html through the entrypoint's tunnel"
line=$(tunnel_counters)
assert_counter_ge "$line" tcp_opened 1
stop_tunnel_ok
diff -u "$before" <(routing_snapshot) >&2 || fail "routing differs after the container stopped"
log "entrypoint: created /dev/net/tun, routed through the proxy, cleaned up on SIGTERM"
log "PASS"
