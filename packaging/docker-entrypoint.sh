#!/bin/sh
# Container entrypoint: makes sure /dev/net/tun exists, then runs tun2socks, which reads its
# settings from TUN2SOCKS_* variables itself. Unless TUN2SOCKS_AUTO_ROUTE says otherwise, all
# traffic of the container's network namespace is routed into the tunnel (--auto-route), and
# removed again when the container stops.
set -eu

if [ ! -c /dev/net/tun ]; then
  mkdir -p /dev/net
  if ! mknod -m 0600 /dev/net/tun c 10 200 2>/dev/null; then
    echo "docker-entrypoint: no /dev/net/tun; run with --device /dev/net/tun --cap-add NET_ADMIN" >&2
    exit 1
  fi
fi

: "${TUN2SOCKS_AUTO_ROUTE:=true}"
export TUN2SOCKS_AUTO_ROUTE
exec tun2socks "$@"
