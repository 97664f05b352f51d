// Pure views and builders for the IP packets the tunnel handles itself rather than through
// lwIP's TCP: UDP datagrams (parsed on the way in, built and fragmented on the way out), ICMP
// echo replies and ICMP port-unreachable errors. No I/O; every parser checks every length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "net/address.h"
#include "net/result.h"

namespace t2s::net {

struct UdpPacketView {
  Endpoint source;
  Endpoint destination;
  std::span<const uint8_t> payload;  // points into the parsed packet
};

// Parses one complete, unfragmented IPv4 or IPv6 packet carrying UDP. IPv6 extension headers
// (hop-by-hop, routing, destination options) are skipped; a fragment header is an error
// (reassemble first). Checks IP and UDP lengths, the IPv4 header checksum and, unless
// `checksum_trusted` (the OS vouched for it, see platform::ReadResult), the UDP checksum
// (mandatory for IPv6; optional, zero = none, for IPv4). Errors say what is wrong.
Result<UdpPacketView> parse_udp_packet(std::span<const uint8_t> packet,
                                       bool checksum_trusted = false);

// Builds the packet(s) carrying `payload` from `source` to `destination` (same family), with
// IP and UDP checksums, TTL/hop limit 64. If the packet would exceed `mtu`, it is fragmented:
// IPv4 fragments with MF/offset (offsets in 8-byte units, each fragment <= mtu); IPv6 with a
// Fragment extension header (RFC 8200). `identification` fills the IP ID / fragment ID.
// An empty result means the payload cannot fit one UDP datagram (> 65507 bytes for IPv4,
// > 65527 for IPv6) or mtu is below the family minimum (68 / 1280).
std::vector<std::vector<uint8_t>> build_udp_packets(const Endpoint& source,
                                                    const Endpoint& destination,
                                                    std::span<const uint8_t> payload, size_t mtu,
                                                    uint32_t identification);

// The IP and UDP headers (at most kMaxUdpHeadersSize bytes) that, followed by `payload`, make the
// one unfragmented packet build_udp_packets would build, written to `headers`: the payload is
// never copied (the caller sends headers and payload as a gather list). Returns the headers'
// length, or 0 when the packet needs fragmenting at `mtu` or cannot be built (then
// build_udp_packets decides).
constexpr size_t kMaxUdpHeadersSize = 48;
// The IP and UDP header bytes of one unfragmented datagram: 28 for IPv4, 48 for IPv6.
size_t udp_headers_size(bool v4);
size_t write_udp_headers(const Endpoint& source, const Endpoint& destination,
                         std::span<const uint8_t> payload, size_t mtu, uint32_t identification,
                         std::span<uint8_t, kMaxUdpHeadersSize> headers);

// The IP and UDP headers of a packet that the device cuts into several datagrams of one flow
// (segmentation offload, platform::UdpSegments): lengths for all `payload_size` bytes, the UDP
// checksum field holding only the pseudo-header's sum (not inverted; the device completes each
// datagram's checksum), `identification` for the first datagram. Returns the headers' length,
// or 0 when the families differ or the payload exceeds one IP packet's 65535 bytes.
size_t write_udp_segment_headers(const Endpoint& source, const Endpoint& destination,
                                 size_t payload_size, uint32_t identification,
                                 std::span<uint8_t, kMaxUdpHeadersSize> headers);

// Turns an ICMPv4 echo request (type 8) or ICMPv6 echo request (type 128) into its echo reply
// in place: addresses swapped, type changed, checksums fixed. Returns false, leaving the
// packet unchanged, for anything else or a malformed packet.
bool make_echo_reply(std::span<uint8_t> packet);

// Kinds of ICMP packet a caller may want to tell apart before acting.
enum class IcmpKind { kNotIcmp, kEchoRequest, kOther, kMalformed };
IcmpKind classify_icmp(std::span<const uint8_t> packet);

// An ICMP "port unreachable" (IPv4 type 3 code 3; ICMPv6 type 1 code 4) answering
// `original` (an IPv4/IPv6 packet the app sent), from the original destination to the
// original source. Quotes the original's IP header and first 8 payload bytes (IPv4) or as
// much as keeps the error within 1280 bytes (IPv6). Empty if `original` is malformed.
std::vector<uint8_t> build_port_unreachable(std::span<const uint8_t> original);

}  // namespace t2s::net
