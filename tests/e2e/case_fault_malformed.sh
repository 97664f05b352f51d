#!/usr/bin/env bash
# Garbage into the TUN device while a transfer runs. From the app namespace, an injector writes
# straight into the device with an AF_PACKET socket bound to it (truly arbitrary bytes: random
# data, truncated and inconsistent IPv4/IPv6 headers, bad IP/TCP/UDP checksums, IP options, odd
# and broken TCP options, bad data offsets, IPv4/IPv6 fragments that never complete or overlap,
# chains of IPv6 extension headers), then, through a raw IP socket (IP_HDRINCL) and the routing
# table, a SYN flood of FLOOD_SYNS SYNs to random ports and addresses. Meanwhile 32 MiB
# downloads (sha256 checked) run back to back. Asserts: every download intact, tunnel alive,
# packets_malformed (and other drop counters) grew, the flood's sessions all end (tcp_active 0),
# a fresh GET works afterwards.
set -euo pipefail
# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

FLOOD_SYNS=${FLOOD_SYNS:-20000}
FLOOD_RATE=${FLOOD_RATE:-5000}

harness_up
hard=$(ulimit -Hn)
ulimit -n "$hard"
start_tunnel
TUN_SRC4=${TUN_V4%/*}
TUN_SRC6=${TUN_V6%/*}

injector="$HARNESS_TMP/inject.py"
cat >"$injector" <<'PY'
"""Writes malformed packets into a TUN device (AF_PACKET) and floods SYNs (raw IP socket).
Every loop is bounded in count and by --seconds. Prints one JSON object of what was sent."""
import argparse, ipaddress, json, os, random, socket, struct, sys, time

ETH_P_IP, ETH_P_IPV6 = 0x0800, 0x86DD
ap = argparse.ArgumentParser()
ap.add_argument("--dev", required=True)
ap.add_argument("--src4", required=True)
ap.add_argument("--src6", required=True)
ap.add_argument("--dst4", action="append", required=True)
ap.add_argument("--dst6", action="append", required=True)
ap.add_argument("--net4", action="append", required=True)
ap.add_argument("--phase", choices=["garbage", "flood", "badsyn"], required=True)
ap.add_argument("--syns", type=int, default=20000)
ap.add_argument("--rate", type=int, default=5000)
ap.add_argument("--seconds", type=float, default=40)
args = ap.parse_args()
rnd = random.Random(20240601)
deadline = time.monotonic() + args.seconds
sent = {}


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def a4(x):
    return socket.inet_aton(x)


def a6(x):
    return socket.inet_pton(socket.AF_INET6, x)


def ip4(src, dst, proto, payload, opts=b"", bad_csum=False, tot_len=None, ihl=None, frag=0,
        ident=None, ttl=64):
    hl = ihl if ihl is not None else (20 + len(opts)) // 4
    tl = tot_len if tot_len is not None else 20 + len(opts) + len(payload)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | (hl & 0xF), 0, tl & 0xFFFF,
                      rnd.getrandbits(16) if ident is None else ident, frag, ttl, proto, 0,
                      a4(src), a4(dst)) + opts
    c = csum(hdr)
    if bad_csum:
        c ^= 0x5A5A
    hdr = hdr[:10] + struct.pack("!H", c) + hdr[12:]
    return hdr + payload


def ip6(src, dst, nh, payload, plen=None):
    pl = len(payload) if plen is None else plen
    return struct.pack("!IHBB16s16s", 0x60000000, pl & 0xFFFF, nh, 64, a6(src), a6(dst)) + payload


def pseudo(src, dst, proto, length):
    if ":" in src:
        return a6(src) + a6(dst) + struct.pack("!IxxxB", length, proto)
    return a4(src) + a4(dst) + struct.pack("!BBH", 0, proto, length)


def tcp(src, dst, sport, dport, flags, seq=None, opts=b"", payload=b"", doff=None,
        bad_csum=False):
    off = doff if doff is not None else (20 + len(opts)) // 4
    seg = struct.pack("!HHIIBBHHH", sport, dport, rnd.getrandbits(32) if seq is None else seq,
                      0, (off & 0xF) << 4, flags, 65535, 0, 0) + opts + payload
    c = csum(pseudo(src, dst, 6, len(seg)) + seg)
    if bad_csum:
        c ^= 0x1234
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def udp(src, dst, sport, dport, payload, length=None, bad_csum=False, zero_csum=False):
    ln = 8 + len(payload) if length is None else length
    seg = struct.pack("!HHHH", sport, dport, ln & 0xFFFF, 0) + payload
    c = 0 if zero_csum else (csum(pseudo(src, dst, 17, len(seg)) + seg) or 0xFFFF)
    if bad_csum:
        c ^= 0x0F0F
    return seg[:6] + struct.pack("!H", c) + seg[8:]


SYN, ACK, RST, FIN, PSH = 0x02, 0x10, 0x04, 0x01, 0x08


def port():
    return rnd.randint(20000, 60000)


def garbage():
    pk4 = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
    pk6 = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IPV6))
    errors = {}

    def out(kind, data, v6=False):
        if time.monotonic() > deadline:
            raise TimeoutError("--seconds exceeded")
        try:
            (pk6 if v6 else pk4).sendto(data, (args.dev, ETH_P_IPV6 if v6 else ETH_P_IP))
            sent[kind] = sent.get(kind, 0) + 1
        except OSError as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
        if sum(sent.values()) % 200 == 0:
            time.sleep(0.01)  # keep the device queue from overflowing: we want them read

    s4, s6 = args.src4, args.src6
    d4 = lambda: rnd.choice(args.dst4)
    d6 = lambda: rnd.choice(args.dst6)
    for _ in range(3000):
        out("random_bytes", rnd.randbytes(rnd.randint(1, 1500)))
    for _ in range(2000):
        out("random_v4_nibble", bytes([0x40 | rnd.randint(0, 15)]) + rnd.randbytes(rnd.randint(0, 1500)))
    for _ in range(2000):
        out("random_v6_nibble", bytes([0x60 | rnd.randint(0, 15)]) + rnd.randbytes(rnd.randint(0, 1500)), True)
    syn = lambda d: tcp(s4, d, port(), 7000, SYN)
    for _ in range(100):
        full = ip4(s4, d4(), 6, syn(HOST2))
        for cut in (1, 8, 19):
            out("v4_truncated_header", full[:cut])
        out("v4_ihl_below_5", ip4(s4, d4(), 6, syn(HOST2), ihl=rnd.randint(0, 4)))
        out("v4_ihl_beyond_packet", ip4(s4, d4(), 6, b"", ihl=15))
        out("v4_totlen_beyond_packet", ip4(s4, d4(), 6, syn(HOST2), tot_len=1400))
        out("v4_totlen_below_ihl", ip4(s4, d4(), 6, syn(HOST2), tot_len=12))
        out("v4_totlen_zero", ip4(s4, d4(), 6, syn(HOST2), tot_len=0))
        out("v4_bad_ip_checksum_syn", ip4(s4, HOST2, 6, tcp(s4, HOST2, port(), 7000, SYN), bad_csum=True))
        out("v4_unknown_protocol", ip4(s4, d4(), rnd.choice([0, 2, 47, 50, 132, 255]), rnd.randbytes(40)))
        out("v4_tcp_header_truncated", ip4(s4, d4(), 6, syn(HOST2)[:rnd.randint(0, 19)]))
        out("v6_truncated_header", ip6(s6, d6(), 6, b"")[:rnd.randint(1, 39)], True)
        out("v6_plen_beyond_packet", ip6(s6, d6(), 6, tcp(s6, d6(), port(), 7000, SYN), plen=2000), True)
        out("v6_tcp_header_truncated", ip6(s6, d6(), 6, tcp(s6, HOST2_6, port(), 7000, SYN)[:rnd.randint(0, 19)]), True)
        # Extension headers: a chain of 30 hop-by-hop/dest-opts, one claiming more than there is.
        chain = b"".join(bytes([60, 0]) + b"\x01\x04" + b"\0" * 4 for _ in range(30))
        out("v6_ext_chain", ip6(s6, d6(), 0, chain[:-8] + bytes([6, 0]) + b"\x01\x04\0\0\0\0" + tcp(s6, HOST2_6, port(), 7000, SYN)), True)
        out("v6_ext_len_beyond_packet", ip6(s6, d6(), 0, bytes([6, 200]) + b"\0" * 6), True)
        out("v6_ext_truncated", ip6(s6, d6(), 43, b"\x06"), True)
        out("v6_unknown_next_header", ip6(s6, d6(), rnd.choice([59, 50, 132, 253]), rnd.randbytes(32)), True)
    # Checksums: a SYN with a bad TCP checksum must not become a connection.
    for _ in range(200):
        out("v4_bad_tcp_checksum_syn", ip4(s4, HOST2, 6, tcp(s4, HOST2, port(), 7000, SYN, bad_csum=True)))
        out("v6_bad_tcp_checksum_syn", ip6(s6, HOST2_6, 6, tcp(s6, HOST2_6, port(), 7000, SYN, bad_csum=True)), True)
        out("v4_bad_tcp_checksum_ack", ip4(s4, HOST2, 6, tcp(s4, HOST2, port(), 7000, ACK | PSH, payload=b"junk", bad_csum=True)))
        out("v4_tcp_doff_below_5", ip4(s4, HOST2, 6, tcp(s4, HOST2, port(), 7000, SYN, doff=rnd.randint(0, 4))))
        out("v4_tcp_doff_beyond_segment", ip4(s4, HOST2, 6, tcp(s4, HOST2, port(), 7000, SYN, doff=15)))
        out("v4_udp_bad_checksum", ip4(s4, HOST2, 17, udp(s4, HOST2, port(), 7777, b"bad csum", bad_csum=True)))
        out("v4_udp_len_beyond", ip4(s4, HOST2, 17, udp(s4, HOST2, port(), 7777, b"x" * 10, length=500)))
        out("v4_udp_len_below_8", ip4(s4, HOST2, 17, udp(s4, HOST2, port(), 7777, b"x" * 10, length=rnd.randint(0, 7))))
        out("v6_udp_zero_checksum", ip6(s6, HOST2_6, 17, udp(s6, HOST2_6, port(), 7777, b"zero", zero_csum=True)), True)
        out("v4_icmp_bad_checksum", ip4(s4, HOST2, 1, b"\x08\x00\x12\x34" + rnd.randbytes(60)))
        out("v6_icmp_garbage", ip6(s6, HOST2_6, 58, rnd.randbytes(rnd.randint(0, 64))), True)
        out("v4_broadcast_multicast", ip4(s4, rnd.choice(["255.255.255.255", "224.0.0.1", "239.1.2.3"]), 17, udp(s4, "224.0.0.1", port(), 7777, b"m")))
    # IP options (valid checksum) and odd TCP options on segments that are not SYNs (lwIP answers
    # with RST) and on SYNs (they open sessions; the app kernel resets the SYN-ACK it never asked for).
    ip_opts = [b"\x01" * 4, b"\x01" * 40, b"\x00" * 4, b"\x07\x07\x04" + b"\0" * 5, b"\x44\x0c\x05\x00" + b"\0" * 8,
               b"\x94\x04\x00\x00", b"\xff\x01\x01\x01", b"\x82\x00\x00\x00"]
    tcp_opts = [b"\x02\x00\x00\x00", b"\x02\x01\x00\x00", b"\x02\xff\x00\x00", b"\x03\x03\xff\x00",
                b"\x03\x00\x00\x00", b"\x04\x02\x01\x01", b"\x04\x00\x00\x00", b"\x08\x0a" + b"\xff" * 8 + b"\x00\x00",
                b"\x08\x05\x00\x00", b"\x05\x22" + b"\0" * 34 + b"\0\0", b"\x01" * 40, b"\xfe\x01\x00\x00",
                b"\x1e\x04\x00\x00", b"\x02\x04\x00\x01", b"\x02\x04\xff\xff\x03\x03\x0e\x01"]
    for i in range(100):
        o = ip_opts[i % len(ip_opts)]
        t = tcp_opts[i % len(tcp_opts)]
        out("v4_ip_options_ack", ip4(s4, HOST2, 6, tcp(s4, HOST2, port(), 7000, ACK, opts=t), opts=o))
        out("v4_ip_options_udp", ip4(s4, HOST2, 17, udp(s4, HOST2, port(), 7777, b"opt"), opts=o))
        out("v4_odd_tcp_options_syn", ip4(s4, HOST2, 6, tcp(s4, HOST2, port(), 7000, SYN, opts=t)))
        out("v6_odd_tcp_options_syn", ip6(s6, HOST2_6, 6, tcp(s6, HOST2_6, port(), 7000, SYN, opts=t)), True)
        out("v4_odd_flags", ip4(s4, HOST2, 6, tcp(s4, HOST2, port(), 7000, rnd.choice([0, 0xFF, SYN | FIN, SYN | RST, FIN | PSH | 0x20, 0xC2]))))
    # Fragments: incomplete datagrams (the reassembly buffers must stay bounded and expire),
    # overlapping pieces, offsets beyond 64 KiB, tiny first fragments; IPv6 alike.
    for i in range(600):
        ident = 0x1000 + i
        body = udp(s4, HOST2, port(), 7777, rnd.randbytes(1000))
        out("v4_frag_incomplete", ip4(s4, HOST2, 17, body[:512], frag=0x2000, ident=ident))
        out("v4_frag_overlap", ip4(s4, HOST2, 17, rnd.randbytes(64), frag=0x2000 | 30, ident=ident))
        out("v4_frag_overlap", ip4(s4, HOST2, 17, rnd.randbytes(64), frag=0x2000 | 32, ident=ident))
        out("v4_frag_beyond_64k", ip4(s4, HOST2, 17, rnd.randbytes(512), frag=0x1FFF, ident=ident + 5000))
        out("v4_frag_tiny", ip4(s4, HOST2, 6, tcp(s4, HOST2, port(), 7000, SYN)[:8], frag=0x2000, ident=ident + 9000))
        fh = struct.pack("!BBHI", 17, 0, (0 << 3) | 1, 0x5000 + i)
        out("v6_frag_incomplete", ip6(s6, HOST2_6, 44, fh + rnd.randbytes(512)), True)
        fh = struct.pack("!BBHI", 17, 0, (8191 << 3), 0x9000 + i)
        out("v6_frag_beyond_64k", ip6(s6, HOST2_6, 44, fh + rnd.randbytes(512)), True)
        fh = struct.pack("!BBHI", 17, 0, 1, 0xA000 + i)
        out("v6_frag_unaligned", ip6(s6, HOST2_6, 44, fh + rnd.randbytes(13)), True)
        fh = struct.pack("!BBHI", 44, 0, 0, 0xB000 + i)
        out("v6_frag_nested", ip6(s6, HOST2_6, 44, fh + struct.pack("!BBHI", 17, 0, 0, 1) + udp(s6, HOST2_6, 1, 7777, b"n")), True)
    for _ in range(20):
        out("zero_length", b"")
    return errors


def flood():
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    raw.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    errors = {}
    t0 = time.monotonic()
    nets = [ipaddress.ip_network(n) for n in args.net4]
    for i in range(args.syns):
        if time.monotonic() > deadline:
            break
        r = rnd.random()
        if r < 0.5:
            dst = rnd.choice(args.dst4)
        else:
            net = rnd.choice(nets)
            dst = str(net.network_address + rnd.randint(1, net.num_addresses - 2))
        seg = tcp(args.src4, dst, rnd.randint(1024, 65535), port(), SYN)
        # The kernel fills in the IP checksum and total length for IP_HDRINCL.
        pkt = ip4(args.src4, dst, 6, seg)
        try:
            raw.sendto(pkt, (dst, 0))
            sent["syn_flood"] = sent.get("syn_flood", 0) + 1
        except OSError as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
        ahead = t0 + (i + 1) / args.rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    # And a few IP-options / odd-TCP-options SYNs through the routing table, too.
    for i in range(50):
        dst = rnd.choice(args.dst4)
        seg = tcp(args.src4, dst, rnd.randint(1024, 65535), port(), SYN, opts=b"\x03\x03\xff\x01\x02\x04\x00\x10")
        try:
            raw.sendto(ip4(args.src4, dst, 6, seg, opts=b"\x01\x01\x01\x00"), (dst, 0))
            sent["raw_options_syn"] = sent.get("raw_options_syn", 0) + 1
        except OSError as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
    return errors


def badsyn():
    """SYNs lwIP itself rejects (bad TCP checksum, data offset < 5) to HOST2 port 7000: they
    must not make the tunnel open a proxy connection."""
    pk4 = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
    pk6 = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IPV6))
    s4, s6 = args.src4, args.src6
    for i in range(50):
        pk4.sendto(ip4(s4, HOST2, 6, tcp(s4, HOST2, 30000 + i, 7000, SYN, bad_csum=True)), (args.dev, ETH_P_IP))
        pk6.sendto(ip6(s6, HOST2_6, 6, tcp(s6, HOST2_6, 30000 + i, 7000, SYN, bad_csum=True)), (args.dev, ETH_P_IPV6))
        pk4.sendto(ip4(s4, HOST2, 6, tcp(s4, HOST2, 31000 + i, 7000, SYN, doff=4)), (args.dev, ETH_P_IP))
        sent["bad_syn"] = sent.get("bad_syn", 0) + 3
    return {}


HOST2 = args.dst4[-1]
HOST2_6 = args.dst6[-1]
start = time.monotonic()
try:
    errs = {"garbage": garbage, "flood": flood, "badsyn": badsyn}[args.phase]()
    ok = True
except TimeoutError:
    errs, ok = {"timeout": 1}, False
print(json.dumps({"phase": args.phase, "ok": ok, "sent_total": sum(sent.values()),
                  "send_errors": errs, "seconds": round(time.monotonic() - start, 2),
                  "sent": sent}))
sys.exit(0 if ok else 1)
PY

# Downloads back to back until told to stop (bounded: 400 rounds, 60 s each). 32 MiB each, so
# that several complete during the injection also where the tunnel moves only ~10 MB/s (the
# sanitizer build on a busy 2-core machine: 256 MiB downloads let only one finish there).
stop_file="$HARNESS_TMP/stop-downloads"
(
  for ((i = 0; i < 400; i++)); do
    [[ -f $stop_file ]] && break
    if out=$(in_app timeout 60 python3 "$TCP_PEER" source --host "$HOST_V4" --port "$PEER_PORT" \
      --bytes $((32 << 20)) --seed "$i" --io-timeout 20 2>&1); then
      echo "ok $out"
    elif [[ $out == *ConnectionRefusedError* ]]; then
      # Refused before any byte: dante, busy with the flood's thousands of CONNECTs, did not
      # answer this one within the 10 s handshake limit, and the tunnel passed that on as a
      # reset. Nothing was lost or corrupted.
      echo "refused $out"
    else
      echo "FAIL $out"
    fi
  done
) >"$HARNESS_TMP/downloads.log" &
dl_pid=$!
wait_until 10 "first download to start" bash -c "[[ -s '$HARNESS_TMP/downloads.log' || -n \$(ip netns exec '$APP_NS' ss -Htn state established 'dport = :$PEER_PORT') ]]" ||
  fail "download did not start"

common=(--dev "$TUN_DEV" --src4 "$TUN_SRC4" --src6 "$TUN_SRC6" --dst4 "$HOST_V4" --dst4 "$HOST2_V4"
  --dst6 "$HOST_V6" --dst6 "$HOST2_V6" --net4 203.0.113.0/24 --net4 198.51.100.0/24)
before=$(tunnel_counters)
out=$(in_app timeout 60 python3 "$injector" "${common[@]}" --phase garbage --seconds 50) ||
  fail "garbage injection failed: $out"
log "garbage: $out"
figure garbage_packets_sent "$(json_field "$out" sent_total)"
tunnel_running || fail "tunnel died from the garbage"
after_garbage=$(tunnel_counters)
log "after garbage: $after_garbage"

out=$(in_app timeout 60 python3 "$injector" "${common[@]}" --phase flood --syns "$FLOOD_SYNS" \
  --rate "$FLOOD_RATE" --seconds 40) || fail "SYN flood failed: $out"
log "flood: $out"
figure flood_syns_sent "$(json_field "$out" sent_total)"
tunnel_running || fail "tunnel died from the SYN flood"
after_flood=$(tunnel_counters)
log "after flood: $after_flood"

touch "$stop_file"
wait "$dl_pid" || true
downloads_ok=$(grep -c '^ok ' "$HARNESS_TMP/downloads.log" || true)
downloads_failed=$(grep -c '^FAIL ' "$HARNESS_TMP/downloads.log" || true)
figure downloads_ok "$downloads_ok"
figure downloads_refused "$(grep -c '^refused ' "$HARNESS_TMP/downloads.log" || true)"
figure downloads_failed "$downloads_failed"
((downloads_failed == 0)) || fail "download(s) failed: $(grep '^FAIL ' "$HARNESS_TMP/downloads.log" | head -n 3)"
((downloads_ok >= 2)) || fail "only $downloads_ok downloads ran during the injection"

delta() { echo $(($(counter_value "$2" "$1") - $(counter_value "$before" "$1"))); }
for name in packets_malformed packets_not_handled syns_refused tcp_failed tcp_opened \
  udp_dropped_malformed udp_dropped_fragmented udp_flows_opened icmp_dropped packets_in; do
  figure "${name}_during_injection" "$(delta "$name" "$after_flood")"
done
(($(delta packets_malformed "$after_garbage") > 0)) || fail "packets_malformed did not grow: $after_garbage"
(($(delta packets_not_handled "$after_garbage") > 0)) || fail "packets_not_handled did not grow: $after_garbage"

# Every session the flood and the injected SYNs started must end.
wait_counters_zero 30 tcp_active
log "settled: $SETTLED_LINE"
figure rss_kib "$(proc_rss_kib "$TUN_PID")"
figure rss_peak_kib "$(proc_hwm_kib "$TUN_PID")"

fetch_to "$HARNESS_TMP/got" "http://$HOST_V4/1k.bin" || fail "GET after the injection failed"
assert_same_file "$HARNESS_TMP/got" "$HTTP_ROOT/1k.bin" "1k.bin after the injection"
fetch_to "$HARNESS_TMP/got" "http://[$HOST_V6]/1k.bin" || fail "IPv6 GET after the injection failed"

# Last (so everything above is checked first): SYNs that lwIP drops as malformed (bad TCP
# checksum, data offset < 5) must not make the tunnel ask the proxy for a connection: that
# would reach the real destination on behalf of a packet nobody sent correctly.
before=$(tunnel_counters)
out=$(in_app timeout 30 python3 "$injector" "${common[@]}" --phase badsyn --seconds 20) ||
  fail "bad-SYN injection failed: $out"
log "bad SYNs: $out"
sleep 2
wait_counters_zero 30 tcp_active
after=$SETTLED_LINE
log "after bad SYNs: $after"
figure bad_syns_sent "$(json_field "$out" sent_total)"
figure bad_syns_tcp_opened "$(delta tcp_opened "$after")"
figure bad_syns_packets_malformed "$(delta packets_malformed "$after")"
(($(delta tcp_opened "$after") == 0)) ||
  fail "$(delta tcp_opened "$after") proxy connections opened for $(json_field "$out" sent_total) SYNs with a bad TCP checksum or data offset: $after"
stop_tunnel_ok_with_counters TERM
log "exit: $EXIT_COUNTERS"
log "PASS"
