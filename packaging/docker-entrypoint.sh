#!/bin/sh
# Container entrypoint: makes sure /dev/net/tun exists, runs tun2socks (which reads its
# settings from TUN2SOCKS_* variables itself) and, with TUN2SOCKS_ROUTE_ALL=1, routes all
# traffic into the device once it is up, except the proxy's own address.
set -eu

if [ ! -c /dev/net/tun ]; then
  mkdir -p /dev/net
  if ! mknod -m 0600 /dev/net/tun c 10 200 2>/dev/null; then
    echo "docker-entrypoint: no /dev/net/tun; run with --device /dev/net/tun --cap-add NET_ADMIN" >&2
    exit 1
  fi
fi

if [ "${TUN2SOCKS_ROUTE_ALL:-0}" != 1 ]; then
  exec tun2socks "$@"
fi

device="${TUN2SOCKS_DEVICE:-tun0}"
# Host of socks5://[user[:password]@]host:port, without brackets.
hostport="${TUN2SOCKS_PROXY:-socks5://127.0.0.1:1080}"
hostport="${hostport#*://}"
hostport="${hostport##*@}"
hostport="${hostport%/}"
case "$hostport" in
  \[*) host="${hostport#\[}"; host="${host%%]*}" ;;
  *) host="${hostport%:*}" ;;
esac

# Keep the proxy routed the way it is now (before the device takes everything else).
for ip in $(getent ahosts "$host" | awk '{ print $1 }' | sort -u); do
  route="$(ip route get "$ip" 2>/dev/null | head -n 1)"
  case "$route" in
    local* | "") continue ;;
  esac
  via="$(printf '%s\n' "$route" | sed -e 's/^[^ ]* //' -e 's/ src .*//' -e 's/ uid .*//')"
  # shellcheck disable=SC2086  # $via is "via GW dev IF" or "dev IF"
  ip route replace "$ip" $via
done

tun2socks "$@" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true' INT TERM

until ip -o link show dev "$device" 2>/dev/null | grep -q '[<,]UP[,>]'; do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
if kill -0 "$pid" 2>/dev/null; then
  ip route replace 0.0.0.0/1 dev "$device"
  ip route replace 128.0.0.0/1 dev "$device"
  if ip -6 addr show dev "$device" | grep -q inet6; then
    ip -6 route replace ::/1 dev "$device"
    ip -6 route replace 8000::/1 dev "$device"
  fi
fi

status=0
wait "$pid" || status=$?
# A trapped signal interrupts wait; wait again until tun2socks has finished.
while kill -0 "$pid" 2>/dev/null; do
  status=0
  wait "$pid" || status=$?
done
exit "$status"
