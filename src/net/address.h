// Pure value types for IP addresses, endpoints (address + port) and CIDR prefixes, with parsing
// and formatting. No I/O; shared by every layer above.
#pragma once

// The socket API types (sockaddr_storage, AF_INET) as the OS defines them.
#include <uv.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "net/result.h"

namespace t2s::net {

enum class Family : uint8_t { kIpv4 = 4, kIpv6 = 6 };

// An IPv4 or IPv6 address in network byte order. IPv4 uses the first 4 bytes of `bytes`.
struct IpAddress {
  Family family = Family::kIpv4;
  std::array<uint8_t, 16> bytes{};

  static IpAddress v4(std::span<const uint8_t, 4> octets);
  static IpAddress v6(std::span<const uint8_t, 16> octets);
  // Accepts dotted IPv4 or any RFC 4291 IPv6 text form (no brackets, no zone).
  static Result<IpAddress> parse(std::string_view text);

  size_t size() const { return family == Family::kIpv4 ? 4 : 16; }
  std::span<const uint8_t> view() const { return {bytes.data(), size()}; }
  bool is_v4() const { return family == Family::kIpv4; }
  bool is_unspecified() const;  // 0.0.0.0 or ::
  bool is_loopback() const;     // 127.0.0.0/8 or ::1
  std::string to_string() const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

struct Endpoint {
  IpAddress address;
  uint16_t port = 0;

  // "192.0.2.1:80" or "[2001:db8::1]:80".
  std::string to_string() const;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// For hash maps keyed by endpoint (flow tables).
struct EndpointHash {
  size_t operator()(const Endpoint& endpoint) const;
};

// Conversions from and to the socket API's form (AF_INET or AF_INET6).
IpAddress address_of(const sockaddr_storage& storage);
sockaddr_storage to_sockaddr(const Endpoint& endpoint);

// An address with a prefix length, as given to --address / --address6 ("198.18.0.1/15").
struct Cidr {
  IpAddress address;
  int prefix_length = 0;

  // Requires the "/N" part; N must fit the family (0..32 or 0..128). `expected` restricts
  // the family; errors read like "'10.0.0.1/33': prefix length must be 0..32".
  static Result<Cidr> parse(std::string_view text);
  static Result<Cidr> parse(std::string_view text, Family expected);
  std::string to_string() const;
  bool contains(const IpAddress& candidate) const;
  friend bool operator==(const Cidr&, const Cidr&) = default;
};

}  // namespace t2s::net
