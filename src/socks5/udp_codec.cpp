// Encodes and decodes the SOCKS5 UDP request header (RFC 1928 section 7).
#include "socks5/udp_codec.h"

#include <string>

namespace t2s::socks5 {

namespace {

constexpr size_t kFixed = 4;  // RSV(2) FRAG ATYP
constexpr size_t kMaxDomain = 255;

Decoded<UdpHeader> malformed(std::string error) {
  Decoded<UdpHeader> result;
  result.status = DecodeStatus::kMalformed;
  result.error = std::move(error);
  return result;
}

}  // namespace

size_t udp_header_size(const Destination& destination) {
  if (const auto* endpoint = std::get_if<net::Endpoint>(&destination)) {
    return kFixed + endpoint->address.size() + 2;
  }
  const auto& domain = std::get<DomainEndpoint>(destination);
  if (domain.name.empty() || domain.name.size() > kMaxDomain) return 0;
  return kFixed + 1 + domain.name.size() + 2;
}

size_t write_udp_header(const Destination& destination, std::span<uint8_t> out) {
  const size_t size = udp_header_size(destination);
  if (size == 0 || out.size() < size) return 0;
  out[0] = 0;
  out[1] = 0;
  out[2] = 0;  // FRAG
  size_t at = kFixed;
  uint16_t port = 0;
  if (const auto* endpoint = std::get_if<net::Endpoint>(&destination)) {
    out[3] =
        static_cast<uint8_t>(endpoint->address.is_v4() ? AddressType::kIpv4 : AddressType::kIpv6);
    for (const uint8_t octet : endpoint->address.view()) out[at++] = octet;
    port = endpoint->port;
  } else {
    const auto& domain = std::get<DomainEndpoint>(destination);
    out[3] = static_cast<uint8_t>(AddressType::kDomain);
    out[at++] = static_cast<uint8_t>(domain.name.size());
    for (const char c : domain.name) out[at++] = static_cast<uint8_t>(c);
    port = domain.port;
  }
  out[at++] = static_cast<uint8_t>(port >> 8);
  out[at++] = static_cast<uint8_t>(port & 0xFF);
  return at;
}

Decoded<UdpHeader> decode_udp_header(std::span<const uint8_t> datagram) {
  if (datagram.size() < kFixed) return malformed("truncated SOCKS5 UDP header");
  if (datagram[0] != 0 || datagram[1] != 0) return malformed("reserved bytes are not zero");
  // A datagram arrives whole: an address cut short is malformed, not incomplete.
  auto address = decode_address(datagram.subspan(kFixed - 1));
  if (address.status == DecodeStatus::kNeedMore) return malformed("truncated SOCKS5 UDP header");
  if (address.status == DecodeStatus::kMalformed) {
    return malformed(address.error + " in UDP header");
  }
  Decoded<UdpHeader> result;
  result.status = DecodeStatus::kOk;
  result.value.fragment = datagram[2];
  result.value.address = std::move(address.value);
  result.value.length = kFixed - 1 + address.consumed;
  result.consumed = result.value.length;
  return result;
}

}  // namespace t2s::socks5
