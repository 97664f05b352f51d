// Unit tests for the SOCKS5 UDP request header encoder and decoder (RFC 1928 section 7).
#include "socks5/udp_codec.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace t2s::socks5 {
namespace {

using Bytes = std::vector<uint8_t>;

net::Endpoint endpoint(const char* address, uint16_t port) {
  return net::Endpoint{net::IpAddress::parse(address).value(), port};
}

Bytes encode(const Destination& destination) {
  Bytes out(udp_header_size(destination));
  const size_t written = write_udp_header(destination, out);
  EXPECT_EQ(written, out.size());
  return out;
}

TEST(Socks5UdpHeaderTest, EncodesIpv4) {
  const Destination d = endpoint("192.0.2.7", 0x1234);
  EXPECT_EQ(udp_header_size(d), 10u);
  EXPECT_EQ(encode(d), (Bytes{0, 0, 0, 0x01, 192, 0, 2, 7, 0x12, 0x34}));
}

TEST(Socks5UdpHeaderTest, EncodesIpv6) {
  const Destination d = endpoint("2001:db8::1", 53);
  EXPECT_EQ(udp_header_size(d), 22u);
  EXPECT_EQ(encode(d), (Bytes{0, 0, 0, 0x04, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0,
                              0, 0, 0, 0,    0,    0,    0,    0,    1, 0, 53}));
}

TEST(Socks5UdpHeaderTest, EncodesDomain) {
  const Destination d = DomainEndpoint{"example.com", 443};
  EXPECT_EQ(udp_header_size(d), 4u + 1 + 11 + 2);
  Bytes expected{0, 0, 0, 0x03, 11};
  for (char c : std::string("example.com")) expected.push_back(static_cast<uint8_t>(c));
  expected.push_back(0x01);
  expected.push_back(0xBB);
  EXPECT_EQ(encode(d), expected);
}

TEST(Socks5UdpHeaderTest, RejectsUnencodableDomains) {
  EXPECT_EQ(udp_header_size(DomainEndpoint{"", 1}), 0u);
  EXPECT_EQ(udp_header_size(DomainEndpoint{std::string(256, 'a'), 1}), 0u);
  EXPECT_EQ(udp_header_size(DomainEndpoint{std::string(255, 'a'), 1}), 4u + 1 + 255 + 2);
  Bytes out(600, 0xEE);
  EXPECT_EQ(write_udp_header(DomainEndpoint{"", 1}, out), 0u);
  EXPECT_EQ(write_udp_header(DomainEndpoint{std::string(256, 'a'), 1}, out), 0u);
  EXPECT_EQ(out, Bytes(600, 0xEE));
}

TEST(Socks5UdpHeaderTest, WriteIntoTooSmallBufferReturnsZero) {
  const Destination cases[] = {endpoint("192.0.2.7", 80), endpoint("2001:db8::1", 80),
                               DomainEndpoint{"example.com", 80}};
  for (const auto& d : cases) {
    const size_t size = udp_header_size(d);
    for (size_t n = 0; n < size; ++n) {
      Bytes out(n, 0xEE);
      EXPECT_EQ(write_udp_header(d, out), 0u) << "buffer " << n;
      EXPECT_EQ(out, Bytes(n, 0xEE)) << "buffer " << n;
    }
    Bytes larger(size + 5, 0xEE);
    EXPECT_EQ(write_udp_header(d, larger), size);
    EXPECT_EQ(larger[size], 0xEE);  // nothing written past the header
  }
}

TEST(Socks5UdpHeaderTest, RoundTripsWithPayload) {
  const Destination cases[] = {endpoint("198.51.100.200", 65535), endpoint("::ffff:1.2.3.4", 1),
                               endpoint("fe80::1:2:3:4", 5353), DomainEndpoint{"a", 0},
                               DomainEndpoint{std::string(255, 'z'), 8080}};
  const Bytes payload{'h', 'e', 'l', 'l', 'o'};
  for (const auto& d : cases) {
    Bytes datagram = encode(d);
    const size_t header_size = datagram.size();
    datagram.insert(datagram.end(), payload.begin(), payload.end());
    const auto decoded = decode_udp_header(datagram);
    ASSERT_EQ(decoded.status, DecodeStatus::kOk) << decoded.error;
    EXPECT_EQ(decoded.value.address, d);
    EXPECT_EQ(decoded.value.fragment, 0);
    EXPECT_EQ(decoded.value.length, header_size);
    EXPECT_EQ(decoded.consumed, header_size);
    EXPECT_TRUE(decoded.error.empty());
    EXPECT_EQ(
        Bytes(datagram.begin() + static_cast<std::ptrdiff_t>(decoded.value.length), datagram.end()),
        payload);
  }
}

TEST(Socks5UdpHeaderTest, DecodesHeaderWithEmptyPayload) {
  const Bytes datagram{0, 0, 0, 0x01, 10, 0, 0, 1, 0, 53};
  const auto decoded = decode_udp_header(datagram);
  ASSERT_EQ(decoded.status, DecodeStatus::kOk);
  EXPECT_EQ(decoded.value.length, 10u);
  EXPECT_EQ(decoded.value.address, Destination(endpoint("10.0.0.1", 53)));
}

TEST(Socks5UdpHeaderTest, TruncatedAtEveryLengthIsMalformed) {
  const Destination cases[] = {endpoint("192.0.2.7", 80), endpoint("2001:db8::1", 80),
                               DomainEndpoint{"example.com", 80}};
  for (const auto& d : cases) {
    const Bytes full = encode(d);
    for (size_t n = 0; n < full.size(); ++n) {
      // Copy so ASan catches any read past the prefix.
      const Bytes prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
      const auto decoded = decode_udp_header(prefix);
      EXPECT_EQ(decoded.status, DecodeStatus::kMalformed) << "length " << n;
      EXPECT_FALSE(decoded.error.empty()) << "length " << n;
      EXPECT_EQ(decoded.consumed, 0u);
    }
  }
}

TEST(Socks5UdpHeaderTest, RejectsNonZeroReserved) {
  for (size_t i : {0u, 1u}) {
    Bytes datagram{0, 0, 0, 0x01, 10, 0, 0, 1, 0, 53, 'x'};
    datagram[i] = 0x01;
    const auto decoded = decode_udp_header(datagram);
    EXPECT_EQ(decoded.status, DecodeStatus::kMalformed);
    EXPECT_NE(decoded.error.find("reserved"), std::string::npos) << decoded.error;
  }
}

TEST(Socks5UdpHeaderTest, RejectsUnknownAddressType) {
  for (uint8_t atyp : {uint8_t{0x00}, uint8_t{0x02}, uint8_t{0x05}, uint8_t{0xFF}}) {
    const Bytes datagram{0, 0, 0, atyp, 10, 0, 0, 1, 0, 53, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    const auto decoded = decode_udp_header(datagram);
    EXPECT_EQ(decoded.status, DecodeStatus::kMalformed) << int{atyp};
    EXPECT_NE(decoded.error.find("address type"), std::string::npos) << decoded.error;
  }
}

TEST(Socks5UdpHeaderTest, RejectsEmptyDomain) {
  const Bytes datagram{0, 0, 0, 0x03, 0, 0, 53, 'x', 'y'};
  const auto decoded = decode_udp_header(datagram);
  EXPECT_EQ(decoded.status, DecodeStatus::kMalformed);
  EXPECT_NE(decoded.error.find("domain"), std::string::npos) << decoded.error;
}

TEST(Socks5UdpHeaderTest, ReportsFragmentValue) {
  for (uint8_t frag : {uint8_t{0x01}, uint8_t{0x7F}, uint8_t{0x80}, uint8_t{0xFF}}) {
    const Bytes datagram{0, 0, frag, 0x01, 10, 0, 0, 1, 0, 53, 'p'};
    const auto decoded = decode_udp_header(datagram);
    ASSERT_EQ(decoded.status, DecodeStatus::kOk) << decoded.error;
    EXPECT_EQ(decoded.value.fragment, frag);
    EXPECT_EQ(decoded.value.length, 10u);
  }
}

TEST(Socks5UdpHeaderTest, DomainIsNotResolvedOrValidated) {
  // Bytes are carried through as given, including ones that look like an IP literal.
  const Bytes datagram{0, 0, 0, 0x03, 7, '1', '.', '2', '.', '3', '.', '4', 0x00, 0x50};
  const auto decoded = decode_udp_header(datagram);
  ASSERT_EQ(decoded.status, DecodeStatus::kOk);
  EXPECT_EQ(decoded.value.address, Destination(DomainEndpoint{"1.2.3.4", 80}));
  EXPECT_EQ(decoded.value.length, datagram.size());
}

}  // namespace
}  // namespace t2s::socks5
