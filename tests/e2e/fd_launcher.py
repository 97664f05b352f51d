#!/usr/bin/env python3
"""Stands in for tun2socks to test `--device fd://N`, the way an embedding program uses it:
creates and configures the TUN device named by --device itself, then execs the real binary
($T2S_REAL_BINARY) with the open descriptor as --device fd://N and the other flags unchanged.
With FD_LAUNCHER_VNET=1 the device has a virtio-net header and checksum offload, as virtual
machine and container runtimes set theirs up."""
import fcntl
import os
import struct
import subprocess
import sys

TUNSETIFF = 0x400454CA
TUNSETOFFLOAD = 0x400454D0
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
TUN_F_CSUM = 0x01


def flag_value(args, name):
    return args[args.index(name) + 1] if name in args else None


def main():
    args = sys.argv[1:]
    name = flag_value(args, "--device")
    vnet = os.environ.get("FD_LAUNCHER_VNET") == "1"
    fd = os.open("/dev/net/tun", os.O_RDWR)
    flags = IFF_TUN | IFF_NO_PI | (IFF_VNET_HDR if vnet else 0)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), flags))
    if vnet:
        fcntl.ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM)
    subprocess.run(["ip", "link", "set", "dev", name, "mtu", flag_value(args, "--mtu") or "1500",
                    "up"], check=True)
    subprocess.run(["ip", "addr", "add", flag_value(args, "--address"), "dev", name], check=True)
    subprocess.run(["ip", "-6", "addr", "add", flag_value(args, "--address6"), "dev", name,
                    "nodad"], check=True)
    os.set_inheritable(fd, True)
    args[args.index("--device") + 1] = f"fd://{fd}"
    binary = os.environ["T2S_REAL_BINARY"]
    os.execv(binary, [binary] + args)


if __name__ == "__main__":
    main()
