#!/usr/bin/env python3
"""Raw HTTP clients for the live view's server (--stats-listen), run in the app namespace.

  status HOST PORT [--send-hex HEX | --send TEXT]  sends the bytes, prints the status code
  slowloris HOST PORT N SECONDS                     N clients trickle one header byte a second;
                                                    prints JSON: how many the server closed
"""
import argparse
import json
import socket
import sys
import time


def status(args):
    payload = bytes.fromhex(args.send_hex) if args.send_hex else args.send.encode().decode(
        "unicode_escape").encode("latin-1")
    with socket.create_connection((args.host, args.port), timeout=15) as sock:
        try:
            sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading everything
        data = b""
        try:
            while b"\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
    line = data.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ")
    print(parts[1] if len(parts) > 1 and line.startswith("HTTP/1.1") else "none:" + line)


def slowloris(args):
    clients = []
    for _ in range(args.n):
        sock = socket.create_connection((args.host, args.port), timeout=5)
        sock.sendall(b"GET /metrics HTTP/1.1\r\n")
        sock.setblocking(False)
        clients.append(sock)
    closed = 0
    deadline = time.monotonic() + args.seconds
    open_clients = list(clients)
    while open_clients and time.monotonic() < deadline:
        still = []
        for sock in open_clients:
            try:
                sock.send(b"X")  # one byte of a header that never ends
                if sock.recv(4096) == b"":
                    closed += 1
                    continue
            except BlockingIOError:
                pass
            except (BrokenPipeError, ConnectionResetError):
                closed += 1
                continue
            still.append(sock)
        open_clients = still
        time.sleep(1)
    for sock in clients:
        sock.close()
    print(json.dumps({"clients": args.n, "closed_by_server": closed}))


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("status")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--send", default="GET / HTTP/1.1\\r\\n\\r\\n")
    p.add_argument("--send-hex")
    p = sub.add_parser("slowloris")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("n", type=int)
    p.add_argument("seconds", type=float)
    args = parser.parse_args()
    {"status": status, "slowloris": slowloris}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
