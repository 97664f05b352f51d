#!/usr/bin/env python3
"""UDP peer for the tun2socks end-to-end tests and the benchmark.

server (net namespace): echoes every datagram (up to 65507 bytes) back to its sender on each
  --listen ADDRESS (port --port). A datagram that starts with b"CONE " is not echoed: the
  server answers it once from a second socket, bound to the --cone address of the same family
  (port --cone-port), with b"CONE-REPLY " + the rest of the datagram. That reply comes from a
  host and port the app never sent to: only a full-cone relay delivers it.

Clients (app namespace, so their traffic goes through the tunnel); each prints one JSON object
on stdout and exits 1 when a check fails:

  echo      one socket; datagrams of --sizes bytes must come back byte for byte
  fullcone  sends CONE to --host and must receive the reply from --expect-host:--expect-port
  flows N   N sockets at once, one request/response each; every one must be answered
  flood N   one datagram from each of N distinct source ports (bound explicitly)
  refused   a connected socket sends; recv must raise ConnectionRefusedError within --timeout
  burst     --rounds rounds on one socket: each sends --window datagrams back to back (lengths
            drawn from --sizes, so runs of equal length and shorter ones mix), then every reply
            must come back byte for byte (sequence number inside), none lost or stray
  rr        request/response transactions per second over --flows sockets (benchmark); with
            --socks HOST:PORT it speaks SOCKS5 UDP ASSOCIATE itself (no tunnel baseline); with
            --check every reply must be its request byte for byte (sequence number and the
            socket's token inside), none lost or stray
"""

import argparse
import ipaddress
import json
import os
import random
import resource
import selectors
import signal
import socket
import struct
import sys
import threading
import time

MAX_DATAGRAM = 65507
SOCK_BUF = 4 << 20
CONE_TAG = b"CONE "
CONE_REPLY = b"CONE-REPLY "


def family_of(host):
    return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET


def tune(sock):
    for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt, SOCK_BUF)
        except OSError:
            pass


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))


def same_endpoint(addr, host, port):
    return ipaddress.ip_address(addr[0]) == ipaddress.ip_address(host) and addr[1] == port


def emit(result):
    print(json.dumps(result), flush=True)
    return 0 if result.get("ok") else 1


# ----------------------------------------------------------------------------------- server

def run_server(args):
    sel = selectors.DefaultSelector()
    cone = {}
    for host in args.listen:
        s = socket.socket(family_of(host), socket.SOCK_DGRAM)
        tune(s)
        s.bind((host, args.port))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    for host in args.cone:
        s = socket.socket(family_of(host), socket.SOCK_DGRAM)
        tune(s)
        s.bind((host, args.cone_port))
        cone[family_of(host)] = s
    print("udp_peer server on %s port %d (cone %s port %d)"
          % (args.listen, args.port, args.cone, args.cone_port), file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    buf = bytearray(MAX_DATAGRAM + 1)
    view = memoryview(buf)
    while True:
        for key, _ in sel.select():
            sock = key.fileobj
            # Drain what is queued, so a flood does not cost one select per datagram.
            for _ in range(256):
                try:
                    n, peer = sock.recvfrom_into(buf)
                except BlockingIOError:
                    break
                except OSError as exc:
                    if args.verbose:
                        print("udp_peer server: recv: %r" % exc, file=sys.stderr, flush=True)
                    break
                try:
                    if view[:len(CONE_TAG)] == CONE_TAG and sock.family in cone:
                        cone[sock.family].sendto(CONE_REPLY + bytes(view[len(CONE_TAG):n]), peer)
                        if args.verbose:
                            print("udp_peer server: cone reply to %s" % (peer,), file=sys.stderr,
                                  flush=True)
                    else:
                        sock.sendto(view[:n], peer)
                except OSError as exc:
                    if args.verbose:
                        print("udp_peer server: send to %s: %r" % (peer, exc), file=sys.stderr,
                              flush=True)


# ----------------------------------------------------------------------------------- clients

def new_socket(host, port=0):
    s = socket.socket(family_of(host), socket.SOCK_DGRAM)
    tune(s)
    if port:
        s.bind(("::" if s.family == socket.AF_INET6 else "0.0.0.0", port))
    return s


def exchange(sock, target, payload, timeout, attempts):
    """Sends payload to target until the same bytes come back from target; returns the
    number of attempts used, or 0 if none was answered."""
    for attempt in range(1, attempts + 1):
        sock.sendto(payload, target)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            try:
                data, peer = sock.recvfrom(MAX_DATAGRAM + 1)
            except socket.timeout:
                break
            if data == payload and same_endpoint(peer, target[0], target[1]):
                return attempt
    return 0


def run_echo(args):
    target = (args.host, args.port)
    sock = new_socket(args.host)
    rng = random.Random(args.seed)
    results = []
    ok = True
    for size in args.sizes:
        payload = rng.randbytes(size)
        t0 = time.monotonic()
        attempts = exchange(sock, target, payload, args.timeout, args.attempts)
        ms = round((time.monotonic() - t0) * 1000, 1)
        results.append({"size": size, "attempts": attempts, "ms": ms})
        ok = ok and attempts > 0
    return emit({"ok": ok, "target": "%s:%d" % target, "local_port": sock.getsockname()[1],
                 "results": results})


def run_burst(args):
    target = (args.host, args.port)
    sock = new_socket(args.host)
    rng = random.Random(args.seed)
    sent = received = lost = stray = 0
    for round_no in range(args.rounds):
        pending = {}
        for _ in range(args.window):
            size = max(8, rng.choice(args.sizes))
            payload = struct.pack("!Q", sent) + bytes((sent + i) & 0xFF for i in range(size - 8))
            pending[payload[:8]] = payload
            sock.sendto(payload, target)
            sent += 1
        deadline = time.monotonic() + args.timeout
        while pending and time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data, peer = sock.recvfrom(MAX_DATAGRAM + 1)
            except socket.timeout:
                break
            if pending.get(data[:8]) == data and same_endpoint(peer, target[0], target[1]):
                del pending[data[:8]]
                received += 1
            else:
                stray += 1
        lost += len(pending)
        if lost or stray:
            break
    return emit({"ok": lost == 0 and stray == 0 and received == sent, "sent": sent,
                 "received": received, "lost": lost, "stray": stray})


def run_fullcone(args):
    target = (args.host, args.port)
    sock = new_socket(args.host)
    token = b"%d-%d" % (os.getpid(), random.getrandbits(32))
    want = CONE_REPLY + token
    got_from = None
    deadline = time.monotonic() + args.timeout * args.attempts
    sends = 0
    while got_from is None and time.monotonic() < deadline:
        sock.sendto(CONE_TAG + token, target)
        sends += 1
        resend_at = time.monotonic() + args.timeout
        while time.monotonic() < min(resend_at, deadline):
            sock.settimeout(max(0.01, min(resend_at, deadline) - time.monotonic()))
            try:
                data, peer = sock.recvfrom(MAX_DATAGRAM + 1)
            except socket.timeout:
                break
            if data == want:
                got_from = peer
                break
    ok = got_from is not None and same_endpoint(got_from, args.expect_host, args.expect_port)
    # The flow still works the ordinary way afterwards.
    echo_ok = exchange(sock, target, b"after-cone " + token, args.timeout, args.attempts) > 0
    return emit({"ok": ok and echo_ok, "sends": sends, "reply_from": got_from and list(got_from[:2]),
                 "expected_from": [args.expect_host, args.expect_port], "echo_after": echo_ok})


def run_flows(args):
    raise_nofile(args.count + 256)
    target = (args.host, args.port)
    socks = []
    sel = selectors.DefaultSelector()
    for i in range(args.count):
        s = new_socket(args.host)
        s.setblocking(False)
        socks.append(s)
        sel.register(s, selectors.EVENT_READ, i)
    payloads = [b"flow %d %d" % (i, random.getrandbits(48)) for i in range(args.count)]
    pending = set(range(args.count))
    sends = 0
    t0 = time.monotonic()
    deadline = t0 + args.seconds
    while pending and time.monotonic() < deadline:
        for i in sorted(pending):
            try:
                socks[i].sendto(payloads[i], target)
                sends += 1
            except BlockingIOError:
                pass
        resend_at = min(deadline, time.monotonic() + args.timeout)
        while pending and time.monotonic() < resend_at:
            for key, _ in sel.select(max(0.01, resend_at - time.monotonic())):
                i = key.data
                try:
                    while True:
                        data, peer = socks[i].recvfrom(MAX_DATAGRAM + 1)
                        if data == payloads[i] and same_endpoint(peer, *target):
                            pending.discard(i)
                except BlockingIOError:
                    pass
    elapsed = round(time.monotonic() - t0, 2)
    answered = args.count - len(pending)
    return emit({"ok": not pending, "flows": args.count, "answered": answered,
                 "sends": sends, "resends": sends - args.count, "seconds": elapsed})


def run_flood(args):
    target = (args.host, args.port)
    t0 = time.monotonic()
    deadline = t0 + args.seconds
    sent = 0
    busy = errors = 0
    first_error = None
    port = args.base_port
    per_ms = max(1, args.rate // 1000)
    while sent < args.count and port <= 65535 and time.monotonic() < deadline:
        s = new_socket(args.host)
        try:
            s.bind(("::" if s.family == socket.AF_INET6 else "0.0.0.0", port))
        except OSError:
            busy += 1
            s.close()
            port += 1
            continue
        port += 1
        try:
            s.sendto(b"flood %d" % sent, target)
            sent += 1
        except OSError as exc:
            errors += 1
            first_error = first_error or repr(exc)
            if errors >= 100:  # no route any more (the tunnel is gone?): stop
                s.close()
                break
        s.close()
        if sent % per_ms == 0:
            # Pace to about --rate datagrams per second.
            ahead = t0 + sent / args.rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    elapsed = round(time.monotonic() - t0, 2)
    return emit({"ok": sent == args.count, "sent": sent, "send_errors": errors,
                 "first_error": first_error, "ports_in_use_skipped": busy,
                 "first_port": args.base_port, "last_port": port - 1, "seconds": elapsed})


def run_refused(args):
    sock = new_socket(args.host)
    sock.connect((args.host, args.port))
    t0 = time.monotonic()
    outcome = "timeout"
    sock.send(b"anyone there?")
    sock.settimeout(args.timeout)
    try:
        sock.recv(MAX_DATAGRAM + 1)
        outcome = "answered"
    except ConnectionRefusedError:
        outcome = "refused"
    except socket.timeout:
        pass
    except OSError as exc:
        outcome = "error: %r" % exc
    ms = round((time.monotonic() - t0) * 1000, 1)
    return emit({"ok": outcome == "refused", "outcome": outcome, "ms": ms})


# ---------------------------------------------------------------------------- benchmark (rr)

class Socks5Udp:
    """Minimal SOCKS5 UDP ASSOCIATE client (no authentication), for the no-tunnel baseline."""

    def __init__(self, proxy_host, proxy_port, family):
        self.control = socket.create_connection((proxy_host, proxy_port), timeout=10)
        self.control.sendall(b"\x05\x01\x00")
        if self._read(2) != b"\x05\x00":
            raise ConnectionError("proxy refused no-auth")
        self.control.sendall(b"\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00")
        head = self._read(4)
        if head[1] != 0:
            raise ConnectionError("UDP ASSOCIATE rejected: %d" % head[1])
        if head[3] == 1:
            host = socket.inet_ntop(socket.AF_INET, self._read(4))
        elif head[3] == 4:
            host = socket.inet_ntop(socket.AF_INET6, self._read(16))
        else:
            raise ConnectionError("unexpected relay address type %d" % head[3])
        port = struct.unpack("!H", self._read(2))[0]
        if ipaddress.ip_address(host).is_unspecified:
            host = proxy_host
        self.relay = (host, port)
        self.sock = socket.socket(family_of(host), socket.SOCK_DGRAM)
        tune(self.sock)
        self.family = family

    def _read(self, n):
        data = b""
        while len(data) < n:
            piece = self.control.recv(n - len(data))
            if not piece:
                raise ConnectionError("proxy closed the control connection")
            data += piece
        return data

    def header(self, target):
        if self.family == socket.AF_INET6:
            return b"\x00\x00\x00\x04" + socket.inet_pton(socket.AF_INET6, target[0]) + \
                struct.pack("!H", target[1])
        return b"\x00\x00\x00\x01" + socket.inet_pton(socket.AF_INET, target[0]) + \
            struct.pack("!H", target[1])


def rr_worker(args, index, stop_at, out):
    target = (args.host, args.port)
    done = lost = misdelivered = 0
    error = None
    # With --check every request carries this socket's own token, so a reply that reached the
    # wrong socket, or answers another request, cannot pass for the right one.
    token = os.urandom(6).hex().encode()
    try:
        if args.socks:
            phost, pport = args.socks.rsplit(":", 1)
            assoc = Socks5Udp(phost, int(pport), family_of(args.host))
            sock, dest, prefix = assoc.sock, assoc.relay, assoc.header(target)
        else:
            sock, dest, prefix = new_socket(args.host), target, b""
        sock.settimeout(args.timeout)
        seq = 0
        while time.monotonic() < stop_at and (not args.max_per_flow or seq < args.max_per_flow):
            seq += 1
            body = (b"%d %d %s " % (index, seq, token)).ljust(args.size, b"x")
            sock.sendto(prefix + body, dest)
            try:
                while True:
                    reply, peer = sock.recvfrom(MAX_DATAGRAM + 1)
                    if args.check:  # exactly the request, from where it went
                        if reply == body and same_endpoint(peer, target[0], target[1]):
                            done += 1
                            break
                        misdelivered += 1
                    elif reply.endswith(body):  # a late answer to a timed-out request is skipped
                        done += 1
                        break
            except socket.timeout:
                lost += 1
    except Exception as exc:  # reported, not raised: the other workers keep going
        error = repr(exc)
    out[index] = (done, lost, misdelivered, error)


def run_rr(args):
    raise_nofile(2 * args.flows + 256)
    out = [None] * args.flows
    t0 = time.monotonic()
    stop_at = t0 + args.seconds
    threads = [threading.Thread(target=rr_worker, args=(args, i, stop_at, out), daemon=True)
               for i in range(args.flows)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(args.seconds + args.timeout + 15)
    elapsed = time.monotonic() - t0
    done = sum(r[0] for r in out if r)
    lost = sum(r[1] for r in out if r)
    misdelivered = sum(r[2] for r in out if r)
    errors = [r[3] for r in out if r and r[3]]
    unfinished = sum(1 for r in out if r is None)
    ok = not errors and not unfinished and done > 0
    if args.check:
        ok = ok and lost == 0 and misdelivered == 0 and all(r[0] > 0 for r in out)
    return emit({"ok": ok, "flows": args.flows, "transactions": done,
                 "timeouts": lost, "misdelivered": misdelivered, "unfinished": unfinished,
                 "seconds": round(elapsed, 3), "per_s": round(done / elapsed, 1),
                 "first_error": errors[0] if errors else None})


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)

    s = sub.add_parser("server")
    s.add_argument("--listen", action="append", required=True)
    s.add_argument("--port", type=int, default=7777)
    s.add_argument("--cone", action="append", default=[])
    s.add_argument("--cone-port", type=int, default=7778)
    s.add_argument("--verbose", action="store_true")

    def client(name):
        c = sub.add_parser(name)
        c.add_argument("--host", required=True)
        c.add_argument("--port", type=int, default=7777)
        c.add_argument("--timeout", type=float, default=2.0,
                       help="seconds to wait for an answer before resending")
        return c

    c = client("echo")
    c.add_argument("--sizes", type=lambda v: [int(x) for x in v.split(",")], default=[1, 1400, 8192])
    c.add_argument("--attempts", type=int, default=3)
    c.add_argument("--seed", type=int, default=7)
    c = client("fullcone")
    c.add_argument("--expect-host", required=True)
    c.add_argument("--expect-port", type=int, default=7778)
    c.add_argument("--attempts", type=int, default=3)
    c = client("flows")
    c.add_argument("count", type=int)
    c.add_argument("--seconds", type=float, default=30)
    c = client("flood")
    c.add_argument("count", type=int)
    c.add_argument("--base-port", type=int, default=20000)
    c.add_argument("--rate", type=int, default=5000, help="datagrams per second")
    c.add_argument("--seconds", type=float, default=30)
    c = client("refused")
    c = client("burst")
    c.add_argument("--rounds", type=int, default=100)
    c.add_argument("--window", type=int, default=16)
    c.add_argument("--sizes", type=lambda v: [int(x) for x in v.split(",")], default=[1400])
    c.add_argument("--seed", type=int, default=7)
    c = client("rr")
    c.add_argument("--flows", type=int, default=1)
    c.add_argument("--seconds", type=float, default=10)
    c.add_argument("--size", type=int, default=64)
    c.add_argument("--socks", default="")
    c.add_argument("--check", action="store_true",
                   help="every reply must be exactly its request, from --host:--port; any timeout, "
                        "stray reply or idle socket fails the run")
    c.add_argument("--max-per-flow", type=int, default=0,
                   help="stop a socket after this many requests (0: only --seconds bounds it)")

    args = p.parse_args()
    if args.mode == "server":
        return run_server(args)
    if args.mode in ("echo", "burst") and max(args.sizes) > MAX_DATAGRAM:
        p.error("sizes must be <= %d" % MAX_DATAGRAM)
    return {"echo": run_echo, "fullcone": run_fullcone, "flows": run_flows, "flood": run_flood,
            "refused": run_refused, "rr": run_rr, "burst": run_burst}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
