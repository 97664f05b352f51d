#!/usr/bin/env bash
# Installs everything tun2socks needs to build, test and benchmark on Debian 12, and fetches
# lwIP's release source into third_party/lwip (git-ignored). Safe to run again: it only does
# what is missing. Needs root (apt-get) unless everything is already present.
set -euo pipefail
repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lwip_dir="$repo_dir/third_party/lwip"

build_packages=(cmake g++ make pkg-config libuv1-dev libfmt-dev libcli11-dev libgtest-dev
                libnl-route-3-dev libcap-dev libhttp-parser-dev xz-utils dpkg-dev clang-format)
test_packages=(iproute2 dante-server microsocks iperf3 proxychains4 curl python3 procps
               iputils-ping dnsmasq-base bind9-dnsutils tcpdump chromium)

missing=()
for pkg in "${build_packages[@]}" "${test_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

need_apt_update=1
apt_update_once() {
  if [[ $need_apt_update == 1 ]]; then
    apt-get update -qq
    need_apt_update=0
  fi
}

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  apt_update_once
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Enables source entries for the archives this machine already uses, so that `apt-get source`
# can fetch lwIP's release tarball. Touches only entries that list plain binary packages.
enable_source_entries() {
  local changed=0 file
  shopt -s nullglob
  for file in /etc/apt/sources.list.d/*.sources; do
    if grep -qE '^Types: deb$' "$file"; then
      sed -i 's/^Types: deb$/Types: deb deb-src/' "$file"
      changed=1
    fi
  done
  if [[ -f /etc/apt/sources.list ]] && grep -qE '^deb ' /etc/apt/sources.list &&
     ! grep -qE '^deb-src ' /etc/apt/sources.list; then
    grep -E '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' >/etc/apt/sources.list.d/tun2socks-src.list
    changed=1
  fi
  shopt -u nullglob
  if [[ $changed == 1 ]]; then need_apt_update=1; fi
}

if [[ ! -f "$lwip_dir/src/core/tcp.c" ]]; then
  if [[ -n "${LWIP_SOURCE_DIR:-}" && -f "$LWIP_SOURCE_DIR/src/core/tcp.c" ]]; then
    echo "setup: using lwIP from LWIP_SOURCE_DIR=$LWIP_SOURCE_DIR"
    exit 0
  fi
  echo "setup: fetching lwIP 2.1.3 release source (Debian source package 'lwip', upstream tarball only)"
  downloads="$repo_dir/third_party/.downloads"
  mkdir -p "$downloads"
  if ! ls "$downloads"/lwip*2.1.3* >/dev/null 2>&1; then
    enable_source_entries
    apt_update_once
    (cd "$downloads" && apt-get source --download-only -qq lwip >/dev/null 2>&1) ||
    (cd "$downloads" && curl -fsSL -o lwip-2.1.3.zip \
        https://download.savannah.nongnu.org/releases/lwip/lwip-2.1.3.zip) || {
      echo "setup: could not fetch lwIP; pass -DLWIP_SOURCE_DIR=<lwIP 2.1.x tree> instead" >&2
      exit 1
    }
  fi
  # Only the pristine upstream tarball is unpacked; Debian's own patches are not applied.
  rm -rf "$lwip_dir.tmp" && mkdir -p "$lwip_dir.tmp"
  if tarball="$(ls "$downloads"/lwip_2.1.3*.orig.tar.* 2>/dev/null | head -n1)" && [[ -n $tarball ]]; then
    tar -xf "$tarball" -C "$lwip_dir.tmp" --strip-components=1
  else
    python3 -m zipfile -e "$downloads/lwip-2.1.3.zip" "$lwip_dir.tmp"
    mv "$lwip_dir.tmp"/lwip-2.1.3/* "$lwip_dir.tmp"/ && rmdir "$lwip_dir.tmp"/lwip-2.1.3
  fi
  rm -rf "$lwip_dir" && mv "$lwip_dir.tmp" "$lwip_dir"
fi
