#!/usr/bin/env bash
# Bursts of datagrams on one flow, answered by the echo peer through dante: replies that one read
# from the proxy takes together go to the app as one packet the kernel cuts up (UDP segmentation
# offload on the TUN device), and datagrams the tunnel reads in one loop turn go to the proxy
# with one system call (a run of one size as one UDP_SEGMENT message); both ways they must
# arrive as the same datagrams, byte for byte, in IPv4 and IPv6. Lengths mix so that runs of
# equal datagrams, shorter last ones and single ones all occur. Bounded: 300 rounds of 16
# datagrams per family, 2 s per round.
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

harness_up
start_udp_echo
start_tunnel

total=0
for host in "$HOST_V4" "$HOST_V6"; do
  if ! out=$(udp_client burst --host "$host" --port "$UDP_ECHO_PORT" --rounds 300 --window 16 \
    --sizes 1400,1400,1400,1400,1000,1,8000); then
    log "counters after the failed run: $(tunnel_counters)"
    fail "bursts to $host: $out"
  fi
  log "burst $host: $out"
  total=$((total + $(json_field "$out" received)))
done

line=$(tunnel_counters)
log "SIGUSR1: $line"
assert_counter_ge "$line" udp_datagrams_down "$total"
for name in udp_dropped_malformed udp_dropped_unroutable packets_out_dropped; do
  (($(counter_value "$line" "$name") == 0)) || fail "$name is not 0: $line"
done
# Linux 6.2 and later take UDP segmentation from a TUN writer; before, the tunnel falls back to
# one write per datagram (the replies above were checked either way).
kernel=$(uname -r)
major=${kernel%%.*}
minor=${kernel#*.}
minor=${minor%%[!0-9]*}
if ((major > 6 || (major == 6 && minor >= 2))); then
  segmented=$(counter_value "$line" packets_out_segmented)
  ((segmented > 0)) || fail "no datagram went out in a segmented write on Linux $kernel: $line"
  log "$segmented of $total replies written in segmented runs"
else
  log "Linux $kernel has no UDP segmentation from TUN writers: not checked"
fi
up=$(counter_value "$line" udp_datagrams_up)
calls=$(counter_value "$line" udp_proxy_send_calls)
((calls > 0 && calls < up)) || fail "$up datagrams to the proxy took $calls system calls: $line"
log "$up datagrams to the proxy in $calls system calls"
stop_tunnel_ok
log "PASS"
