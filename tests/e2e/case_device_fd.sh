#!/usr/bin/env bash
# --device fd://N: a parent program creates and configures the TUN device and hands tun2socks
# the open descriptor (tests/e2e/fd_launcher.py plays that parent). TCP and UDP through it work,
# tun2socks leaves the device's configuration alone, and the device goes when the last
# descriptor closes. Twice: a plain device, and one with a virtio-net header and checksum
# offload (the header is read and written, and the vouched-for checksums are not checked).
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

require_binary
export T2S_REAL_BINARY=$T2S_BINARY
T2S_BINARY="$E2E_DIR/fd_launcher.py"

harness_up
start_udp_echo

# run_on_handed_in_device VNET: the parent's device without (0) or with (1) a virtio-net header
# and checksum offload; with it, the apps' checksums arrive vouched for by the kernel.
run_on_handed_in_device() {
  export FD_LAUNCHER_VNET=$1
  start_tunnel --mtu 1500

  grep -q "ready: device fd://" "$TUN_LOG" || fail "tunnel did not run on the handed-in descriptor"
  mtu=$(ip -n "$APP_NS" -o link show "$TUN_DEV" | sed -nE 's/.* mtu ([0-9]+) .*/\1/p')
  [[ $mtu == 1500 ]] || fail "device MTU is $mtu, expected the parent's 1500"

  got="$HARNESS_TMP/got"
  fetch_to "$got" "http://$HOST_V4/" || fail "HTTP GET over the handed-in device failed"
  assert_same_file "$got" "$HTTP_ROOT/index.html" "index.html via fd://"
  fetch_to "$got" "http://[$HOST_V6]/" || fail "IPv6 HTTP GET over the handed-in device failed"
  assert_same_file "$got" "$HTTP_ROOT/index.html" "IPv6 index.html via fd://"
  out=$(udp_client echo --host "$HOST_V4" --port "$UDP_ECHO_PORT" --sizes 1,1400) ||
    fail "UDP echo over the handed-in device failed: $out"

  device=$TUN_DEV
  stop_tunnel_ok_with_counters
  assert_counter_ge "$EXIT_COUNTERS" tcp_opened 2
  offloaded=$(counter_value "$EXIT_COUNTERS" packets_checksum_offloaded)
  if (($1 == 1)); then
    ((offloaded > 0)) || fail "no checksum came vouched for over a device with offload"
  else
    ((offloaded == 0)) || fail "$offloaded packets taken as offloaded without a virtio-net header"
  fi
  if ip -n "$APP_NS" link show "$device" >/dev/null 2>&1; then
    fail "device $device still exists after its last descriptor closed"
  fi
}

run_on_handed_in_device 0
run_on_handed_in_device 1
log "PASS"
