// Unit tests for the raw IP packet parsers and builders (UDP, ICMP echo, port unreachable),
// checked against hand-built packets and a plain big-endian RFC 1071 reference checksum.
#include "net/packet.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "net/checksum.h"

namespace t2s::net {
namespace {

using Bytes = std::vector<uint8_t>;

// ---- Reference helpers, independent of the code under test ----

// RFC 1071 sum over big-endian 16-bit words, folded, not inverted.
uint16_t ref_sum(const Bytes& data) {
  uint32_t sum = 0;
  for (size_t i = 0; i < data.size(); i += 2) {
    const uint32_t hi = data[i];
    const uint32_t lo = i + 1 < data.size() ? data[i + 1] : 0;
    sum += (hi << 8) | lo;
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  }
  return static_cast<uint16_t>(sum);
}
uint16_t ref_checksum(const Bytes& data) {
  return static_cast<uint16_t>(~ref_sum(data));
}

uint16_t get16(const Bytes& b, size_t at) {
  return static_cast<uint16_t>((b[at] << 8) | b[at + 1]);
}
void put16(Bytes& b, size_t at, uint32_t v) {
  b[at] = static_cast<uint8_t>((v >> 8) & 0xFF);
  b[at + 1] = static_cast<uint8_t>(v & 0xFF);
}
void append16(Bytes& b, uint32_t v) {
  b.push_back(static_cast<uint8_t>((v >> 8) & 0xFF));
  b.push_back(static_cast<uint8_t>(v & 0xFF));
}
Bytes slice(const Bytes& b, size_t from, size_t length) {
  return Bytes(b.begin() + static_cast<std::ptrdiff_t>(from),
               b.begin() + static_cast<std::ptrdiff_t>(from + length));
}
Bytes to_bytes(std::span<const uint8_t> s) {
  return Bytes(s.begin(), s.end());
}
Bytes pattern(size_t n, uint32_t seed = 1) {
  Bytes out(n);
  for (size_t i = 0; i < n; ++i)
    out[i] = static_cast<uint8_t>((i * 131 + seed * 7 + i / 251) & 0xFF);
  return out;
}

Bytes pseudo4(const Bytes& src, const Bytes& dst, uint8_t proto, size_t length) {
  Bytes p = src;
  p.insert(p.end(), dst.begin(), dst.end());
  p.push_back(0);
  p.push_back(proto);
  append16(p, static_cast<uint32_t>(length));
  return p;
}
Bytes pseudo6(const Bytes& src, const Bytes& dst, uint8_t next, size_t length) {
  Bytes p = src;
  p.insert(p.end(), dst.begin(), dst.end());
  append16(p, static_cast<uint32_t>(length >> 16));
  append16(p, static_cast<uint32_t>(length & 0xFFFF));
  p.insert(p.end(), {0, 0, 0, next});
  return p;
}
Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
Bytes addr(const char* text) {
  return to_bytes(IpAddress::parse(text).value().view());
}
Endpoint ep(const char* text, uint16_t port) {
  return Endpoint{IpAddress::parse(text).value(), port};
}

// True when a checksummed region (checksum field included) verifies.
bool sums_ok(const Bytes& data) {
  return ref_sum(data) == 0xFFFF;
}

Bytes udp_segment(uint16_t sport, uint16_t dport, const Bytes& payload) {
  Bytes u;
  append16(u, sport);
  append16(u, dport);
  append16(u, static_cast<uint32_t>(8 + payload.size()));
  append16(u, 0);
  return concat(u, payload);
}

// IPv4 header (with `options`, padded by the caller to a multiple of 4) + body.
Bytes ipv4(const Bytes& src, const Bytes& dst, uint8_t proto, const Bytes& body,
           const Bytes& options = {}, uint16_t flags_offset = 0, uint8_t ttl = 64) {
  Bytes h(20, 0);
  h[0] = static_cast<uint8_t>(0x40 | ((20 + options.size()) / 4));
  put16(h, 2, static_cast<uint32_t>(20 + options.size() + body.size()));
  put16(h, 4, 0xBEEF);
  put16(h, 6, flags_offset);
  h[8] = ttl;
  h[9] = proto;
  std::copy(src.begin(), src.end(), h.begin() + 12);
  std::copy(dst.begin(), dst.end(), h.begin() + 16);
  h = concat(h, options);
  put16(h, 10, ref_checksum(h));
  return concat(h, body);
}

void fix_ipv4_header_checksum(Bytes& p) {
  const size_t ihl = (p[0] & 0x0F) * 4u;
  put16(p, 10, 0);
  put16(p, 10, ref_checksum(slice(p, 0, ihl)));
}

Bytes ipv4_udp(const Bytes& payload, const Bytes& options = {}, bool with_checksum = true) {
  const Bytes src = addr("192.0.2.1"), dst = addr("198.51.100.2");
  Bytes u = udp_segment(40000, 53, payload);
  if (with_checksum) {
    uint16_t c = ref_checksum(concat(pseudo4(src, dst, 17, u.size()), u));
    put16(u, 6, c == 0 ? 0xFFFF : c);
  }
  return ipv4(src, dst, 17, u, options);
}

// IPv6 header + extension headers (each already complete, chained by `nexts`) + body.
Bytes ipv6(const Bytes& src, const Bytes& dst, uint8_t first_next, const Bytes& after_header,
           uint8_t hop_limit = 64) {
  Bytes h(8, 0);
  h[0] = 0x60;
  put16(h, 4, static_cast<uint32_t>(after_header.size()));
  h[6] = first_next;
  h[7] = hop_limit;
  h = concat(concat(concat(h, src), dst), after_header);
  return h;
}

Bytes ipv6_udp(const Bytes& payload, const std::vector<std::pair<uint8_t, Bytes>>& ext = {},
               bool with_checksum = true) {
  const Bytes src = addr("2001:db8::10"), dst = addr("2001:db8:1::20");
  Bytes u = udp_segment(5000, 6000, payload);
  if (with_checksum) {
    uint16_t c = ref_checksum(concat(pseudo6(src, dst, 17, u.size()), u));
    put16(u, 6, c == 0 ? 0xFFFF : c);
  }
  // ext[i] = (type, body); chain so that each header's next is the following type.
  Bytes chain;
  for (size_t i = 0; i < ext.size(); ++i) {
    Bytes e = ext[i].second;
    e[0] = i + 1 < ext.size() ? ext[i + 1].first : 17;
    chain = concat(chain, e);
  }
  return ipv6(src, dst, ext.empty() ? 17 : ext[0].first, concat(chain, u));
}

// An 8-byte options extension header (hop-by-hop or destination options) with PadN.
Bytes options_ext(size_t units = 0) {
  Bytes e(8 * (units + 1), 0);
  e[1] = static_cast<uint8_t>(units);
  e[2] = 1;  // PadN
  e[3] = static_cast<uint8_t>(e.size() - 4);
  return e;
}

// ---- parse_udp_packet ----

const Bytes kKnownIpv4 = {0x45, 0x00, 0x00, 0x21, 0x12, 0x34, 0x00, 0x00, 0x40, 0x11, 0x54,
                          0x96, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0x04, 0xd2,
                          0x00, 0x35, 0x00, 0x0d, 0xa2, 0xf8, 'h',  'e',  'l',  'l',  'o'};
const Bytes kKnownIpv6 = {0x60, 0x00, 0x00, 0x00, 0x00, 0x0d, 0x11, 0x40, 0x20, 0x01, 0x0d,
                          0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                          0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00,
                          0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x14, 0xe9, 0x01, 0xbb,
                          0x00, 0x0d, 0x49, 0xe9, 'h',  'e',  'l',  'l',  'o'};
const Bytes kHello = {'h', 'e', 'l', 'l', 'o'};

TEST(ParseUdpPacketTest, ReferenceChecksumAgreesWithKnownPackets) {
  EXPECT_TRUE(sums_ok(slice(kKnownIpv4, 0, 20)));
  const Bytes udp4 = slice(kKnownIpv4, 20, 13);
  EXPECT_TRUE(sums_ok(concat(pseudo4(addr("10.0.0.1"), addr("10.0.0.2"), 17, 13), udp4)));
  const Bytes udp6 = slice(kKnownIpv6, 40, 13);
  EXPECT_TRUE(sums_ok(concat(pseudo6(addr("2001:db8::1"), addr("2001:db8::2"), 17, 13), udp6)));
}

TEST(ParseUdpPacketTest, ParsesKnownIpv4Packet) {
  const auto r = parse_udp_packet(kKnownIpv4);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->source, ep("10.0.0.1", 1234));
  EXPECT_EQ(r->destination, ep("10.0.0.2", 53));
  EXPECT_EQ(to_bytes(r->payload), kHello);
  EXPECT_EQ(r->payload.data(), kKnownIpv4.data() + 28);  // a view, not a copy
}

TEST(ParseUdpPacketTest, ParsesKnownIpv6Packet) {
  const auto r = parse_udp_packet(kKnownIpv6);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->source, ep("2001:db8::1", 5353));
  EXPECT_EQ(r->destination, ep("2001:db8::2", 443));
  EXPECT_EQ(to_bytes(r->payload), kHello);
}

TEST(ParseUdpPacketTest, ParsesHandBuiltPacketsOfManySizes) {
  for (size_t n : {0u, 1u, 2u, 3u, 17u, 512u, 1471u}) {
    const Bytes payload = pattern(n, static_cast<uint32_t>(n));
    const Bytes r4_packet = ipv4_udp(payload);
    const auto r4 = parse_udp_packet(r4_packet);
    ASSERT_TRUE(r4.ok()) << n << ": " << r4.error();
    EXPECT_EQ(to_bytes(r4->payload), payload);
    EXPECT_EQ(r4->source, ep("192.0.2.1", 40000));
    EXPECT_EQ(r4->destination, ep("198.51.100.2", 53));
    const Bytes r6_packet = ipv6_udp(payload);
    const auto r6 = parse_udp_packet(r6_packet);
    ASSERT_TRUE(r6.ok()) << n << ": " << r6.error();
    EXPECT_EQ(to_bytes(r6->payload), payload);
    EXPECT_EQ(r6->source, ep("2001:db8::10", 5000));
    EXPECT_EQ(r6->destination, ep("2001:db8:1::20", 6000));
  }
}

TEST(ParseUdpPacketTest, Ipv4OptionsAreSkipped) {
  for (size_t words : {1u, 2u, 10u}) {
    Bytes options(words * 4, 1);  // NOPs
    options.back() = 0;           // end of option list
    const Bytes p = ipv4_udp(kHello, options);
    EXPECT_EQ(p[0] & 0x0F, 5 + static_cast<int>(words));
    const auto r = parse_udp_packet(p);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(to_bytes(r->payload), kHello);
    EXPECT_EQ(r->destination.port, 53);
  }
}

TEST(ParseUdpPacketTest, RejectsBadVersions) {
  for (uint8_t version : {0, 1, 5, 7, 15}) {
    Bytes p = ipv4_udp(kHello);
    p[0] = static_cast<uint8_t>((version << 4) | 5);
    const auto r = parse_udp_packet(p);
    EXPECT_FALSE(r.ok()) << int{version};
    EXPECT_NE(r.error().find("version"), std::string::npos) << r.error();
  }
  // An IPv6 packet labelled 4 and vice versa.
  Bytes six = kKnownIpv6;
  six[0] = 0x45;
  EXPECT_FALSE(parse_udp_packet(six).ok());
  Bytes four = ipv4_udp(pattern(40));
  four[0] = 0x65;
  EXPECT_FALSE(parse_udp_packet(four).ok());
  EXPECT_FALSE(parse_udp_packet({}).ok());
}

TEST(ParseUdpPacketTest, RejectsIhlBelowFive) {
  for (uint8_t ihl = 0; ihl < 5; ++ihl) {
    Bytes p = ipv4_udp(kHello);
    p[0] = static_cast<uint8_t>(0x40 | ihl);
    fix_ipv4_header_checksum(p);
    const auto r = parse_udp_packet(p);
    EXPECT_FALSE(r.ok()) << int{ihl};
    EXPECT_NE(r.error().find("header length"), std::string::npos) << r.error();
  }
}

TEST(ParseUdpPacketTest, RejectsBadIpv4TotalLength) {
  Bytes p = ipv4_udp(kHello);
  put16(p, 2, 19);  // shorter than the header
  fix_ipv4_header_checksum(p);
  EXPECT_FALSE(parse_udp_packet(p).ok());
  put16(p, 2, static_cast<uint32_t>(p.size() + 1));  // longer than the buffer
  fix_ipv4_header_checksum(p);
  const auto r = parse_udp_packet(p);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error().find("truncated"), std::string::npos) << r.error();
  // IHL pointing past the buffer.
  Bytes q = ipv4_udp({});
  q[0] = 0x4F;  // 60-byte header, 28-byte buffer
  EXPECT_FALSE(parse_udp_packet(q).ok());
}

TEST(ParseUdpPacketTest, IgnoresTrailingBytesBeyondTotalLength) {
  Bytes p4 = ipv4_udp(kHello);
  p4.insert(p4.end(), {0xDE, 0xAD, 0xBE, 0xEF});
  const auto r4 = parse_udp_packet(p4);
  ASSERT_TRUE(r4.ok()) << r4.error();
  EXPECT_EQ(to_bytes(r4->payload), kHello);
  Bytes p6 = ipv6_udp(kHello);
  p6.insert(p6.end(), 7, 0xAA);
  const auto r6 = parse_udp_packet(p6);
  ASSERT_TRUE(r6.ok()) << r6.error();
  EXPECT_EQ(to_bytes(r6->payload), kHello);
}

TEST(ParseUdpPacketTest, RejectsBadIpv4HeaderChecksum) {
  Bytes p = ipv4_udp(kHello);
  p[10] ^= 0x01;
  const auto r = parse_udp_packet(p);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error().find("checksum"), std::string::npos) << r.error();
  Bytes q = ipv4_udp(kHello);
  q[8] = 63;  // TTL changed without fixing the checksum
  EXPECT_FALSE(parse_udp_packet(q).ok());
}

TEST(ParseUdpPacketTest, RejectsBadUdpChecksum) {
  for (bool v6 : {false, true}) {
    for (size_t flip : {0u, 6u, 8u, 12u}) {  // ports, checksum, payload
      Bytes p = v6 ? ipv6_udp(kHello) : ipv4_udp(kHello);
      const size_t udp = v6 ? 40 : 20;
      p[udp + flip] ^= 0x40;
      const auto r = parse_udp_packet(p);
      EXPECT_FALSE(r.ok()) << v6 << " " << flip;
      EXPECT_EQ(r.error(), "UDP checksum mismatch");
    }
    // A changed address is caught by the pseudo-header.
    Bytes p = v6 ? ipv6_udp(kHello) : ipv4_udp(kHello);
    p[v6 ? 39 : 19] ^= 0x01;
    if (!v6) fix_ipv4_header_checksum(p);
    const auto r = parse_udp_packet(p);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.error(), "UDP checksum mismatch");
  }
}

TEST(ParseUdpPacketTest, TrustedChecksumIsNotChecked) {
  // With checksum offload the field holds only the pseudo-header's partial sum (or anything):
  // the device vouched for it, so it is not checked. Lengths and the IPv4 header still are.
  for (bool v6 : {false, true}) {
    Bytes p = v6 ? ipv6_udp(kHello) : ipv4_udp(kHello);
    const size_t udp = v6 ? 40 : 20;
    p[udp + 6] ^= 0x5A;
    EXPECT_FALSE(parse_udp_packet(p).ok()) << v6;
    const auto r = parse_udp_packet(p, /*checksum_trusted=*/true);
    ASSERT_TRUE(r.ok()) << v6 << " " << r.error();
    EXPECT_EQ(to_bytes(r->payload), kHello);
    p[udp + 5] = 3;  // UDP length below 8
    EXPECT_FALSE(parse_udp_packet(p, true).ok()) << v6;
  }
  Bytes q = ipv4_udp(kHello);
  q[8] = 63;  // TTL changed without fixing the IPv4 header checksum
  EXPECT_FALSE(parse_udp_packet(q, true).ok());
}

TEST(ParseUdpPacketTest, Ipv4ZeroChecksumAccepted) {
  const Bytes p = ipv4_udp(kHello, {}, /*with_checksum=*/false);
  EXPECT_EQ(get16(p, 26), 0);
  const auto r = parse_udp_packet(p);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(to_bytes(r->payload), kHello);
}

TEST(ParseUdpPacketTest, Ipv6ZeroChecksumRejected) {
  const Bytes p = ipv6_udp(kHello, {}, /*with_checksum=*/false);
  EXPECT_EQ(get16(p, 46), 0);
  const auto r = parse_udp_packet(p);
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.error().empty());
}

TEST(ParseUdpPacketTest, RejectsBadUdpLengths) {
  for (bool v6 : {false, true}) {
    const size_t udp = v6 ? 40 : 20;
    for (uint32_t length : {0u, 7u}) {
      Bytes p = v6 ? ipv6_udp(kHello) : ipv4_udp(kHello);
      put16(p, udp + 4, length);
      EXPECT_FALSE(parse_udp_packet(p).ok()) << v6 << " " << length;
    }
    Bytes p = v6 ? ipv6_udp(kHello) : ipv4_udp(kHello);
    put16(p, udp + 4, 14);  // one more than the IP payload
    EXPECT_FALSE(parse_udp_packet(p).ok());
    // An IP payload too short for a UDP header.
    Bytes q = v6 ? ipv6(addr("::1"), addr("::2"), 17, {1, 2, 3, 4, 5, 6, 7})
                 : ipv4(addr("10.0.0.1"), addr("10.0.0.2"), 17, {1, 2, 3, 4, 5, 6, 7});
    const auto r = parse_udp_packet(q);
    EXPECT_FALSE(r.ok());
    EXPECT_NE(r.error().find("UDP"), std::string::npos) << r.error();
  }
}

TEST(ParseUdpPacketTest, UdpLengthShorterThanIpPayloadUsesUdpLength) {
  const Bytes src = addr("192.0.2.1"), dst = addr("198.51.100.2");
  Bytes u = udp_segment(1, 2, kHello);
  put16(u, 6, ref_checksum(concat(pseudo4(src, dst, 17, u.size()), u)));
  u.insert(u.end(), {9, 9, 9});  // IP-level padding after the datagram
  const Bytes r_packet = ipv4(src, dst, 17, u);
  const auto r = parse_udp_packet(r_packet);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(to_bytes(r->payload), kHello);
}

TEST(ParseUdpPacketTest, RejectsIpv4Fragments) {
  for (uint16_t flags_offset : {0x2000, 0x0001, 0x2010, 0x1FFF}) {
    const Bytes src = addr("192.0.2.1"), dst = addr("198.51.100.2");
    const Bytes p = ipv4(src, dst, 17, udp_segment(1, 2, kHello), {}, flags_offset);
    const auto r = parse_udp_packet(p);
    EXPECT_FALSE(r.ok()) << flags_offset;
    EXPECT_NE(r.error().find("fragmented"), std::string::npos) << r.error();
  }
  // DF alone is not fragmentation.
  Bytes p = ipv4_udp(kHello);
  put16(p, 6, 0x4000);
  fix_ipv4_header_checksum(p);
  EXPECT_TRUE(parse_udp_packet(p).ok());
}

TEST(ParseUdpPacketTest, RejectsOtherProtocols) {
  Bytes p = ipv4_udp(kHello);
  p[9] = 6;
  fix_ipv4_header_checksum(p);
  EXPECT_FALSE(parse_udp_packet(p).ok());
  Bytes q = ipv6_udp(kHello);
  q[6] = 6;
  EXPECT_FALSE(parse_udp_packet(q).ok());
  Bytes none = ipv6_udp(kHello);
  none[6] = 59;  // no next header
  EXPECT_FALSE(parse_udp_packet(none).ok());
}

TEST(ParseUdpPacketTest, RejectsIpv6PayloadLengthBeyondBuffer) {
  Bytes p = ipv6_udp(kHello);
  put16(p, 4, get16(p, 4) + 1);
  const auto r = parse_udp_packet(p);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error().find("truncated"), std::string::npos) << r.error();
}

TEST(ParseUdpPacketTest, SkipsIpv6ExtensionHeaders) {
  const std::vector<std::vector<std::pair<uint8_t, Bytes>>> chains = {
      {{0, options_ext()}},
      {{60, options_ext(2)}},
      {{0, options_ext(1)}, {60, options_ext()}},
      {{0, options_ext()}, {43, Bytes{0, 0, 0, 0, 0, 0, 0, 0}}, {60, options_ext(3)}},
  };
  for (const auto& chain : chains) {
    const Bytes payload = pattern(33);
    const Bytes r_packet = ipv6_udp(payload, chain);
    const auto r = parse_udp_packet(r_packet);
    ASSERT_TRUE(r.ok()) << chain.size() << ": " << r.error();
    EXPECT_EQ(to_bytes(r->payload), payload);
    EXPECT_EQ(r->source.port, 5000);
    EXPECT_EQ(r->destination.port, 6000);
  }
}

TEST(ParseUdpPacketTest, RejectsTruncatedIpv6ExtensionHeader) {
  // A hop-by-hop header claiming far more bytes than the packet holds.
  Bytes ext = options_ext();
  ext[1] = 200;
  EXPECT_FALSE(parse_udp_packet(ipv6_udp(kHello, {{0, ext}})).ok());
  // Only four bytes after the IPv6 header, next header hop-by-hop.
  EXPECT_FALSE(parse_udp_packet(ipv6(addr("::1"), addr("::2"), 0, {17, 0, 0, 0})).ok());
}

TEST(ParseUdpPacketTest, RejectsIpv6FragmentHeader) {
  const Bytes fragment{17, 0, 0x00, 0x01, 0x12, 0x34, 0x56, 0x78};  // offset 0, M set
  const auto r = parse_udp_packet(ipv6_udp(kHello, {{44, fragment}}));
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error().find("fragmented"), std::string::npos) << r.error();
  // Even an atomic fragment (offset 0, M clear) and one after a hop-by-hop header.
  const Bytes atomic{17, 0, 0, 0, 0, 0, 0, 1};
  EXPECT_FALSE(parse_udp_packet(ipv6_udp(kHello, {{44, atomic}})).ok());
  EXPECT_FALSE(parse_udp_packet(ipv6_udp(kHello, {{0, options_ext()}, {44, atomic}})).ok());
}

// Every strict prefix, copied to its own allocation so ASan sees any over-read.
TEST(ParseUdpPacketTest, TruncatedAtEveryLengthFailsWithoutCrashing) {
  const std::vector<Bytes> packets = {
      kKnownIpv4, kKnownIpv6, ipv4_udp(pattern(20), Bytes{1, 1, 1, 0}),
      ipv6_udp(pattern(20), {{0, options_ext(1)}, {60, options_ext()}})};
  for (const auto& full : packets) {
    ASSERT_TRUE(parse_udp_packet(full).ok());
    for (size_t n = 0; n < full.size(); ++n) {
      const Bytes prefix = slice(full, 0, n);
      const auto r = parse_udp_packet(prefix);
      EXPECT_FALSE(r.ok()) << "length " << n;
      EXPECT_FALSE(r.error().empty()) << "length " << n;
      // The other entry points must cope too.
      EXPECT_EQ(classify_icmp(prefix), IcmpKind::kMalformed) << "length " << n;
      Bytes copy = prefix;
      EXPECT_FALSE(make_echo_reply(copy));
      EXPECT_EQ(copy, prefix);
      EXPECT_TRUE(build_port_unreachable(prefix).empty()) << "length " << n;
    }
  }
}

TEST(ParseUdpPacketTest, RandomCorruptionNeverCrashes) {
  std::mt19937 rng(12345);
  const std::vector<Bytes> seeds = {kKnownIpv4, kKnownIpv6,
                                    ipv6_udp(pattern(50), {{0, options_ext()}}),
                                    ipv4_udp(pattern(9), Bytes{1, 1, 1, 0})};
  size_t accepted = 0;
  for (int round = 0; round < 4000; ++round) {
    Bytes p = seeds[static_cast<size_t>(round) % seeds.size()];
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) p[rng() % p.size()] = static_cast<uint8_t>(rng());
    p.resize(rng() % (p.size() + 1));
    const auto r = parse_udp_packet(p);
    if (r.ok()) {
      ++accepted;
      // A view never escapes the buffer.
      EXPECT_GE(r->payload.data(), p.data());
      EXPECT_LE(r->payload.data() + r->payload.size(), p.data() + p.size());
    }
    (void)classify_icmp(p);
    (void)build_port_unreachable(p);
    Bytes copy = p;
    (void)make_echo_reply(copy);
  }
  EXPECT_LT(accepted, 4000u);
}

// ---- build_udp_packets ----

TEST(BuildUdpPacketsTest, ReproducesKnownIpv4Bytes) {
  const auto packets =
      build_udp_packets(ep("10.0.0.1", 1234), ep("10.0.0.2", 53), kHello, 1500, 0xABCD1234);
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_EQ(packets[0], kKnownIpv4);  // ID = identification & 0xFFFF = 0x1234
}

TEST(BuildUdpPacketsTest, ReproducesKnownIpv6Bytes) {
  const auto packets =
      build_udp_packets(ep("2001:db8::1", 5353), ep("2001:db8::2", 443), kHello, 1500, 7);
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_EQ(packets[0], kKnownIpv6);
}

// Headers written apart from the payload, followed by it, are the known packets byte for byte;
// a packet that needs fragmenting, or cannot be built, gets no headers.
TEST(WriteUdpHeadersTest, HeadersPlusPayloadAreTheKnownPackets) {
  std::array<uint8_t, kMaxUdpHeadersSize> headers{};
  size_t size = write_udp_headers(ep("10.0.0.1", 1234), ep("10.0.0.2", 53), kHello, 1500,
                                  0xABCD1234, headers);
  ASSERT_EQ(size, 28u);
  std::vector<uint8_t> packet(headers.begin(), headers.begin() + size);
  packet.insert(packet.end(), kHello.begin(), kHello.end());
  EXPECT_EQ(packet, kKnownIpv4);

  size =
      write_udp_headers(ep("2001:db8::1", 5353), ep("2001:db8::2", 443), kHello, 1500, 7, headers);
  ASSERT_EQ(size, 48u);
  packet.assign(headers.begin(), headers.begin() + size);
  packet.insert(packet.end(), kHello.begin(), kHello.end());
  EXPECT_EQ(packet, kKnownIpv6);

  const std::vector<uint8_t> big(1500, 0x5A);
  EXPECT_EQ(write_udp_headers(ep("10.0.0.1", 1), ep("10.0.0.2", 2), big, 1500, 1, headers), 0u);
  EXPECT_EQ(write_udp_headers(ep("10.0.0.1", 1), ep("2001:db8::2", 2), kHello, 1500, 1, headers),
            0u);
}

// Segment headers carry the whole run's lengths and only the pseudo-header's sum; a device that
// completes the checksum (sum from the UDP header on, inverted into the field) makes exactly the
// packet build_udp_packets builds for the same payload, in both families.
TEST(WriteUdpSegmentHeadersTest, CompletedChecksumGivesTheBuiltPacket) {
  const Bytes payload = pattern(2800, 9);
  for (const auto& [from, to] : {std::pair{ep("192.0.2.7", 443), ep("198.18.0.2", 40001)},
                                 std::pair{ep("2001:db8::7", 443), ep("fd00::2", 40001)}}) {
    std::array<uint8_t, kMaxUdpHeadersSize> headers{};
    const size_t size = write_udp_segment_headers(from, to, payload.size(), 0x10005, headers);
    const bool v4 = from.address.is_v4();
    ASSERT_EQ(size, udp_headers_size(v4));
    Bytes packet(headers.begin(), headers.begin() + size);
    packet.insert(packet.end(), payload.begin(), payload.end());
    const size_t udp = size - 8;
    EXPECT_EQ(get16(packet, udp + 4), 8 + payload.size());
    if (v4) {
      EXPECT_EQ(get16(packet, 2), packet.size());
      EXPECT_EQ(get16(packet, 4), 0x0005);
      EXPECT_TRUE(sums_ok(slice(packet, 0, 20)));
    } else {
      EXPECT_EQ(get16(packet, 4), 8 + payload.size());
    }
    // The field is the pseudo-header's sum, not inverted.
    const Bytes pseudo = v4 ? pseudo4(addr("192.0.2.7"), addr("198.18.0.2"), 17, 8 + payload.size())
                            : pseudo6(addr("2001:db8::7"), addr("fd00::2"), 17, 8 + payload.size());
    uint16_t field;
    std::memcpy(&field, packet.data() + udp + 6, 2);
    EXPECT_EQ(field, ones_complement_sum(pseudo));
    // Complete it as the device does.
    const auto completed =
        static_cast<uint16_t>(~ones_complement_sum(slice(packet, udp, 8 + 2800)));
    std::memcpy(packet.data() + udp + 6, &completed, 2);
    const auto built = build_udp_packets(from, to, payload, 65535, 0x10005);
    ASSERT_EQ(built.size(), 1u);
    EXPECT_EQ(packet, built[0]);
  }
  std::array<uint8_t, kMaxUdpHeadersSize> headers{};
  EXPECT_EQ(write_udp_segment_headers(ep("10.0.0.1", 1), ep("10.0.0.2", 2), 65507, 1, headers),
            28u);
  EXPECT_EQ(write_udp_segment_headers(ep("10.0.0.1", 1), ep("10.0.0.2", 2), 65508, 1, headers), 0u);
  EXPECT_EQ(write_udp_segment_headers(ep("10.0.0.1", 1), ep("fd00::2", 2), 100, 1, headers), 0u);
}

TEST(BuildUdpPacketsTest, SmallPayloadRoundTrips) {
  for (size_t n : {0u, 1u, 100u, 1472u}) {
    const Bytes payload = pattern(n, 3);
    const auto v4 =
        build_udp_packets(ep("198.18.0.1", 53), ep("198.18.0.2", 40001), payload, 1500, 0x10002);
    ASSERT_EQ(v4.size(), 1u) << n;
    const Bytes& p = v4[0];
    EXPECT_EQ(p.size(), 28 + n);
    EXPECT_EQ(p[0], 0x45);
    EXPECT_EQ(get16(p, 2), 28 + n);
    EXPECT_EQ(get16(p, 4), 0x0002);
    EXPECT_EQ(get16(p, 6), 0);  // no DF, no fragment
    EXPECT_EQ(p[8], 64);
    EXPECT_EQ(p[9], 17);
    EXPECT_TRUE(sums_ok(slice(p, 0, 20)));
    EXPECT_TRUE(sums_ok(
        concat(pseudo4(addr("198.18.0.1"), addr("198.18.0.2"), 17, 8 + n), slice(p, 20, 8 + n))));
    const auto r4 = parse_udp_packet(p);
    ASSERT_TRUE(r4.ok()) << r4.error();
    EXPECT_EQ(to_bytes(r4->payload), payload);
    EXPECT_EQ(r4->source, ep("198.18.0.1", 53));
    EXPECT_EQ(r4->destination, ep("198.18.0.2", 40001));

    const auto v6 =
        build_udp_packets(ep("fd00::1", 53), ep("fd00::2", 40001), payload, 1520, 0x10002);
    ASSERT_EQ(v6.size(), 1u) << n;
    const Bytes& q = v6[0];
    EXPECT_EQ(q.size(), 48 + n);
    EXPECT_EQ(q[0], 0x60);
    EXPECT_EQ(q[1], 0);
    EXPECT_EQ(get16(q, 2), 0);
    EXPECT_EQ(get16(q, 4), 8 + n);
    EXPECT_EQ(q[6], 17);
    EXPECT_EQ(q[7], 64);
    EXPECT_TRUE(
        sums_ok(concat(pseudo6(addr("fd00::1"), addr("fd00::2"), 17, 8 + n), slice(q, 40, 8 + n))));
    const auto r6 = parse_udp_packet(q);
    ASSERT_TRUE(r6.ok()) << r6.error();
    EXPECT_EQ(to_bytes(r6->payload), payload);
    EXPECT_EQ(r6->source, ep("fd00::1", 53));
  }
}

TEST(BuildUdpPacketsTest, ExactlyMtuIsNotFragmented) {
  EXPECT_EQ(build_udp_packets(ep("10.0.0.1", 1), ep("10.0.0.2", 2), pattern(1472), 1500, 1).size(),
            1u);
  EXPECT_EQ(build_udp_packets(ep("10.0.0.1", 1), ep("10.0.0.2", 2), pattern(1473), 1500, 1).size(),
            2u);
  EXPECT_EQ(build_udp_packets(ep("::1", 1), ep("::2", 2), pattern(1232), 1280, 1).size(), 1u);
  EXPECT_EQ(build_udp_packets(ep("::1", 1), ep("::2", 2), pattern(1233), 1280, 1).size(), 2u);
}

// Computes the payload whose UDP checksum comes out as zero, which must be sent as 0xFFFF.
TEST(BuildUdpPacketsTest, ZeroChecksumIsSentAsAllOnes) {
  for (bool v6 : {false, true}) {
    const Endpoint src = v6 ? ep("2001:db8::5", 1000) : ep("10.1.2.3", 1000);
    const Endpoint dst = v6 ? ep("2001:db8::6", 2000) : ep("10.3.2.1", 2000);
    const auto probe = build_udp_packets(src, dst, Bytes{0, 0}, 1500, 0);
    ASSERT_EQ(probe.size(), 1u);
    const size_t udp = v6 ? 40 : 20;
    const uint16_t c = get16(probe[0], udp + 6);
    // Adding the word c to a sum whose complement is c gives 0xFFFF: checksum 0.
    const Bytes payload{static_cast<uint8_t>(c >> 8), static_cast<uint8_t>(c & 0xFF)};
    const auto packets = build_udp_packets(src, dst, payload, 1500, 0);
    ASSERT_EQ(packets.size(), 1u);
    EXPECT_EQ(get16(packets[0], udp + 6), 0xFFFF) << v6;
    const auto r = parse_udp_packet(packets[0]);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(to_bytes(r->payload), payload);
  }
}

// Reassembles IPv4 fragments by offset and returns a whole, checksummed packet.
Bytes reassemble_ipv4(const std::vector<Bytes>& fragments) {
  std::map<size_t, Bytes> pieces;
  for (const auto& f : fragments) {
    const size_t ihl = (f[0] & 0x0F) * 4u;
    pieces[(get16(f, 6) & 0x1FFF) * 8u] = slice(f, ihl, get16(f, 2) - ihl);
  }
  Bytes data;
  for (const auto& [offset, piece] : pieces) {
    EXPECT_EQ(offset, data.size());
    data = concat(data, piece);
  }
  Bytes header = slice(fragments[0], 0, 20);
  put16(header, 2, static_cast<uint32_t>(20 + data.size()));
  put16(header, 6, 0);
  fix_ipv4_header_checksum(header);
  return concat(header, data);
}

TEST(BuildUdpPacketsTest, FragmentsIpv4) {
  const Bytes payload = pattern(8192, 9);
  const auto fragments =
      build_udp_packets(ep("192.0.2.9", 5000), ep("203.0.113.7", 443), payload, 1500, 0xCAFEBABE);
  ASSERT_EQ(fragments.size(), 6u);  // 8200 bytes, 1480 per fragment
  Bytes stream;
  for (size_t i = 0; i < fragments.size(); ++i) {
    const Bytes& f = fragments[i];
    const bool last = i + 1 == fragments.size();
    EXPECT_LE(f.size(), 1500u);
    EXPECT_EQ(f[0], 0x45);
    EXPECT_EQ(get16(f, 2), f.size());
    EXPECT_EQ(get16(f, 4), 0xBABE);  // same ID on all
    const uint16_t flags_offset = get16(f, 6);
    EXPECT_EQ((flags_offset & 0x2000) != 0, !last) << i;
    EXPECT_EQ(flags_offset & 0x4000, 0);  // no DF
    EXPECT_EQ((flags_offset & 0x1FFF) * 8u, stream.size()) << i;
    if (!last) {
      EXPECT_EQ((f.size() - 20) % 8, 0u) << i;
    }
    EXPECT_EQ(f[8], 64);
    EXPECT_EQ(f[9], 17);
    EXPECT_TRUE(sums_ok(slice(f, 0, 20))) << i;
    const auto r = parse_udp_packet(f);
    EXPECT_FALSE(r.ok());
    EXPECT_NE(r.error().find("fragmented"), std::string::npos);
    stream = concat(stream, slice(f, 20, f.size() - 20));
  }
  // The fragments together carry exactly the UDP header and payload.
  ASSERT_EQ(stream.size(), 8u + payload.size());
  EXPECT_EQ(get16(stream, 0), 5000);
  EXPECT_EQ(get16(stream, 2), 443);
  EXPECT_EQ(get16(stream, 4), 8u + payload.size());
  EXPECT_EQ(slice(stream, 8, payload.size()), payload);

  std::vector<Bytes> shuffled(fragments.rbegin(), fragments.rend());
  const Bytes r_packet = reassemble_ipv4(shuffled);
  const auto r = parse_udp_packet(r_packet);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(to_bytes(r->payload), payload);
  EXPECT_EQ(r->source, ep("192.0.2.9", 5000));
}

TEST(BuildUdpPacketsTest, FragmentsIpv4AtOddMtusAndLargestPayload) {
  for (size_t mtu : {68u, 69u, 577u, 1001u, 9000u}) {
    for (size_t n : {1000u, 65507u}) {
      const Bytes payload = pattern(n, static_cast<uint32_t>(mtu));
      const auto fragments =
          build_udp_packets(ep("10.0.0.1", 7), ep("10.0.0.2", 9), payload, mtu, 42);
      ASSERT_FALSE(fragments.empty()) << mtu << " " << n;
      for (size_t i = 0; i < fragments.size(); ++i) {
        EXPECT_LE(fragments[i].size(), mtu);
        if (i + 1 < fragments.size()) {
          EXPECT_EQ((fragments[i].size() - 20) % 8, 0u);
        }
      }
      const Bytes r_packet = reassemble_ipv4(fragments);
      const auto r = parse_udp_packet(r_packet);
      ASSERT_TRUE(r.ok()) << mtu << " " << n << ": " << r.error();
      EXPECT_EQ(to_bytes(r->payload), payload);
    }
  }
}

// Reassembles IPv6 fragments: unfragmentable part + data, next header from the fragment header.
Bytes reassemble_ipv6(const std::vector<Bytes>& fragments) {
  std::map<size_t, Bytes> pieces;
  uint8_t next = 0;
  for (const auto& f : fragments) {
    next = f[40];
    pieces[get16(f, 42) & 0xFFF8u] = slice(f, 48, f.size() - 48);
  }
  Bytes data;
  for (const auto& [offset, piece] : pieces) {
    EXPECT_EQ(offset, data.size());
    data = concat(data, piece);
  }
  Bytes header = slice(fragments[0], 0, 40);
  header[6] = next;
  put16(header, 4, static_cast<uint32_t>(data.size()));
  return concat(header, data);
}

TEST(BuildUdpPacketsTest, FragmentsIpv6) {
  const Bytes payload = pattern(8192, 11);
  const auto fragments =
      build_udp_packets(ep("2001:db8::a", 5000), ep("2001:db8::b", 443), payload, 1280, 0xCAFEBABE);
  ASSERT_EQ(fragments.size(), 7u);  // 8200 bytes, 1232 per fragment
  Bytes stream;
  for (size_t i = 0; i < fragments.size(); ++i) {
    const Bytes& f = fragments[i];
    const bool last = i + 1 == fragments.size();
    ASSERT_GE(f.size(), 48u);
    EXPECT_LE(f.size(), 1280u);
    EXPECT_EQ(f[0], 0x60);
    EXPECT_EQ(get16(f, 4), f.size() - 40);
    EXPECT_EQ(f[6], 44);
    EXPECT_EQ(f[7], 64);
    EXPECT_EQ(f[40], 17);  // fragment header: next header
    EXPECT_EQ(f[41], 0);
    const uint16_t offset_flags = get16(f, 42);
    EXPECT_EQ((offset_flags & 1) != 0, !last) << i;
    EXPECT_EQ(offset_flags & 6, 0);
    EXPECT_EQ(offset_flags & 0xFFF8u, stream.size()) << i;
    EXPECT_EQ(get16(f, 44), 0xCAFE);
    EXPECT_EQ(get16(f, 46), 0xBABE);
    if (!last) {
      EXPECT_EQ((f.size() - 48) % 8, 0u) << i;
    }
    EXPECT_FALSE(parse_udp_packet(f).ok());
    stream = concat(stream, slice(f, 48, f.size() - 48));
  }
  ASSERT_EQ(stream.size(), 8u + payload.size());
  EXPECT_EQ(get16(stream, 0), 5000);
  EXPECT_EQ(get16(stream, 4), 8u + payload.size());
  EXPECT_EQ(slice(stream, 8, payload.size()), payload);

  const Bytes r_packet = reassemble_ipv6(fragments);
  const auto r = parse_udp_packet(r_packet);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(to_bytes(r->payload), payload);
  EXPECT_EQ(r->destination, ep("2001:db8::b", 443));
}

TEST(BuildUdpPacketsTest, FragmentsLargestIpv6Payload) {
  const Bytes payload = pattern(65527, 5);
  for (size_t mtu : {1280u, 1500u, 1283u}) {
    const auto fragments = build_udp_packets(ep("fd00::1", 1), ep("fd00::2", 2), payload, mtu, 1);
    ASSERT_FALSE(fragments.empty());
    for (const auto& f : fragments) EXPECT_LE(f.size(), mtu);
    const Bytes r_packet = reassemble_ipv6(fragments);
    const auto r = parse_udp_packet(r_packet);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(to_bytes(r->payload), payload);
  }
}

TEST(BuildUdpPacketsTest, OversizePayloadGivesNothing) {
  EXPECT_TRUE(
      build_udp_packets(ep("10.0.0.1", 1), ep("10.0.0.2", 2), pattern(65508), 1500, 1).empty());
  EXPECT_TRUE(
      build_udp_packets(ep("10.0.0.1", 1), ep("10.0.0.2", 2), pattern(65508), 65535, 1).empty());
  EXPECT_EQ(
      build_udp_packets(ep("10.0.0.1", 1), ep("10.0.0.2", 2), pattern(65507), 65535, 1).size(), 1u);
  EXPECT_TRUE(build_udp_packets(ep("::1", 1), ep("::2", 2), pattern(65528), 1500, 1).empty());
  EXPECT_FALSE(build_udp_packets(ep("::1", 1), ep("::2", 2), pattern(65527), 1500, 1).empty());
}

TEST(BuildUdpPacketsTest, MtuBelowMinimumGivesNothing) {
  EXPECT_TRUE(build_udp_packets(ep("10.0.0.1", 1), ep("10.0.0.2", 2), kHello, 67, 1).empty());
  EXPECT_TRUE(build_udp_packets(ep("10.0.0.1", 1), ep("10.0.0.2", 2), kHello, 0, 1).empty());
  EXPECT_EQ(build_udp_packets(ep("10.0.0.1", 1), ep("10.0.0.2", 2), kHello, 68, 1).size(), 1u);
  EXPECT_TRUE(build_udp_packets(ep("::1", 1), ep("::2", 2), kHello, 1279, 1).empty());
  EXPECT_EQ(build_udp_packets(ep("::1", 1), ep("::2", 2), kHello, 1280, 1).size(), 1u);
}

TEST(BuildUdpPacketsTest, MixedFamiliesGiveNothing) {
  EXPECT_TRUE(build_udp_packets(ep("10.0.0.1", 1), ep("::2", 2), kHello, 1500, 1).empty());
  EXPECT_TRUE(build_udp_packets(ep("::1", 1), ep("10.0.0.2", 2), kHello, 1500, 1).empty());
}

// ---- ICMP ----

Bytes icmp_message(uint8_t type, uint8_t code, const Bytes& rest) {
  Bytes m{type, code, 0, 0};
  return concat(m, rest);
}
Bytes echo_body(size_t data) {
  return concat(Bytes{0x12, 0x34, 0x00, 0x07}, pattern(data, 2));
}

Bytes icmpv4_packet(uint8_t type, uint8_t code, const Bytes& rest, const Bytes& options = {},
                    uint8_t ttl = 64) {
  Bytes m = icmp_message(type, code, rest);
  put16(m, 2, ref_checksum(m));
  return ipv4(addr("10.0.0.5"), addr("8.8.4.4"), 1, m, options, 0, ttl);
}

Bytes icmpv6_packet(uint8_t type, uint8_t code, const Bytes& rest, uint8_t hop_limit = 64) {
  const Bytes src = addr("fd00::5"), dst = addr("2001:4860::8888");
  Bytes m = icmp_message(type, code, rest);
  put16(m, 2, ref_checksum(concat(pseudo6(src, dst, 58, m.size()), m)));
  return ipv6(src, dst, 58, m, hop_limit);
}

TEST(IcmpTest, Ipv4EchoReply) {
  const Bytes request = icmpv4_packet(8, 0, echo_body(37), Bytes{1, 1, 1, 0}, 3);  // odd length
  ASSERT_EQ(classify_icmp(request), IcmpKind::kEchoRequest);
  Bytes reply = request;
  ASSERT_TRUE(make_echo_reply(reply));
  ASSERT_EQ(reply.size(), request.size());
  const size_t ihl = 24;
  EXPECT_EQ(slice(reply, 12, 4), addr("8.8.4.4"));
  EXPECT_EQ(slice(reply, 16, 4), addr("10.0.0.5"));
  EXPECT_EQ(reply[8], 64);
  EXPECT_EQ(slice(reply, 20, 4), slice(request, 20, 4));  // options kept
  EXPECT_TRUE(sums_ok(slice(reply, 0, ihl)));
  EXPECT_EQ(reply[ihl], 0);
  EXPECT_EQ(reply[ihl + 1], 0);
  EXPECT_TRUE(sums_ok(slice(reply, ihl, reply.size() - ihl)));
  EXPECT_EQ(slice(reply, ihl + 4, reply.size() - ihl - 4),
            slice(request, ihl + 4, request.size() - ihl - 4));  // id, seq, data
  EXPECT_EQ(classify_icmp(reply), IcmpKind::kOther);
  Bytes again = reply;
  EXPECT_FALSE(make_echo_reply(again));
  EXPECT_EQ(again, reply);
}

TEST(IcmpTest, Ipv4EchoReplyKeepsCodeAndHandlesTrailingBytes) {
  Bytes request = icmpv4_packet(8, 5, echo_body(8));
  request.insert(request.end(), {0xEE, 0xEE, 0xEE});  // beyond total length
  Bytes reply = request;
  ASSERT_TRUE(make_echo_reply(reply));
  EXPECT_EQ(reply[20], 0);
  EXPECT_EQ(reply[21], 5);
  EXPECT_TRUE(sums_ok(slice(reply, 20, get16(reply, 2) - 20)));
  EXPECT_EQ(slice(reply, reply.size() - 3, 3), (Bytes{0xEE, 0xEE, 0xEE}));
}

TEST(IcmpTest, Ipv6EchoReply) {
  const Bytes request = icmpv6_packet(128, 0, echo_body(51), 7);
  ASSERT_EQ(classify_icmp(request), IcmpKind::kEchoRequest);
  Bytes reply = request;
  ASSERT_TRUE(make_echo_reply(reply));
  EXPECT_EQ(slice(reply, 8, 16), addr("2001:4860::8888"));
  EXPECT_EQ(slice(reply, 24, 16), addr("fd00::5"));
  EXPECT_EQ(reply[7], 64);
  EXPECT_EQ(reply[6], 58);
  EXPECT_EQ(get16(reply, 4), get16(request, 4));
  EXPECT_EQ(reply[40], 129);
  EXPECT_EQ(reply[41], 0);
  const Bytes message = slice(reply, 40, reply.size() - 40);
  EXPECT_TRUE(sums_ok(
      concat(pseudo6(addr("2001:4860::8888"), addr("fd00::5"), 58, message.size()), message)));
  // Without the pseudo-header the sum would not verify.
  EXPECT_FALSE(sums_ok(message));
  EXPECT_EQ(slice(reply, 44, reply.size() - 44), slice(request, 44, request.size() - 44));
  EXPECT_EQ(classify_icmp(reply), IcmpKind::kOther);
}

TEST(IcmpTest, NonEchoIsLeftUnchanged) {
  const std::vector<Bytes> cases = {
      icmpv4_packet(0, 0, echo_body(4)),    // echo reply
      icmpv4_packet(3, 1, Bytes(28, 0)),    // unreachable
      icmpv6_packet(129, 0, echo_body(4)),  // echo reply
      icmpv6_packet(135, 0, Bytes(20, 0)),  // neighbour solicitation
      ipv4_udp(kHello),                     // not ICMP
      ipv6_udp(kHello),                     // not ICMP
      icmpv4_packet(8, 0, Bytes{1, 2}),     // echo request shorter than 8 bytes
      Bytes{0x45},                          // garbage
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    Bytes copy = cases[i];
    EXPECT_FALSE(make_echo_reply(copy)) << i;
    EXPECT_EQ(copy, cases[i]) << i;
  }
  Bytes bad = icmpv4_packet(8, 0, echo_body(10));
  bad[25] ^= 0xFF;  // ICMP checksum no longer matches
  Bytes copy = bad;
  EXPECT_FALSE(make_echo_reply(copy));
  EXPECT_EQ(copy, bad);
  Bytes empty;
  EXPECT_FALSE(make_echo_reply(empty));
}

TEST(IcmpTest, Classify) {
  EXPECT_EQ(classify_icmp(icmpv4_packet(8, 0, echo_body(0))), IcmpKind::kEchoRequest);
  EXPECT_EQ(classify_icmp(icmpv6_packet(128, 0, echo_body(0))), IcmpKind::kEchoRequest);
  EXPECT_EQ(classify_icmp(icmpv4_packet(0, 0, echo_body(4))), IcmpKind::kOther);
  EXPECT_EQ(classify_icmp(icmpv4_packet(11, 0, Bytes(28, 0))), IcmpKind::kOther);
  EXPECT_EQ(classify_icmp(icmpv6_packet(1, 4, Bytes(44, 0))), IcmpKind::kOther);
  EXPECT_EQ(classify_icmp(icmpv6_packet(136, 0, Bytes(20, 0))), IcmpKind::kOther);
  EXPECT_EQ(classify_icmp(ipv4_udp(kHello)), IcmpKind::kNotIcmp);
  EXPECT_EQ(classify_icmp(ipv6_udp(kHello)), IcmpKind::kNotIcmp);
  Bytes tcp = ipv4(addr("1.1.1.1"), addr("2.2.2.2"), 6, Bytes(20, 0));
  EXPECT_EQ(classify_icmp(tcp), IcmpKind::kNotIcmp);
  // ICMPv4 protocol number inside IPv6 is not ICMPv6.
  EXPECT_EQ(classify_icmp(ipv6(addr("::1"), addr("::2"), 1, icmp_message(8, 0, echo_body(0)))),
            IcmpKind::kNotIcmp);

  Bytes bad4 = icmpv4_packet(8, 0, echo_body(3));
  bad4.back() ^= 0x01;
  EXPECT_EQ(classify_icmp(bad4), IcmpKind::kMalformed);
  Bytes bad6 = icmpv6_packet(128, 0, echo_body(3));
  bad6[8] ^= 0x01;  // source address: the pseudo-header no longer matches
  EXPECT_EQ(classify_icmp(bad6), IcmpKind::kMalformed);
  EXPECT_EQ(classify_icmp(icmpv4_packet(8, 0, Bytes{1, 2})), IcmpKind::kMalformed);
  EXPECT_EQ(classify_icmp(ipv4(addr("1.1.1.1"), addr("2.2.2.2"), 1, Bytes{8, 0})),
            IcmpKind::kMalformed);
  EXPECT_EQ(classify_icmp({}), IcmpKind::kMalformed);
  EXPECT_EQ(classify_icmp(Bytes{0x70, 0, 0, 0}), IcmpKind::kMalformed);
  // A fragmented ICMP packet cannot be answered.
  Bytes frag =
      ipv4(addr("1.1.1.1"), addr("2.2.2.2"), 1, icmp_message(8, 0, echo_body(4)), {}, 0x2000);
  EXPECT_EQ(classify_icmp(frag), IcmpKind::kOther);
}

TEST(IcmpTest, EchoRequestAfterIpv6ExtensionHeader) {
  const Bytes src = addr("fd00::5"), dst = addr("fd00::6");
  Bytes m = icmp_message(128, 0, echo_body(6));
  put16(m, 2, ref_checksum(concat(pseudo6(src, dst, 58, m.size()), m)));
  Bytes ext = options_ext();
  ext[0] = 58;
  const Bytes request = ipv6(src, dst, 60, concat(ext, m));
  ASSERT_EQ(classify_icmp(request), IcmpKind::kEchoRequest);
  Bytes reply = request;
  ASSERT_TRUE(make_echo_reply(reply));
  EXPECT_EQ(reply[48], 129);
  const Bytes message = slice(reply, 48, reply.size() - 48);
  EXPECT_TRUE(sums_ok(concat(pseudo6(dst, src, 58, message.size()), message)));
}

// ---- build_port_unreachable ----

TEST(PortUnreachableTest, Ipv4) {
  const Bytes original = ipv4_udp(pattern(100));
  const Bytes out = build_port_unreachable(original);
  ASSERT_EQ(out.size(), 20u + 8 + 20 + 8);
  EXPECT_EQ(out[0], 0x45);
  EXPECT_EQ(get16(out, 2), out.size());
  EXPECT_EQ(get16(out, 6) & 0x4000, 0);
  EXPECT_EQ(out[8], 64);
  EXPECT_EQ(out[9], 1);
  EXPECT_EQ(slice(out, 12, 4), addr("198.51.100.2"));  // from the original destination
  EXPECT_EQ(slice(out, 16, 4), addr("192.0.2.1"));
  EXPECT_TRUE(sums_ok(slice(out, 0, 20)));
  EXPECT_EQ(out[20], 3);
  EXPECT_EQ(out[21], 3);
  EXPECT_EQ(slice(out, 24, 4), (Bytes{0, 0, 0, 0}));
  EXPECT_TRUE(sums_ok(slice(out, 20, out.size() - 20)));
  EXPECT_EQ(slice(out, 28, 28), slice(original, 0, 28));
  EXPECT_EQ(classify_icmp(out), IcmpKind::kOther);
}

TEST(PortUnreachableTest, Ipv4WithOptionsQuotesWholeHeader) {
  const Bytes original = ipv4_udp(kHello, Bytes{1, 1, 1, 1, 1, 1, 1, 0});  // IHL 7
  const Bytes out = build_port_unreachable(original);
  ASSERT_EQ(out.size(), 20u + 8 + 28 + 8);
  EXPECT_EQ(slice(out, 28, 36), slice(original, 0, 36));
  EXPECT_TRUE(sums_ok(slice(out, 0, 20)));
  EXPECT_TRUE(sums_ok(slice(out, 20, out.size() - 20)));
  // A payload shorter than 8 bytes is quoted as far as it goes.
  const Bytes tiny = ipv4(addr("10.0.0.1"), addr("10.0.0.2"), 17, Bytes{1, 2, 3});
  const Bytes out2 = build_port_unreachable(tiny);
  ASSERT_EQ(out2.size(), 20u + 8 + 23);
  EXPECT_EQ(slice(out2, 28, 23), tiny);
  EXPECT_TRUE(sums_ok(slice(out2, 20, out2.size() - 20)));  // odd length
}

TEST(PortUnreachableTest, Ipv6Small) {
  const Bytes original = ipv6_udp(pattern(30));
  const Bytes out = build_port_unreachable(original);
  ASSERT_EQ(out.size(), 40u + 8 + original.size());
  EXPECT_EQ(out[0], 0x60);
  EXPECT_EQ(get16(out, 4), out.size() - 40);
  EXPECT_EQ(out[6], 58);
  EXPECT_EQ(out[7], 64);
  EXPECT_EQ(slice(out, 8, 16), addr("2001:db8:1::20"));
  EXPECT_EQ(slice(out, 24, 16), addr("2001:db8::10"));
  EXPECT_EQ(out[40], 1);
  EXPECT_EQ(out[41], 4);
  EXPECT_EQ(slice(out, 44, 4), (Bytes{0, 0, 0, 0}));
  const Bytes message = slice(out, 40, out.size() - 40);
  EXPECT_TRUE(sums_ok(
      concat(pseudo6(addr("2001:db8:1::20"), addr("2001:db8::10"), 58, message.size()), message)));
  EXPECT_EQ(slice(out, 48, original.size()), original);
  EXPECT_EQ(classify_icmp(out), IcmpKind::kOther);
}

TEST(PortUnreachableTest, Ipv6LargeIsCappedAt1280) {
  for (size_t n : {1184u, 1185u, 1400u, 8000u}) {
    Bytes original = ipv6_udp(pattern(n));
    original.insert(original.end(), 5, 0x77);  // trailing bytes are not quoted
    const Bytes out = build_port_unreachable(original);
    const size_t whole = 48 + n;
    const size_t expected = std::min<size_t>(1280, 48 + whole);
    ASSERT_EQ(out.size(), expected) << n;
    EXPECT_LE(out.size(), 1280u);
    EXPECT_EQ(get16(out, 4), out.size() - 40);
    EXPECT_EQ(slice(out, 48, out.size() - 48), slice(original, 0, out.size() - 48));
    const Bytes message = slice(out, 40, out.size() - 40);
    EXPECT_TRUE(sums_ok(concat(
        pseudo6(addr("2001:db8:1::20"), addr("2001:db8::10"), 58, message.size()), message)));
  }
}

TEST(PortUnreachableTest, MalformedOriginalGivesNothing) {
  EXPECT_TRUE(build_port_unreachable({}).empty());
  EXPECT_TRUE(build_port_unreachable(Bytes{0x45, 0, 0}).empty());
  Bytes bad_sum = ipv4_udp(kHello);
  bad_sum[10] ^= 1;
  EXPECT_TRUE(build_port_unreachable(bad_sum).empty());
  Bytes long6 = ipv6_udp(kHello);
  put16(long6, 4, 500);
  EXPECT_TRUE(build_port_unreachable(long6).empty());
  Bytes v9 = ipv4_udp(kHello);
  v9[0] = 0x95;
  EXPECT_TRUE(build_port_unreachable(v9).empty());
}

}  // namespace
}  // namespace t2s::net
