// The text of /etc/resolv.conf: the nameservers it names, and the version --set-dns writes.
// Our version carries the lines it replaced as comments, so the original comes back from the
// file alone, even after a crash and a reboot. Pure text handling, apart from the file I/O
// (linux/resolver_linux.cpp), so it is unit tested.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace t2s::platform::resolv_conf {

// First line of our version: how a later start recognises it.
inline constexpr std::string_view kMarker =
    "# written by tun2socks --set-dns; restored when it exits\n";
// Prefix of a line of the original that our version replaced.
inline constexpr std::string_view kSavedPrefix = "# tun2socks saved: ";

// The addresses of the "nameserver" lines, in order.
std::vector<std::string> nameservers(std::string_view contents);

// Our version of `original`: the marker, `servers`, then the lines of `original` in order, its
// nameserver lines commented out with kSavedPrefix (search domains and options keep working).
std::string rewritten(std::string_view original, const std::vector<std::string>& servers);

bool is_ours(std::string_view contents);

// The original that `ours` was made from (every line newline-terminated), or nothing if
// `ours` is not our version.
std::optional<std::string> original_of(std::string_view ours);

}  // namespace t2s::platform::resolv_conf
