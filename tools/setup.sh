#!/usr/bin/env bash
# Installs everything tun2socks needs to build, test and benchmark on Debian 12, and fetches
# lwIP's release source into third_party/lwip (git-ignored). Safe to run again: it only does
# what is missing. Needs root (apt-get) unless everything is already present.
set -euo pipefail
repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=tools/setup-common.sh
source "$repo_dir/tools/setup-common.sh"

build_packages=(cmake g++ make pkg-config libuv1-dev libfmt-dev libcli11-dev libgtest-dev
                libnl-route-3-dev libcap-dev libhttp-parser-dev xz-utils dpkg-dev clang-format)
test_packages=(iproute2 dante-server microsocks iperf3 proxychains4 curl python3 procps
               iputils-ping dnsmasq-base bind9-dnsutils tcpdump chromium)

install_missing setup "${build_packages[@]}" "${test_packages[@]}"

fetch_lwip "$repo_dir"
