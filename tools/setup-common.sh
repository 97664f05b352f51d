# Shared by tools/setup.sh and tools/build-windows.sh (sourced, not run): apt-get helpers that
# install only what is missing, the deb-src switch that `apt-get source` needs, and the lwIP fetch.

need_apt_update=1
apt_update_once() {
  if [[ $need_apt_update == 1 ]]; then
    apt-get update -qq
    need_apt_update=0
  fi
}

# install_missing WHO PACKAGE...: installs the packages that are not installed yet; WHO prefixes
# the message.
install_missing() {
  local who=$1 pkg missing=()
  shift
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    echo "$who: installing ${missing[*]}"
    apt_update_once
    # Waits for another apt-get (e.g. a second build on the same machine) instead of failing.
    DEBIAN_FRONTEND=noninteractive apt-get install -o DPkg::Lock::Timeout=600 -y -qq \
      --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# Enables source entries for the archives this machine already uses, so that `apt-get source`
# can fetch release tarballs. Touches only entries that list plain binary packages.
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

# fetch_lwip REPO_DIR: lwIP's release source into REPO_DIR/third_party/lwip (git-ignored), from
# Debian's source package (upstream tarball only), unless it or LWIP_SOURCE_DIR is there already.
fetch_lwip() {
  local repo_dir=$1 downloads tarball
  local lwip_dir="$repo_dir/third_party/lwip"
  if [[ ! -f "$lwip_dir/src/core/tcp.c" ]]; then
    if [[ -n "${LWIP_SOURCE_DIR:-}" && -f "$LWIP_SOURCE_DIR/src/core/tcp.c" ]]; then
      echo "setup: using lwIP from LWIP_SOURCE_DIR=$LWIP_SOURCE_DIR"
      return 0
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
        return 1
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
}
