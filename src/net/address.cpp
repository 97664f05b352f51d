// Parsing and formatting of IP addresses, endpoints and CIDR prefixes.
#include "net/address.h"

#include <uv.h>

#include <algorithm>
#include <cstring>

namespace t2s::net {

namespace {

// Longest IPv6 text form without a zone: 8 groups of 4 hex digits... or the IPv4-mapped form
// "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" (45 characters).
constexpr size_t kMaxAddressText = 45;

std::string quoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '\'';
  out += text;
  out += '\'';
  return out;
}

bool all_digits(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

IpAddress IpAddress::v4(std::span<const uint8_t, 4> octets) {
  IpAddress address;
  address.family = Family::kIpv4;
  std::copy(octets.begin(), octets.end(), address.bytes.begin());
  return address;
}

IpAddress IpAddress::v6(std::span<const uint8_t, 16> octets) {
  IpAddress address;
  address.family = Family::kIpv6;
  std::copy(octets.begin(), octets.end(), address.bytes.begin());
  return address;
}

Result<IpAddress> IpAddress::parse(std::string_view text) {
  auto fail = [&] { return Result<IpAddress>::failure(quoted(text) + ": not an IP address"); };
  // inet_pton needs a NUL-terminated string, so an embedded NUL would silently cut the text;
  // libuv's would take "%zone" after an IPv6 address.
  if (text.empty() || text.size() > kMaxAddressText ||
      text.find_first_of(std::string_view("\0%", 2)) != text.npos) {
    return fail();
  }
  const std::string copy(text);
  IpAddress address;
  if (text.find(':') != text.npos) {
    address.family = Family::kIpv6;
    if (uv_inet_pton(AF_INET6, copy.c_str(), address.bytes.data()) != 0) return fail();
  } else {
    address.family = Family::kIpv4;
    if (uv_inet_pton(AF_INET, copy.c_str(), address.bytes.data()) != 0) return fail();
  }
  return Result<IpAddress>::success(address);
}

bool IpAddress::is_unspecified() const {
  const auto octets = view();
  return std::all_of(octets.begin(), octets.end(), [](uint8_t b) { return b == 0; });
}

bool IpAddress::is_loopback() const {
  if (is_v4()) return bytes[0] == 127;
  static constexpr std::array<uint8_t, 16> kLoopback6 = {0, 0, 0, 0, 0, 0, 0, 0,
                                                         0, 0, 0, 0, 0, 0, 0, 1};
  return bytes == kLoopback6;
}

std::string IpAddress::to_string() const {
  char buffer[INET6_ADDRSTRLEN] = {};
  const int af = is_v4() ? AF_INET : AF_INET6;
  if (uv_inet_ntop(af, bytes.data(), buffer, sizeof(buffer)) != 0) return {};
  return buffer;
}

std::string Endpoint::to_string() const {
  std::string out;
  if (address.is_v4()) {
    out = address.to_string();
  } else {
    out = "[" + address.to_string() + "]";
  }
  out += ':';
  out += std::to_string(port);
  return out;
}

Result<Cidr> Cidr::parse(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == text.npos) return Result<Cidr>::failure(quoted(text) + ": missing '/prefix'");

  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) return Result<Cidr>::failure(quoted(text) + ": not an IP address");

  const std::string_view digits = text.substr(slash + 1);
  if (digits.empty()) return Result<Cidr>::failure(quoted(text) + ": missing prefix length");
  if (!all_digits(digits)) {
    return Result<Cidr>::failure(quoted(text) + ": prefix length must be a decimal number");
  }
  if (digits.size() > 1 && digits[0] == '0') {
    return Result<Cidr>::failure(quoted(text) + ": prefix length has a leading zero");
  }
  const int max_prefix = address->is_v4() ? 32 : 128;
  int prefix = 0;
  for (char c : digits) {
    prefix = prefix * 10 + (c - '0');
    if (prefix > max_prefix) break;  // also stops overflow on long digit strings
  }
  if (prefix > max_prefix) {
    return Result<Cidr>::failure(quoted(text) + ": prefix length must be 0.." +
                                 std::to_string(max_prefix));
  }
  return Result<Cidr>::success(Cidr{address.value(), prefix});
}

Result<Cidr> Cidr::parse(std::string_view text, Family expected) {
  // Check the family before the prefix range, so "fd00::1/64" as IPv4 reports the family.
  const size_t slash = text.find('/');
  if (slash != text.npos) {
    auto address = IpAddress::parse(text.substr(0, slash));
    if (address && address->family != expected) {
      return Result<Cidr>::failure(quoted(text) + ": expected an " +
                                   (expected == Family::kIpv4 ? "IPv4" : "IPv6") + " address");
    }
  }
  return parse(text);
}

std::string Cidr::to_string() const {
  return address.to_string() + "/" + std::to_string(prefix_length);
}

bool Cidr::contains(const IpAddress& candidate) const {
  if (address.family != candidate.family) return false;
  int bits = prefix_length;
  for (size_t i = 0; i < candidate.size() && bits > 0; ++i, bits -= 8) {
    uint8_t mask = bits >= 8 ? 0xFF : static_cast<uint8_t>(0xFF << (8 - bits));
    if ((address.bytes[i] & mask) != (candidate.bytes[i] & mask)) return false;
  }
  return true;
}

size_t EndpointHash::operator()(const Endpoint& endpoint) const {
  uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a over the address bytes
  for (uint8_t byte : endpoint.address.view()) hash = (hash ^ byte) * 0x100000001b3ULL;
  return static_cast<size_t>(hash ^ endpoint.port);
}

IpAddress address_of(const sockaddr_storage& storage) {
  if (storage.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    std::array<uint8_t, 16> octets{};
    std::memcpy(octets.data(), &v6->sin6_addr, 16);
    return IpAddress::v6(octets);
  }
  const auto* v4 = reinterpret_cast<const sockaddr_in*>(&storage);
  std::array<uint8_t, 4> octets{};
  std::memcpy(octets.data(), &v4->sin_addr, 4);
  return IpAddress::v4(octets);
}

sockaddr_storage to_sockaddr(const Endpoint& endpoint) {
  sockaddr_storage storage{};
  if (endpoint.address.is_v4()) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(endpoint.port);
    std::memcpy(&v4->sin_addr, endpoint.address.bytes.data(), 4);
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(endpoint.port);
    std::memcpy(&v6->sin6_addr, endpoint.address.bytes.data(), 16);
  }
  return storage;
}

}  // namespace t2s::net
