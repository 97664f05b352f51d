// Parses and builds the raw IPv4/IPv6 packets handled outside lwIP: UDP, ICMP echo, ICMP errors.
#include "net/packet.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#include "net/checksum.h"

namespace t2s::net {

namespace {

constexpr size_t kIpv4HeaderSize = 20;
constexpr size_t kIpv6HeaderSize = 40;
constexpr size_t kUdpHeaderSize = 8;
constexpr size_t kFragmentHeaderSize = 8;
constexpr size_t kIcmpHeaderSize = 8;
constexpr size_t kIpv6MinMtu = 1280;
constexpr size_t kIpv4MinMtu = 68;
constexpr uint8_t kDefaultTtl = 64;

constexpr uint8_t kProtoHopByHop = 0;
constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoRouting = 43;
constexpr uint8_t kProtoFragment = 44;
constexpr uint8_t kProtoIcmpv6 = 58;
constexpr uint8_t kProtoDestOptions = 60;

constexpr uint8_t kIcmpEchoReply = 0;
constexpr uint8_t kIcmpUnreachable = 3;
constexpr uint8_t kIcmpPortUnreachable = 3;
constexpr uint8_t kIcmpEchoRequest = 8;
constexpr uint8_t kIcmpv6Unreachable = 1;
constexpr uint8_t kIcmpv6PortUnreachable = 4;
constexpr uint8_t kIcmpv6EchoRequest = 128;
constexpr uint8_t kIcmpv6EchoReply = 129;

uint16_t read16(const uint8_t* p) {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}

void write16(uint8_t* p, size_t value) {
  p[0] = static_cast<uint8_t>((value >> 8) & 0xFF);
  p[1] = static_cast<uint8_t>(value & 0xFF);
}

// Ones'-complement addition of two memory-order sums (each over an even-length, even-offset
// part of the checksummed data).
uint16_t add_sums(uint16_t a, uint16_t b) {
  uint32_t sum = uint32_t{a} + b;
  sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// Stores the inverted sum at `at` as is (memory order is wire order).
void store_checksum(uint8_t* at, uint16_t sum) {
  const auto checksum = static_cast<uint16_t>(~sum);
  std::memcpy(at, &checksum, sizeof checksum);
}

// Sum of the IPv4 or IPv6 pseudo-header; `src`/`dst` hold 4 or 16 bytes.
uint16_t pseudo_header_sum(bool v4, const uint8_t* src, const uint8_t* dst, size_t length,
                           uint8_t protocol) {
  uint8_t buffer[40] = {};
  if (v4) {
    std::memcpy(buffer, src, 4);
    std::memcpy(buffer + 4, dst, 4);
    buffer[9] = protocol;
    write16(buffer + 10, length);
    return ones_complement_sum(std::span<const uint8_t>(buffer, 12));
  }
  std::memcpy(buffer, src, 16);
  std::memcpy(buffer + 16, dst, 16);
  write16(buffer + 32, length >> 16);
  write16(buffer + 34, length & 0xFFFF);
  buffer[39] = protocol;
  return ones_complement_sum(std::span<const uint8_t>(buffer, 40));
}

// Where the pieces of a valid IP packet are.
struct IpInfo {
  bool v4 = true;
  size_t transport = 0;  // offset of the transport header (after IPv6 extension headers)
  size_t end = 0;        // end of the IP packet; later bytes are ignored
  uint8_t protocol = 0;  // transport protocol (for a fragment: that of the fragmented packet)
  bool fragmented = false;
};

const uint8_t* source_address(std::span<const uint8_t> p, const IpInfo& info) {
  return p.data() + (info.v4 ? 12 : 8);
}
const uint8_t* destination_address(std::span<const uint8_t> p, const IpInfo& info) {
  return p.data() + (info.v4 ? 16 : 24);
}

// Checks the IP layer; returns an error or empty.
std::string parse_ip(std::span<const uint8_t> p, IpInfo& info) {
  if (p.empty()) return "empty packet";
  const int version = p[0] >> 4;
  if (version == 4) {
    if (p.size() < kIpv4HeaderSize) return "truncated IPv4 header";
    const size_t header = (p[0] & 0x0Fu) * 4u;
    if (header < kIpv4HeaderSize) return "IPv4 header length below 20";
    if (p.size() < header) return "truncated IPv4 header";
    const size_t total = read16(&p[2]);
    if (total < header) return "IPv4 total length shorter than header";
    if (total > p.size()) return "truncated IPv4 packet";
    if (ones_complement_sum(p.first(header)) != 0xFFFF) return "IPv4 header checksum mismatch";
    info.v4 = true;
    info.transport = header;
    info.end = total;
    info.protocol = p[9];
    info.fragmented = (read16(&p[6]) & 0x3FFF) != 0;  // MF or a fragment offset
    return {};
  }
  if (version == 6) {
    if (p.size() < kIpv6HeaderSize) return "truncated IPv6 header";
    const size_t end = kIpv6HeaderSize + read16(&p[4]);
    if (end > p.size()) return "truncated IPv6 packet";
    uint8_t next = p[6];
    size_t offset = kIpv6HeaderSize;
    info.v4 = false;
    info.end = end;
    info.fragmented = false;
    // Each extension header is at least 8 bytes, so the walk ends.
    while (next == kProtoHopByHop || next == kProtoRouting || next == kProtoDestOptions) {
      if (end - offset < 8) return "truncated IPv6 extension header";
      // With segments left, the IPv6 destination is not the final one.
      if (next == kProtoRouting && p[offset + 3] != 0) {
        return "IPv6 routing header with segments left";
      }
      const size_t length = (p[offset + 1] + 1u) * 8u;
      if (end - offset < length) return "truncated IPv6 extension header";
      next = p[offset];
      offset += length;
    }
    if (next == kProtoFragment) {
      if (end - offset < kFragmentHeaderSize) return "truncated IPv6 fragment header";
      info.fragmented = true;
      next = p[offset];
      offset += kFragmentHeaderSize;
    }
    info.transport = offset;
    info.protocol = next;
    return {};
  }
  return "unsupported IP version " + std::to_string(version);
}

void write_ipv4_header(uint8_t* p, size_t total, uint32_t identification, size_t flags_offset,
                       uint8_t protocol, const uint8_t* src, const uint8_t* dst) {
  p[0] = 0x45;
  p[1] = 0;
  write16(p + 2, total);
  write16(p + 4, identification & 0xFFFF);
  write16(p + 6, flags_offset);
  p[8] = kDefaultTtl;
  p[9] = protocol;
  p[10] = 0;
  p[11] = 0;
  std::memcpy(p + 12, src, 4);
  std::memcpy(p + 16, dst, 4);
  store_checksum(p + 10, ones_complement_sum(std::span<const uint8_t>(p, kIpv4HeaderSize)));
}

void write_ipv6_header(uint8_t* p, size_t payload_length, uint8_t next_header, const uint8_t* src,
                       const uint8_t* dst) {
  p[0] = 0x60;
  p[1] = 0;
  p[2] = 0;
  p[3] = 0;
  write16(p + 4, payload_length);
  p[6] = next_header;
  p[7] = kDefaultTtl;
  std::memcpy(p + 8, src, 16);
  std::memcpy(p + 24, dst, 16);
}

// Copies bytes [offset, offset + length) of the UDP header followed by the payload.
void copy_datagram(const uint8_t (&udp)[kUdpHeaderSize], std::span<const uint8_t> payload,
                   size_t offset, size_t length, uint8_t* out) {
  while (length > 0 && offset < kUdpHeaderSize) {
    *out++ = udp[offset++];
    --length;
  }
  const auto part = payload.subspan(offset - kUdpHeaderSize, length);
  std::copy(part.begin(), part.end(), out);
}

bool icmp_checksum_ok(std::span<const uint8_t> p, const IpInfo& info,
                      std::span<const uint8_t> icmp) {
  uint16_t sum = ones_complement_sum(icmp);
  if (!info.v4) {
    sum = add_sums(sum, pseudo_header_sum(false, source_address(p, info),
                                          destination_address(p, info), icmp.size(), kProtoIcmpv6));
  }
  return sum == 0xFFFF;
}

}  // namespace

Result<UdpPacketView> parse_udp_packet(std::span<const uint8_t> packet, bool checksum_trusted) {
  using R = Result<UdpPacketView>;
  IpInfo info;
  if (auto error = parse_ip(packet, info); !error.empty()) return R::failure(std::move(error));
  if (info.fragmented) return R::failure("fragmented; reassemble first");
  if (info.protocol != kProtoUdp) {
    return R::failure("not UDP (protocol " + std::to_string(info.protocol) + ")");
  }
  const auto segment = packet.subspan(info.transport, info.end - info.transport);
  if (segment.size() < kUdpHeaderSize) return R::failure("truncated UDP header");
  const size_t udp_length = read16(&segment[4]);
  if (udp_length < kUdpHeaderSize) return R::failure("UDP length below 8");
  if (udp_length > segment.size()) return R::failure("UDP length exceeds IP payload");
  const auto datagram = segment.first(udp_length);
  const uint16_t checksum = read16(&datagram[6]);
  if (checksum_trusted) {
    // Possibly only the pseudo-header's partial sum: the sender left the rest to the device.
  } else if (checksum == 0) {
    if (!info.v4) return R::failure("missing UDP checksum");
  } else {
    const uint16_t sum =
        add_sums(ones_complement_sum(datagram),
                 pseudo_header_sum(info.v4, source_address(packet, info),
                                   destination_address(packet, info), udp_length, kProtoUdp));
    if (sum != 0xFFFF) return R::failure("UDP checksum mismatch");
  }

  const size_t address_size = info.v4 ? 4 : 16;
  UdpPacketView view;
  view.source.address.family = info.v4 ? Family::kIpv4 : Family::kIpv6;
  std::memcpy(view.source.address.bytes.data(), source_address(packet, info), address_size);
  view.source.port = read16(&datagram[0]);
  view.destination.address.family = view.source.address.family;
  std::memcpy(view.destination.address.bytes.data(), destination_address(packet, info),
              address_size);
  view.destination.port = read16(&datagram[2]);
  view.payload = datagram.subspan(kUdpHeaderSize);
  return R::success(view);
}

namespace {

// Whether `payload` from `source` to `destination` can be one UDP datagram at all.
bool udp_datagram_possible(const Endpoint& source, const Endpoint& destination,
                           std::span<const uint8_t> payload, size_t mtu) {
  if (source.address.family != destination.address.family) return false;
  const bool v4 = source.address.is_v4();
  const size_t max_payload = v4 ? 65535 - kIpv4HeaderSize - kUdpHeaderSize : 65535 - 8;
  return payload.size() <= max_payload && mtu >= (v4 ? kIpv4MinMtu : kIpv6MinMtu);
}

// The 8-byte UDP header, its checksum over the pseudo-header, itself and `payload`.
void write_udp_header(uint8_t* udp, const Endpoint& source, const Endpoint& destination,
                      std::span<const uint8_t> payload) {
  const bool v4 = source.address.is_v4();
  const size_t udp_length = kUdpHeaderSize + payload.size();
  write16(udp, source.port);
  write16(udp + 2, destination.port);
  write16(udp + 4, udp_length);
  udp[6] = udp[7] = 0;
  uint16_t sum = pseudo_header_sum(v4, source.address.bytes.data(),
                                   destination.address.bytes.data(), udp_length, kProtoUdp);
  sum = add_sums(sum, ones_complement_sum(std::span<const uint8_t>(udp, kUdpHeaderSize)));
  sum = add_sums(sum, ones_complement_sum(payload));
  auto checksum = static_cast<uint16_t>(~sum);
  if (checksum == 0) checksum = 0xFFFF;  // zero would mean "no checksum"
  std::memcpy(udp + 6, &checksum, sizeof checksum);
}

}  // namespace

size_t write_udp_headers(const Endpoint& source, const Endpoint& destination,
                         std::span<const uint8_t> payload, size_t mtu, uint32_t identification,
                         std::span<uint8_t, kMaxUdpHeadersSize> headers) {
  if (!udp_datagram_possible(source, destination, payload, mtu)) return 0;
  const bool v4 = source.address.is_v4();
  const size_t ip_header = v4 ? kIpv4HeaderSize : kIpv6HeaderSize;
  const size_t udp_length = kUdpHeaderSize + payload.size();
  if (ip_header + udp_length > mtu) return 0;
  const uint8_t* src = source.address.bytes.data();
  const uint8_t* dst = destination.address.bytes.data();
  if (v4) {
    write_ipv4_header(headers.data(), ip_header + udp_length, identification, 0, kProtoUdp, src,
                      dst);
  } else {
    write_ipv6_header(headers.data(), udp_length, kProtoUdp, src, dst);
  }
  write_udp_header(headers.data() + ip_header, source, destination, payload);
  return ip_header + kUdpHeaderSize;
}

size_t udp_headers_size(bool v4) {
  return (v4 ? kIpv4HeaderSize : kIpv6HeaderSize) + kUdpHeaderSize;
}

size_t write_udp_segment_headers(const Endpoint& source, const Endpoint& destination,
                                 size_t payload_size, uint32_t identification,
                                 std::span<uint8_t, kMaxUdpHeadersSize> headers) {
  if (source.address.family != destination.address.family) return 0;
  const bool v4 = source.address.is_v4();
  const size_t ip_header = v4 ? kIpv4HeaderSize : kIpv6HeaderSize;
  const size_t udp_length = kUdpHeaderSize + payload_size;
  if ((v4 ? ip_header : 0) + udp_length > 65535) return 0;
  const uint8_t* src = source.address.bytes.data();
  const uint8_t* dst = destination.address.bytes.data();
  if (v4) {
    write_ipv4_header(headers.data(), ip_header + udp_length, identification, 0, kProtoUdp, src,
                      dst);
  } else {
    write_ipv6_header(headers.data(), udp_length, kProtoUdp, src, dst);
  }
  uint8_t* udp = headers.data() + ip_header;
  write16(udp, source.port);
  write16(udp + 2, destination.port);
  write16(udp + 4, udp_length);
  const uint16_t sum = pseudo_header_sum(v4, src, dst, udp_length, kProtoUdp);
  std::memcpy(udp + 6, &sum, sizeof sum);
  return ip_header + kUdpHeaderSize;
}

std::vector<std::vector<uint8_t>> build_udp_packets(const Endpoint& source,
                                                    const Endpoint& destination,
                                                    std::span<const uint8_t> payload, size_t mtu,
                                                    uint32_t identification) {
  if (!udp_datagram_possible(source, destination, payload, mtu)) return {};
  std::vector<std::vector<uint8_t>> packets;
  std::array<uint8_t, kMaxUdpHeadersSize> whole{};
  if (size_t headers = write_udp_headers(source, destination, payload, mtu, identification, whole);
      headers != 0) {
    std::vector<uint8_t> packet(headers + payload.size());
    std::memcpy(packet.data(), whole.data(), headers);
    if (!payload.empty()) std::memcpy(packet.data() + headers, payload.data(), payload.size());
    packets.push_back(std::move(packet));
    return packets;
  }

  const bool v4 = source.address.is_v4();
  const uint8_t* src = source.address.bytes.data();
  const uint8_t* dst = destination.address.bytes.data();
  const size_t udp_length = kUdpHeaderSize + payload.size();
  uint8_t udp[kUdpHeaderSize] = {};
  write_udp_header(udp, source, destination, payload);

  // Every fragment but the last carries a multiple of 8 bytes.
  const size_t headers = v4 ? kIpv4HeaderSize : kIpv6HeaderSize + kFragmentHeaderSize;
  const size_t per_fragment = (mtu - headers) / 8 * 8;
  packets.reserve((udp_length + per_fragment - 1) / per_fragment);
  for (size_t offset = 0; offset < udp_length; offset += per_fragment) {
    const size_t length = std::min(per_fragment, udp_length - offset);
    const bool more = offset + length < udp_length;
    std::vector<uint8_t> packet(headers + length);
    uint8_t* p = packet.data();
    if (v4) {
      const size_t flags_offset = (offset / 8) | (more ? 0x2000u : 0u);
      write_ipv4_header(p, packet.size(), identification, flags_offset, kProtoUdp, src, dst);
    } else {
      write_ipv6_header(p, kFragmentHeaderSize + length, kProtoFragment, src, dst);
      uint8_t* fragment = p + kIpv6HeaderSize;
      fragment[0] = kProtoUdp;
      fragment[1] = 0;
      write16(fragment + 2, offset | (more ? 1u : 0u));  // offset is a multiple of 8
      write16(fragment + 4, identification >> 16);
      write16(fragment + 6, identification & 0xFFFF);
    }
    copy_datagram(udp, payload, offset, length, p + headers);
    packets.push_back(std::move(packet));
  }
  return packets;
}

IcmpKind classify_icmp(std::span<const uint8_t> packet) {
  IpInfo info;
  if (!parse_ip(packet, info).empty()) return IcmpKind::kMalformed;
  if (info.protocol != (info.v4 ? kProtoIcmp : kProtoIcmpv6)) return IcmpKind::kNotIcmp;
  if (info.fragmented) return IcmpKind::kOther;  // cannot be checked or answered piecemeal
  const auto icmp = packet.subspan(info.transport, info.end - info.transport);
  if (icmp.size() < 4 || !icmp_checksum_ok(packet, info, icmp)) return IcmpKind::kMalformed;
  if (icmp[0] != (info.v4 ? kIcmpEchoRequest : kIcmpv6EchoRequest)) return IcmpKind::kOther;
  return icmp.size() < kIcmpHeaderSize ? IcmpKind::kMalformed : IcmpKind::kEchoRequest;
}

bool make_echo_reply(std::span<uint8_t> packet) {
  if (classify_icmp(packet) != IcmpKind::kEchoRequest) return false;
  IpInfo info;
  parse_ip(packet, info);  // cannot fail: classify_icmp accepted it
  uint8_t* p = packet.data();
  const size_t address_size = info.v4 ? 4 : 16;
  const size_t src = info.v4 ? 12 : 8;
  std::swap_ranges(p + src, p + src + address_size, p + src + address_size);
  uint8_t* icmp = p + info.transport;
  const size_t icmp_length = info.end - info.transport;
  icmp[0] = info.v4 ? kIcmpEchoReply : kIcmpv6EchoReply;
  icmp[2] = 0;
  icmp[3] = 0;
  uint16_t sum = ones_complement_sum(std::span<const uint8_t>(icmp, icmp_length));
  if (info.v4) {
    store_checksum(icmp + 2, sum);
    p[8] = kDefaultTtl;
    p[10] = 0;
    p[11] = 0;
    store_checksum(p + 10, ones_complement_sum(std::span<const uint8_t>(p, info.transport)));
  } else {
    sum = add_sums(sum, pseudo_header_sum(false, p + 8, p + 24, icmp_length, kProtoIcmpv6));
    store_checksum(icmp + 2, sum);
    p[7] = kDefaultTtl;
  }
  return true;
}

std::vector<uint8_t> build_port_unreachable(std::span<const uint8_t> original) {
  IpInfo info;
  if (!parse_ip(original, info).empty()) return {};
  const uint8_t* src = destination_address(original, info);  // the reply comes from there
  const uint8_t* dst = source_address(original, info);
  std::vector<uint8_t> out;
  if (info.v4) {
    const size_t quote =
        info.transport + std::min<size_t>(kUdpHeaderSize, info.end - info.transport);
    out.resize(kIpv4HeaderSize + kIcmpHeaderSize + quote);
    uint8_t* icmp = out.data() + kIpv4HeaderSize;
    icmp[0] = kIcmpUnreachable;
    icmp[1] = kIcmpPortUnreachable;
    std::copy_n(original.data(), quote, icmp + kIcmpHeaderSize);
    store_checksum(icmp + 2,
                   ones_complement_sum(std::span<const uint8_t>(icmp, kIcmpHeaderSize + quote)));
    write_ipv4_header(out.data(), out.size(), 0, 0, kProtoIcmp, src, dst);
    return out;
  }
  const size_t quote = std::min(info.end, kIpv6MinMtu - kIpv6HeaderSize - kIcmpHeaderSize);
  const size_t icmp_length = kIcmpHeaderSize + quote;
  out.resize(kIpv6HeaderSize + icmp_length);
  write_ipv6_header(out.data(), icmp_length, kProtoIcmpv6, src, dst);
  uint8_t* icmp = out.data() + kIpv6HeaderSize;
  icmp[0] = kIcmpv6Unreachable;
  icmp[1] = kIcmpv6PortUnreachable;
  std::copy_n(original.data(), quote, icmp + kIcmpHeaderSize);
  const uint16_t sum = add_sums(ones_complement_sum(std::span<const uint8_t>(icmp, icmp_length)),
                                pseudo_header_sum(false, src, dst, icmp_length, kProtoIcmpv6));
  store_checksum(icmp + 2, sum);
  return out;
}

}  // namespace t2s::net
