#!/usr/bin/env python3
"""TCP peer for the tun2socks end-to-end tests and the benchmark.

One dual-stack server (run in the "net" namespace) and several clients (run in the "app"
namespace, so that their traffic goes through the tunnel or proxychains). Every connection
starts with a one-line header from the client that selects what the server does:

  sink                     server reads until EOF, replies "<sha256hex> <count>\\n", closes
  source N SEED            server sends N pattern bytes (seeded), then closes
  halfclose N SEED DELAY   server reads until EOF, replies "<sha256hex> <count>\\n", waits
                           DELAY ms, then sends N pattern bytes and closes
  echo                     server echoes everything until EOF, then closes

Clients verify counts and hashes and exit with status 1 on any mismatch. They print one JSON
object on stdout describing what they measured.
"""

import argparse
import hashlib
import json
import os
import random
import signal
import socket
import struct
import sys
import threading
import time

CHUNK = 1 << 20            # send/recv unit; must not exceed PATTERN_LEN
PATTERN_LEN = 1048583      # prime > CHUNK, so misplaced data at any realistic offset changes the hash
HEADER_MAX = 256
SOCK_BUF = 4 << 20


class Pattern:
    """Deterministic pseudo-random byte stream: byte k is base[k % PATTERN_LEN]."""

    _cache = {}

    def __init__(self, seed):
        doubled = Pattern._cache.get(seed)
        if doubled is None:
            base = random.Random(seed).randbytes(PATTERN_LEN)
            doubled = base + base
            Pattern._cache[seed] = doubled
        self.view = memoryview(doubled)

    def chunks(self, total, chunk=CHUNK):
        if chunk > PATTERN_LEN:
            raise ValueError("chunk larger than the pattern")
        offset = 0
        sent = 0
        while sent < total:
            n = min(chunk, total - sent)
            yield self.view[offset:offset + n]
            offset = (offset + n) % PATTERN_LEN
            sent += n

    def sha256(self, total):
        h = hashlib.sha256()
        for piece in self.chunks(total):
            h.update(piece)
        return h.hexdigest()


def announce_ready(path, count):
    """Writes how many connections are open to `path` at once (the harness polls for it)."""
    with open(path + ".tmp", "w") as f:
        f.write("%d\n" % count)
    os.rename(path + ".tmp", path)


def announce_and_hold(args, count):
    """Tells --ready-file, then keeps the connections for --hold-seconds or until SIGTERM."""
    if args.ready_file:
        announce_ready(args.ready_file, count)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    time.sleep(args.hold_seconds)


def tune(sock):
    for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt, SOCK_BUF)
        except OSError:
            pass


def read_line(sock, limit=HEADER_MAX):
    """Reads one '\\n'-terminated line byte-wise-safe: returns (line, leftover bytes)."""
    data = b""
    while b"\n" not in data:
        if len(data) > limit:
            raise ValueError("header line too long")
        piece = sock.recv(limit)
        if not piece:
            raise ConnectionError("EOF before end of line (got %r)" % data)
        data += piece
    line, _, rest = data.partition(b"\n")
    return line.decode("ascii", "replace").strip(), rest


def drain_hash(sock, already=b""):
    """Reads until EOF; returns (sha256hex, count)."""
    h = hashlib.sha256()
    h.update(already)
    count = len(already)
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    while True:
        n = sock.recv_into(buf)
        if n == 0:
            return h.hexdigest(), count
        h.update(view[:n])
        count += n


def send_pattern(sock, total, seed):
    for piece in Pattern(seed).chunks(total):
        sock.sendall(piece)


# ----------------------------------------------------------------------------------- server

def serve_connection(conn, peer, verbose):
    try:
        tune(conn)
        conn.settimeout(600)
        header, rest = read_line(conn)
        words = header.split()
        mode = words[0] if words else ""
        if mode == "sink":
            digest, count = drain_hash(conn, rest)
            conn.sendall(("%s %d\n" % (digest, count)).encode())
        elif mode == "source":
            send_pattern(conn, int(words[1]), int(words[2]))
        elif mode == "halfclose":
            total, seed, delay_ms = int(words[1]), int(words[2]), int(words[3])
            digest, count = drain_hash(conn, rest)
            conn.sendall(("%s %d\n" % (digest, count)).encode())
            time.sleep(delay_ms / 1000.0)
            send_pattern(conn, total, seed)
        elif mode == "echo":
            if rest:
                conn.sendall(rest)
            buf = bytearray(CHUNK)
            view = memoryview(buf)
            while True:
                n = conn.recv_into(buf)
                if n == 0:
                    break
                conn.sendall(view[:n])
        else:
            conn.sendall(b"error unknown mode\n")
        try:
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        # Wait for the client's close so our FIN is not followed by an RST on unread data.
        conn.settimeout(30)
        try:
            while conn.recv(65536):
                pass
        except OSError:
            pass
    except Exception as exc:  # one bad connection must not stop the server
        if verbose:
            print("tcp_peer server: %s: %r" % (peer, exc), file=sys.stderr, flush=True)
    finally:
        conn.close()


def run_server(args):
    threading.stack_size(512 * 1024)
    lsock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    tune(lsock)
    lsock.bind((args.bind, args.port))
    lsock.listen(4096)
    print("tcp_peer server listening on [%s]:%d" % (args.bind, args.port), file=sys.stderr,
          flush=True)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        conn, peer = lsock.accept()
        threading.Thread(target=serve_connection, args=(conn, peer, args.verbose),
                         daemon=True).start()


def run_httpd(args):
    """Minimal HTTP/1.0 server for connection-rate measurements: every request gets the same
    file and the connection is closed. asyncio, one process per --workers (SO_REUSEPORT)."""
    import asyncio

    with open(args.file, "rb") as f:
        body = f.read()
    response = (b"HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)) + body

    async def handle(reader, writer):
        try:
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            writer.write(response)
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                asyncio.TimeoutError):
            pass
        finally:
            writer.close()

    def listener():
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((args.bind, args.port))
        sock.listen(4096)
        return sock

    async def serve(sock):
        server = await asyncio.start_server(handle, sock=sock, backlog=4096)
        async with server:
            await server.serve_forever()

    socks = [listener() for _ in range(args.workers)]  # all bound before anyone forks
    children = []
    for sock in socks[1:]:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
            asyncio.run(serve(sock))
            os._exit(0)
        children.append(pid)

    def stop(*_):
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    print("tcp_peer httpd listening on [%s]:%d, %d worker(s)"
          % (args.bind, args.port, args.workers), file=sys.stderr, flush=True)
    try:
        asyncio.run(serve(socks[0]))
    finally:
        stop()


# ----------------------------------------------------------------------------------- clients

def connect(args, timeout=30.0):
    sock = socket.create_connection((args.host, args.port), timeout=timeout)
    tune(sock)
    sock.settimeout(args.io_timeout)
    return sock


def die(msg):
    print("tcp_peer: FAIL: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def emit(result):
    print(json.dumps(result), flush=True)


def parse_reply(line):
    words = line.split()
    if len(words) != 2:
        die("malformed server reply %r" % line)
    return words[0], int(words[1])


def client_sink(args):
    start = time.monotonic()
    sock = connect(args)
    sock.sendall(b"sink\n")
    h = hashlib.sha256()
    for piece in Pattern(args.seed).chunks(args.bytes):
        sock.sendall(piece)
        h.update(piece)
    sock.shutdown(socket.SHUT_WR)
    reply, _ = read_line(sock)
    elapsed = time.monotonic() - start
    sock.close()
    digest, count = parse_reply(reply)
    if count != args.bytes:
        die("sink: server received %d bytes, sent %d" % (count, args.bytes))
    if digest != h.hexdigest():
        die("sink: server sha256 %s != sent sha256 %s" % (digest, h.hexdigest()))
    emit({"mode": "sink", "bytes": count, "sha256": digest, "seconds": round(elapsed, 3),
          "ok": True})


def client_source(args):
    start = time.monotonic()
    sock = connect(args)
    sock.sendall(("source %d %d\n" % (args.bytes, args.seed)).encode())
    digest, count = drain_hash(sock)
    elapsed = time.monotonic() - start
    sock.close()
    expected = Pattern(args.seed).sha256(args.bytes)
    if count != args.bytes:
        die("source: received %d bytes, expected %d" % (count, args.bytes))
    if digest != expected:
        die("source: received sha256 %s != expected %s" % (digest, expected))
    emit({"mode": "source", "bytes": count, "sha256": digest, "seconds": round(elapsed, 3),
          "ok": True})


def client_halfclose(args):
    sock = connect(args)
    sock.sendall(("halfclose %d %d %d\n" % (args.bytes, args.seed, args.delay_ms)).encode())
    up_seed = args.seed + 1
    sock.sendall(b"".join(Pattern(up_seed).chunks(args.upload)))
    sock.shutdown(socket.SHUT_WR)
    shut_at = time.monotonic()
    reply, rest = read_line(sock)
    up_digest, up_count = parse_reply(reply)
    if up_count != args.upload or up_digest != Pattern(up_seed).sha256(args.upload):
        die("halfclose: server got %d bytes (sha %s) of the %d sent before shutdown"
            % (up_count, up_digest, args.upload))
    digest, count = drain_hash(sock, rest)
    after = time.monotonic() - shut_at
    sock.close()
    if count != args.bytes:
        die("halfclose: received %d bytes after shutting the write side, expected %d"
            % (count, args.bytes))
    if digest != Pattern(args.seed).sha256(args.bytes):
        die("halfclose: data received after shutdown has a wrong sha256")
    emit({"mode": "halfclose", "uploaded": up_count, "bytes": count,
          "seconds_after_shutdown": round(after, 3), "ok": True})


def client_echo(args):
    sock = connect(args)
    sock.sendall(b"echo\n")
    payload = b"".join(Pattern(args.seed).chunks(args.bytes))
    sender = threading.Thread(target=lambda: (sock.sendall(payload),
                                              sock.shutdown(socket.SHUT_WR)))
    sender.start()
    digest, count = drain_hash(sock)
    sender.join()
    sock.close()
    if count != args.bytes or digest != hashlib.sha256(payload).hexdigest():
        die("echo: got %d bytes back (sha %s), sent %d" % (count, digest, args.bytes))
    emit({"mode": "echo", "bytes": count, "ok": True})


def client_concurrent(args):
    """N connections open at once (a barrier holds them all), each an echo round trip."""
    n = args.conns
    barrier = threading.Barrier(n)
    errors = []
    done = []
    lock = threading.Lock()

    def one(index):
        try:
            sock = connect(args)
            try:
                sock.sendall(b"echo\n")
                barrier.wait(timeout=args.barrier_timeout)
                payload = b"".join(Pattern(1000 + index).chunks(args.bytes))
                sock.sendall(payload)
                got = bytearray()
                while len(got) < len(payload):
                    piece = sock.recv(65536)
                    if not piece:
                        raise ConnectionError("EOF after %d of %d echoed bytes"
                                              % (len(got), len(payload)))
                    got += piece
                if bytes(got) != payload:
                    raise ValueError("echoed data differs")
                sock.shutdown(socket.SHUT_WR)
                if sock.recv(1) != b"":
                    raise ValueError("extra data after echo")
            finally:
                sock.close()
            with lock:
                done.append(index)
        except threading.BrokenBarrierError:
            with lock:
                errors.append("conn %d: barrier broken (not all connections opened)" % index)
        except Exception as exc:
            barrier.abort()
            with lock:
                errors.append("conn %d: %r" % (index, exc))

    threading.stack_size(512 * 1024)
    start = time.monotonic()
    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    deadline = start + args.deadline
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    elapsed = time.monotonic() - start
    alive = sum(t.is_alive() for t in threads)
    with lock:
        result = {"mode": "concurrent", "conns": n, "ok_conns": len(done),
                  "failed": len(errors), "unfinished": alive, "seconds": round(elapsed, 3)}
        first_errors = errors[:5]
    emit(result)
    if len(done) != n:
        die("concurrent: %d/%d connections completed (%d unfinished); first errors: %s"
            % (len(done), n, alive, "; ".join(first_errors)))
    os._exit(0)


def client_hold(args):
    """Opens N echo connections, verifies each, writes the ready file, then holds them.
    --plain: the server is a plain echo server (aecho), so no header line is sent."""
    socks = []
    start = time.monotonic()
    for i in range(args.conns):
        try:
            sock = socket.create_connection((args.host, args.port), timeout=30)
            sock.settimeout(args.io_timeout)
            sock.sendall(b"x" if args.plain else b"echo\nx")
            if sock.recv(1) != b"x":
                die("hold: connection %d did not echo" % i)
        except OSError as exc:
            die("hold: connection %d failed: %r" % (i, exc))
        socks.append(sock)
    opened = time.monotonic() - start
    emit({"mode": "hold", "conns": len(socks), "open_seconds": round(opened, 3)})
    announce_and_hold(args, len(socks))
    for s in socks:
        s.close()


def client_httpget(args):
    """Sequential HTTP/1.0 GETs, a new connection each, for a fixed time."""
    request = ("GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" % (args.path, args.host)).encode()
    ok = failed = 0
    first_error = None
    start = time.monotonic()
    deadline = start + args.seconds
    while time.monotonic() < deadline:
        try:
            sock = socket.create_connection((args.host, args.port), timeout=5)
            try:
                sock.settimeout(5)
                sock.sendall(request)
                data = bytearray()
                while True:
                    piece = sock.recv(65536)
                    if not piece:
                        break
                    data += piece
            finally:
                sock.close()
            head, _, body = bytes(data).partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.") or b" 200 " not in head.split(b"\r\n")[0]:
                raise ValueError("bad status %r" % head[:40])
            if args.expect_size >= 0 and len(body) != args.expect_size:
                raise ValueError("body %d bytes, expected %d" % (len(body), args.expect_size))
            ok += 1
        except Exception as exc:
            failed += 1
            if first_error is None:
                first_error = repr(exc)
            if failed > args.max_failures:
                break
    elapsed = time.monotonic() - start
    emit({"mode": "httpget", "ok": ok, "failed": failed, "seconds": round(elapsed, 3),
          "per_second": round(ok / elapsed, 1) if elapsed > 0 else 0.0,
          "first_error": first_error})
    if failed > args.max_failures:
        sys.exit(1)


# ------------------------------------------------------------------- fault-injection helpers

def run_blackhole(args):
    """A "proxy" that accepts TCP connections and never sends a byte (server, net namespace).
    Holds at most --max-conns connections; exits after --seconds."""
    import selectors
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((args.bind, args.port))
    lsock.listen(4096)
    lsock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ, None)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print("tcp_peer blackhole listening on %s:%d" % (args.bind, args.port), file=sys.stderr,
          flush=True)
    held = {}
    accepted = 0
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        for key, _ in sel.select(1.0):
            if key.data is None:
                try:
                    conn, _ = lsock.accept()
                except OSError:
                    continue
                accepted += 1
                if len(held) >= args.max_conns:
                    conn.close()
                    continue
                conn.setblocking(False)
                held[conn.fileno()] = conn
                sel.register(conn, selectors.EVENT_READ, "conn")
                if args.verbose:
                    print("blackhole: accepted #%d (%d held)" % (accepted, len(held)),
                          file=sys.stderr, flush=True)
            else:
                conn = key.fileobj
                try:
                    data = conn.recv(65536)   # read (and ignore) whatever the client sends
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(conn)
                    held.pop(conn.fileno(), None)
                    conn.close()


def run_trickle(args):
    """A minimal no-auth SOCKS5 server (CONNECT only, server, net namespace) that writes its
    answer (method selection and reply together) in pieces: --chunks sizes, --gap-ms apart,
    then relays both ways. A CONNECT to 0.0.0.0 (the tunnel's pipelining probe) gets reply 4
    at once. --greet-first answers the greeting at once (the pieces are then the reply alone).
    With --drop-idle-ms N, a greeting that comes more than N ms after the accept, or a request
    more than N ms after the answer to the greeting, is met with a close, as when a proxy's
    negotiation timeout strikes just as the client speaks (logged). Exits after --seconds."""
    chunks = [int(x) for x in args.chunks.split(",")]

    def recv_exact(conn, n):
        data = b""
        while len(data) < n:
            piece = conn.recv(n - len(data))
            if not piece:
                raise ValueError("client closed during the handshake")
            data += piece
        return data

    def pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def handle(conn):
        def idle_too_long(since, what):
            waited_ms = (time.monotonic() - since) * 1000
            if args.drop_idle_ms and waited_ms > args.drop_idle_ms:
                print("tcp_peer trickle: dropped a connection idle for %d ms %s" % (waited_ms, what),
                      file=sys.stderr, flush=True)
                return True
            return False

        with conn:
            accepted = time.monotonic()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            head = recv_exact(conn, 2)
            if idle_too_long(accepted, "before its greeting"):
                return
            recv_exact(conn, head[1])  # the offered methods; "no authentication" is assumed
            greeted = time.monotonic()
            if args.greet_first:
                conn.sendall(b"\x05\x00")
            ver, cmd, _, atyp = recv_exact(conn, 4)
            if idle_too_long(greeted, "before its request"):
                return
            if ver != 5 or cmd != 1 or atyp not in (1, 4):
                return
            host = socket.inet_ntop(socket.AF_INET if atyp == 1 else socket.AF_INET6,
                                    recv_exact(conn, 4 if atyp == 1 else 16))
            port = struct.unpack("!H", recv_exact(conn, 2))[0]
            if host == "0.0.0.0":
                conn.sendall((b"" if args.greet_first else b"\x05\x00") + b"\x05\x04\x00\x01" +
                             bytes(6))
                return
            upstream = socket.create_connection((host, port), timeout=5)
            upstream.settimeout(None)
            answer = b"\x05\x00\x00\x01" + socket.inet_aton(args.bind) + b"\x04\x38"
            if not args.greet_first:
                answer = b"\x05\x00" + answer
            sent = 0
            for size in chunks:
                if sent:
                    time.sleep(args.gap_ms / 1000)
                conn.sendall(answer[sent:sent + size])
                sent += size
            conn.sendall(answer[sent:])
            back = threading.Thread(target=pump, args=(upstream, conn), daemon=True)
            back.start()
            pump(conn, upstream)
            back.join()
            upstream.close()

    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((args.bind, args.port))
    lsock.listen(64)
    lsock.settimeout(1.0)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print("tcp_peer trickle listening on %s:%d" % (args.bind, args.port), file=sys.stderr,
          flush=True)
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        try:
            conn, _ = lsock.accept()
        except socket.timeout:
            continue
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def client_connfail(args):
    """Opens --conns connections at once (non-blocking) and records how and when each ends:
    refused, reset, timed out (still pending at --deadline) or connected. Prints counts and the
    slowest failure; exits 1 unless every connection failed (refused or reset) in time."""
    import errno
    import resource
    import selectors
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.conns + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.conns + 64), hard))
    sel = selectors.DefaultSelector()
    start = time.monotonic()
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    outcome = {}
    for i in range(args.conns):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setblocking(False)
        err = s.connect_ex((args.host, args.port))
        if err not in (0, errno.EINPROGRESS):
            outcome[i] = ("error", errno.errorcode.get(err, str(err)), time.monotonic() - start)
            s.close()
            continue
        sel.register(s, selectors.EVENT_WRITE, i)
    deadline = start + args.deadline
    while len(sel.get_map()) and time.monotonic() < deadline:
        for key, _ in sel.select(max(0.0, min(0.2, deadline - time.monotonic()))):
            s, i = key.fileobj, key.data
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            now = time.monotonic() - start
            if err == 0:
                outcome[i] = ("connected", "", now)
            elif err == errno.ECONNREFUSED:
                outcome[i] = ("refused", "", now)
            elif err == errno.ECONNRESET:
                outcome[i] = ("reset", "", now)
            else:
                outcome[i] = ("error", errno.errorcode.get(err, str(err)), now)
            sel.unregister(s)
            s.close()
    pending = len(sel.get_map())
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    counts = {}
    for kind, _, _ in outcome.values():
        counts[kind] = counts.get(kind, 0) + 1
    failed_times = [t for kind, _, t in outcome.values() if kind in ("refused", "reset")]
    errors = sorted({detail for kind, detail, _ in outcome.values() if kind == "error"})
    result = {"mode": "connfail", "conns": args.conns, "refused": counts.get("refused", 0),
              "reset": counts.get("reset", 0), "connected": counts.get("connected", 0),
              "other_errors": counts.get("error", 0), "error_kinds": errors,
              "pending_at_deadline": pending,
              "min_fail_ms": round(min(failed_times) * 1000) if failed_times else None,
              "max_fail_ms": round(max(failed_times) * 1000) if failed_times else None,
              "seconds": round(time.monotonic() - start, 3)}
    result["ok"] = len(failed_times) == args.conns
    emit(result)
    if not result["ok"]:
        sys.exit(1)


def client_stall(args):
    """Opens --conns connections that ask the server for --bytes (source mode) and never read:
    tiny SO_RCVBUF set before connecting, then sleeps --hold-seconds and closes. Writes
    --ready-file once all are open."""
    socks = []
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    for i in range(args.conns):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, args.rcvbuf)
        s.settimeout(30)
        try:
            s.connect((args.host, args.port))
            s.sendall(("source %d %d\n" % (args.bytes, args.seed + i)).encode())
        except OSError as exc:
            die("stall: connection %d failed: %r" % (i, exc))
        socks.append(s)
    announce_and_hold(args, len(socks))
    # Something was received (the server did send), but only what fits the tiny buffers.
    queued = []
    for s in socks:
        try:
            queued.append(len(s.recv(1 << 20, socket.MSG_PEEK | socket.MSG_DONTWAIT)))
        except OSError:
            queued.append(-1)
    for s in socks:
        s.close()
    emit({"mode": "stall", "conns": len(socks), "rcvbuf": args.rcvbuf,
          "queued_bytes_peeked": queued, "ok": all(q > 0 for q in queued)})


def client_download(args):
    """Asks for --bytes (source mode) and checks every byte against the pattern as it arrives
    (no end-of-stream hashing, so a failure is reported the moment it happens). Prints how the
    stream ended: complete, eof (short), reset or error; exits 1 unless complete."""
    start = time.monotonic()
    sock = connect(args)
    sock.sendall(("source %d %d\n" % (args.bytes, args.seed)).encode())
    pattern = Pattern(args.seed).view
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    got = 0
    outcome = "complete"
    detail = ""
    try:
        while True:
            n = sock.recv_into(buf)
            if n == 0:
                break
            offset = got % PATTERN_LEN
            if view[:n] != pattern[offset:offset + n]:
                outcome, detail = "error", "wrong data at offset %d" % got
                break
            got += n
    except ConnectionResetError as exc:
        outcome, detail = "reset", repr(exc)
    except OSError as exc:
        outcome, detail = "error", repr(exc)
    sock.close()
    if outcome == "complete" and got != args.bytes:
        outcome = "eof"
        detail = "EOF after %d of %d bytes" % (got, args.bytes)
    emit({"mode": "download", "bytes": got, "outcome": outcome, "detail": detail,
          "seconds": round(time.monotonic() - start, 3), "ok": outcome == "complete"})
    if outcome != "complete":
        sys.exit(1)


def run_aecho(args):
    """Plain echo server (no header) for many connections at once: asyncio, 64 KiB reads, so
    10,000 idle connections cost little (the threaded server reserves 1 MiB per connection)."""
    import asyncio

    async def handle(reader, writer):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def serve():
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((args.bind, args.port))
        sock.listen(8192)
        server = await asyncio.start_server(handle, sock=sock, backlog=8192)
        async with server:
            await server.serve_forever()

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print("tcp_peer aecho listening on [%s]:%d" % (args.bind, args.port), file=sys.stderr,
          flush=True)
    asyncio.run(serve())


def client_many(args):
    """--conns connections to a plain echo server (aecho), one thread, non-blocking: opens them
    (at most --inflight connects pending at a time) until ALL are established and open at once,
    then sends --bytes on every one and reads them back, then closes all. Exits 1 unless every
    connection completed within --deadline."""
    import errno
    import resource
    import selectors
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.conns + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.conns + 64), hard))
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sel = selectors.DefaultSelector()
    start = time.monotonic()
    deadline = start + args.deadline
    socks = []
    connected = 0
    pending = 0
    errors = {}
    next_index = 0

    def note(kind):
        errors[kind] = errors.get(kind, 0) + 1

    # Phase 1: connect everything; nothing is closed until all are up.
    while (connected + sum(errors.values()) < args.conns) and time.monotonic() < deadline:
        while next_index < args.conns and pending < args.inflight:
            s = socket.socket(family, socket.SOCK_STREAM)
            s.setblocking(False)
            err = s.connect_ex((args.host, args.port))
            if err not in (0, errno.EINPROGRESS):
                note(errno.errorcode.get(err, str(err)))
                s.close()
            else:
                sel.register(s, selectors.EVENT_WRITE, next_index)
                pending += 1
            next_index += 1
        for key, _ in sel.select(0.2):
            s = key.fileobj
            sel.unregister(s)
            pending -= 1
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                note(errno.errorcode.get(err, str(err)))
                s.close()
            else:
                connected += 1
                socks.append(s)
    open_seconds = time.monotonic() - start
    all_open = connected == args.conns
    if args.ready_file and all_open:
        announce_ready(args.ready_file, connected)
    if all_open and args.hold_seconds > 0:
        time.sleep(args.hold_seconds)

    # Phase 2: one echo round trip on every connection.
    done = 0
    if all_open:
        want = {}
        for i, s in enumerate(socks):
            payload = (b"%d-" % i).ljust(args.bytes, b"x")
            want[s] = [payload, bytearray()]
            try:
                s.sendall(payload)  # small: fits the empty send buffer
            except OSError as exc:
                note(type(exc).__name__)
                continue
            sel.register(s, selectors.EVENT_READ)
        while sel.get_map() and time.monotonic() < deadline:
            for key, _ in sel.select(0.2):
                s = key.fileobj
                try:
                    piece = s.recv(65536)
                except OSError as exc:
                    piece = None
                    note(type(exc).__name__)
                if not piece:
                    if piece == b"":
                        note("EOF")
                    sel.unregister(s)
                    continue
                entry = want[s]
                entry[1] += piece
                if len(entry[1]) >= len(entry[0]):
                    sel.unregister(s)
                    if bytes(entry[1]) == entry[0]:
                        done += 1
                    else:
                        note("wrong echo")
    rr_seconds = time.monotonic() - start - open_seconds
    for s in socks:
        s.close()
    emit({"mode": "many", "conns": args.conns, "connected": connected, "all_open": all_open,
          "completed": done, "errors": errors, "open_seconds": round(open_seconds, 3),
          "echo_seconds": round(rr_seconds, 3), "ok": done == args.conns})
    if done != args.conns:
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("server")
    s.add_argument("--bind", default="::")
    s.add_argument("--port", type=int, default=7000)
    s.add_argument("--verbose", action="store_true")

    s = sub.add_parser("httpd")
    s.add_argument("--bind", default="::")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--file", required=True)
    s.add_argument("--workers", type=int, default=2)

    def client(name, **defaults):
        p = sub.add_parser(name)
        p.add_argument("--host", required=True)
        p.add_argument("--port", type=int, default=defaults.get("port", 7000))
        p.add_argument("--io-timeout", type=float, default=60.0)
        p.add_argument("--seed", type=int, default=7)
        p.add_argument("--bytes", type=int, default=defaults.get("bytes", 1 << 20))
        return p

    client("sink")
    client("source")
    p = client("halfclose")
    p.add_argument("--upload", type=int, default=64 * 1024)
    p.add_argument("--delay-ms", type=int, default=500)
    client("echo")
    p = client("concurrent", bytes=4096)
    p.add_argument("--conns", type=int, default=200)
    p.add_argument("--barrier-timeout", type=float, default=30.0)
    p.add_argument("--deadline", type=float, default=60.0)
    p = client("hold")
    p.add_argument("--conns", type=int, default=1000)
    p.add_argument("--ready-file")
    p.add_argument("--hold-seconds", type=float, default=120.0)
    p.add_argument("--plain", action="store_true")
    p = client("httpget", port=80)
    p.add_argument("--path", default="/1k.bin")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--expect-size", type=int, default=-1)
    p.add_argument("--max-failures", type=int, default=20)

    s = sub.add_parser("blackhole")
    s.add_argument("--bind", default="0.0.0.0")
    s.add_argument("--port", type=int, default=1083)
    s.add_argument("--max-conns", type=int, default=2000)
    s.add_argument("--seconds", type=float, default=600.0)
    s.add_argument("--verbose", action="store_true")
    s = sub.add_parser("trickle")
    s.add_argument("--bind", default="0.0.0.0")
    s.add_argument("--port", type=int, default=1084)
    s.add_argument("--chunks", default="2,3,4,1,1,1")
    s.add_argument("--gap-ms", type=int, default=100)
    s.add_argument("--greet-first", action="store_true")
    s.add_argument("--drop-idle-ms", type=int, default=0)
    s.add_argument("--seconds", type=float, default=600.0)
    p = client("connfail")
    p.add_argument("--conns", type=int, default=1)
    p.add_argument("--deadline", type=float, default=10.0)
    client("download")
    s = sub.add_parser("aecho")
    s.add_argument("--bind", default="::")
    s.add_argument("--port", type=int, default=7001)
    p = client("many", bytes=256)
    p.add_argument("--conns", type=int, default=1000)
    p.add_argument("--inflight", type=int, default=2000)
    p.add_argument("--deadline", type=float, default=100.0)
    p.add_argument("--hold-seconds", type=float, default=0.0)
    p.add_argument("--ready-file")
    p = client("stall")
    p.add_argument("--conns", type=int, default=1)
    p.add_argument("--rcvbuf", type=int, default=4096)
    p.add_argument("--ready-file")
    p.add_argument("--hold-seconds", type=float, default=15.0)

    args = ap.parse_args()
    handlers = {"server": run_server, "httpd": run_httpd, "sink": client_sink, "source": client_source,
                "halfclose": client_halfclose, "echo": client_echo,
                "concurrent": client_concurrent, "hold": client_hold,
                "httpget": client_httpget, "blackhole": run_blackhole, "trickle": run_trickle,
                "connfail": client_connfail, "stall": client_stall,
                "download": client_download, "aecho": run_aecho, "many": client_many}
    try:
        handlers[args.cmd](args)
    except (OSError, ValueError) as exc:
        die("%s: %r" % (args.cmd, exc))


if __name__ == "__main__":
    main()
