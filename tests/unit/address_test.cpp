// Unit tests for net::IpAddress, net::Endpoint and net::Cidr parsing and formatting.
#include "net/address.h"

#include <gtest/gtest.h>

#include <string>

#include "log/log.h"

namespace t2s::net {
namespace {

TEST(IpAddressTest, ParsesIpv4) {
  auto r = IpAddress::parse("192.0.2.1");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->family, Family::kIpv4);
  EXPECT_TRUE(r->is_v4());
  EXPECT_EQ(r->size(), 4u);
  EXPECT_EQ(r->bytes[0], 192);
  EXPECT_EQ(r->bytes[1], 0);
  EXPECT_EQ(r->bytes[2], 2);
  EXPECT_EQ(r->bytes[3], 1);
  for (size_t i = 4; i < 16; ++i) EXPECT_EQ(r->bytes[i], 0) << i;
  EXPECT_EQ(r->to_string(), "192.0.2.1");
}

TEST(IpAddressTest, ParsesIpv6) {
  auto r = IpAddress::parse("2001:db8::1");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->family, Family::kIpv6);
  EXPECT_FALSE(r->is_v4());
  EXPECT_EQ(r->size(), 16u);
  EXPECT_EQ(r->bytes[0], 0x20);
  EXPECT_EQ(r->bytes[1], 0x01);
  EXPECT_EQ(r->bytes[2], 0x0d);
  EXPECT_EQ(r->bytes[3], 0xb8);
  EXPECT_EQ(r->bytes[15], 0x01);
  EXPECT_EQ(r->to_string(), "2001:db8::1");
}

TEST(IpAddressTest, Ipv6CanonicalForms) {
  struct Case {
    const char* in;
    const char* out;
  };
  const Case cases[] = {
      {"2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
      {"::", "::"},
      {"::1", "::1"},
      {"fe80::", "fe80::"},
      {"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
      {"1:0:0:2:0:0:0:3", "1:0:0:2::3"},
      {"::ffff:192.0.2.1", "::ffff:192.0.2.1"},
      {"FD00::ABCD", "fd00::abcd"},
  };
  for (const auto& c : cases) {
    auto r = IpAddress::parse(c.in);
    ASSERT_TRUE(r.ok()) << c.in << ": " << r.error();
    EXPECT_EQ(r->to_string(), c.out) << c.in;
    // The canonical form parses back to the same address.
    auto again = IpAddress::parse(r->to_string());
    ASSERT_TRUE(again.ok()) << c.out;
    EXPECT_EQ(again.value(), r.value());
  }
}

TEST(IpAddressTest, Ipv4EdgeValues) {
  auto zero = IpAddress::parse("0.0.0.0");
  ASSERT_TRUE(zero.ok());
  EXPECT_TRUE(zero->is_unspecified());
  auto max = IpAddress::parse("255.255.255.255");
  ASSERT_TRUE(max.ok());
  EXPECT_FALSE(max->is_unspecified());
  EXPECT_EQ(max->to_string(), "255.255.255.255");
}

TEST(IpAddressTest, RejectsMalformed) {
  const char* bad[] = {
      "",
      " ",
      "192.0.2.1 ",
      " 192.0.2.1",
      "192.0.2",
      "192.0.2.1.5",
      "192.0.2.256",
      "192.0.2.-1",
      "192.0.2.1x",
      "192.0.2.01",  // leading zeros are ambiguous (octal in some parsers)
      "0x7f.0.0.1",
      "abc",
      "[2001:db8::1]",
      "[::1",
      "fe80::1%eth0",
      "fe80::1%1",
      "2001:db8::1::2",
      "2001:db8:::1",
      "1:2:3:4:5:6:7:8:9",
      "12345::1",
      "2001:db8::g",
      "2001:db8::1/64",
      "192.0.2.1/24",
      "192.0.2.1:80",
      ":",
      "localhost",
  };
  for (const char* text : bad) {
    auto r = IpAddress::parse(text);
    EXPECT_FALSE(r.ok()) << "'" << text << "' parsed as " << (r.ok() ? r->to_string() : "");
    if (!r.ok()) {
      EXPECT_EQ(r.error(), "'" + std::string(text) + "': not an IP address");
    }
  }
}

TEST(IpAddressTest, RejectsEmbeddedNul) {
  const std::string text("192.0.2.1\0junk", 14);
  EXPECT_FALSE(IpAddress::parse(text).ok());
  const std::string text6("::1\0", 4);
  EXPECT_FALSE(IpAddress::parse(text6).ok());
}

TEST(IpAddressTest, RejectsVeryLongInput) {
  EXPECT_FALSE(IpAddress::parse(std::string(1000, '1')).ok());
  EXPECT_FALSE(IpAddress::parse("0000:0000:0000:0000:0000:0000:0000:0000:0000").ok());
}

TEST(IpAddressTest, FactoriesAndEquality) {
  const uint8_t v4[4] = {10, 1, 2, 3};
  const IpAddress a = IpAddress::v4(v4);
  EXPECT_TRUE(a.is_v4());
  EXPECT_EQ(a.to_string(), "10.1.2.3");
  EXPECT_EQ(a, IpAddress::parse("10.1.2.3").value());
  EXPECT_NE(a, IpAddress::parse("10.1.2.4").value());

  uint8_t v6[16] = {};
  v6[0] = 0xfd;
  v6[15] = 0x02;
  const IpAddress b = IpAddress::v6(v6);
  EXPECT_FALSE(b.is_v4());
  EXPECT_EQ(b.to_string(), "fd00::2");
  EXPECT_EQ(b, IpAddress::parse("fd00::2").value());

  // Same leading bytes, different family: not equal.
  uint8_t mixed[16] = {10, 1, 2, 3};
  EXPECT_NE(IpAddress::v6(mixed), a);
}

TEST(IpAddressTest, ViewCoversFamilySize) {
  auto v4 = IpAddress::parse("1.2.3.4").value();
  ASSERT_EQ(v4.view().size(), 4u);
  EXPECT_EQ(v4.view()[3], 4);
  auto v6 = IpAddress::parse("::5").value();
  ASSERT_EQ(v6.view().size(), 16u);
  EXPECT_EQ(v6.view()[15], 5);
}

TEST(IpAddressTest, Unspecified) {
  EXPECT_TRUE(IpAddress::parse("::").value().is_unspecified());
  EXPECT_FALSE(IpAddress::parse("::1").value().is_unspecified());
  EXPECT_FALSE(IpAddress::parse("0.0.0.1").value().is_unspecified());
  EXPECT_TRUE(IpAddress{}.is_unspecified());
}

TEST(EndpointTest, ToString) {
  EXPECT_EQ((Endpoint{IpAddress::parse("192.0.2.1").value(), 80}).to_string(), "192.0.2.1:80");
  EXPECT_EQ((Endpoint{IpAddress::parse("2001:db8::1").value(), 80}).to_string(),
            "[2001:db8::1]:80");
  EXPECT_EQ((Endpoint{IpAddress::parse("::").value(), 0}).to_string(), "[::]:0");
  EXPECT_EQ((Endpoint{IpAddress::parse("10.0.0.1").value(), 65535}).to_string(), "10.0.0.1:65535");
}

TEST(EndpointTest, Equality) {
  const Endpoint a{IpAddress::parse("192.0.2.1").value(), 80};
  EXPECT_EQ(a, (Endpoint{IpAddress::parse("192.0.2.1").value(), 80}));
  EXPECT_NE(a, (Endpoint{IpAddress::parse("192.0.2.1").value(), 81}));
  EXPECT_NE(a, (Endpoint{IpAddress::parse("192.0.2.2").value(), 80}));
}

TEST(CidrTest, ParsesIpv4KeepingHostBits) {
  auto r = Cidr::parse("198.18.0.1/15");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->address.to_string(), "198.18.0.1");
  EXPECT_EQ(r->prefix_length, 15);
  EXPECT_EQ(r->to_string(), "198.18.0.1/15");
}

TEST(CidrTest, ParsesIpv6) {
  auto r = Cidr::parse("fd00::1/64");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_FALSE(r->address.is_v4());
  EXPECT_EQ(r->address.to_string(), "fd00::1");
  EXPECT_EQ(r->prefix_length, 64);
  EXPECT_EQ(r->to_string(), "fd00::1/64");
}

TEST(CidrTest, PrefixBounds) {
  EXPECT_EQ(Cidr::parse("10.0.0.1/0").value().prefix_length, 0);
  EXPECT_EQ(Cidr::parse("10.0.0.1/32").value().prefix_length, 32);
  EXPECT_EQ(Cidr::parse("::/0").value().prefix_length, 0);
  EXPECT_EQ(Cidr::parse("::1/128").value().prefix_length, 128);

  auto r = Cidr::parse("10.0.0.1/33");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "'10.0.0.1/33': prefix length must be 0..32");

  auto r6 = Cidr::parse("fd00::1/129");
  ASSERT_FALSE(r6.ok());
  EXPECT_EQ(r6.error(), "'fd00::1/129': prefix length must be 0..128");

  auto huge = Cidr::parse("10.0.0.1/99999999999999999999999");
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.error(), "'10.0.0.1/99999999999999999999999': prefix length must be 0..32");
}

TEST(CidrTest, ErrorMessages) {
  struct Case {
    const char* in;
    const char* error;
  };
  const Case cases[] = {
      {"fd00::1", "'fd00::1': missing '/prefix'"},
      {"", "'': missing '/prefix'"},
      {"abc/3", "'abc/3': not an IP address"},
      {"/24", "'/24': not an IP address"},
      {"10.0.0.256/8", "'10.0.0.256/8': not an IP address"},
      {"[fd00::1]/64", "'[fd00::1]/64': not an IP address"},
      {"10.0.0.1/8/8", "'10.0.0.1/8/8': prefix length must be a decimal number"},
      {"10.0.0.1/", "'10.0.0.1/': missing prefix length"},
      {"10.0.0.1/+8", "'10.0.0.1/+8': prefix length must be a decimal number"},
      {"10.0.0.1/-1", "'10.0.0.1/-1': prefix length must be a decimal number"},
      {"10.0.0.1/8a", "'10.0.0.1/8a': prefix length must be a decimal number"},
      {"10.0.0.1/ 8", "'10.0.0.1/ 8': prefix length must be a decimal number"},
      {"10.0.0.1/8 ", "'10.0.0.1/8 ': prefix length must be a decimal number"},
      {"10.0.0.1/0x8", "'10.0.0.1/0x8': prefix length must be a decimal number"},
      {"10.0.0.1/08", "'10.0.0.1/08': prefix length has a leading zero"},
      {"10.0.0.1/00", "'10.0.0.1/00': prefix length has a leading zero"},
  };
  for (const auto& c : cases) {
    auto r = Cidr::parse(c.in);
    ASSERT_FALSE(r.ok()) << c.in;
    EXPECT_EQ(r.error(), c.error) << c.in;
  }
}

TEST(CidrTest, FamilyRestricted) {
  auto v4 = Cidr::parse("198.18.0.1/15", Family::kIpv4);
  ASSERT_TRUE(v4.ok()) << v4.error();
  EXPECT_EQ(v4->prefix_length, 15);

  auto v6 = Cidr::parse("fd00::1/64", Family::kIpv6);
  ASSERT_TRUE(v6.ok()) << v6.error();
  EXPECT_EQ(v6->prefix_length, 64);

  auto wrong4 = Cidr::parse("fd00::1/64", Family::kIpv4);
  ASSERT_FALSE(wrong4.ok());
  EXPECT_EQ(wrong4.error(), "'fd00::1/64': expected an IPv4 address");

  auto wrong6 = Cidr::parse("10.0.0.1/8", Family::kIpv6);
  ASSERT_FALSE(wrong6.ok());
  EXPECT_EQ(wrong6.error(), "'10.0.0.1/8': expected an IPv6 address");

  // Other errors are the same as for the unrestricted parse.
  auto range = Cidr::parse("10.0.0.1/33", Family::kIpv4);
  ASSERT_FALSE(range.ok());
  EXPECT_EQ(range.error(), "'10.0.0.1/33': prefix length must be 0..32");
  auto missing = Cidr::parse("fd00::1", Family::kIpv6);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error(), "'fd00::1': missing '/prefix'");
  auto junk = Cidr::parse("abc/3", Family::kIpv4);
  ASSERT_FALSE(junk.ok());
  EXPECT_EQ(junk.error(), "'abc/3': not an IP address");
}

TEST(CidrTest, RoundTrip) {
  const char* inputs[] = {"0.0.0.0/0",  "10.1.2.3/8", "198.18.0.1/15",
                          "fd00::1/64", "::/0",       "2001:db8::/32"};
  for (const char* in : inputs) {
    auto r = Cidr::parse(in);
    ASSERT_TRUE(r.ok()) << in << ": " << r.error();
    EXPECT_EQ(r->to_string(), in);
    auto again = Cidr::parse(r->to_string());
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again.value(), r.value());
  }
}

TEST(CidrTest, Contains) {
  Cidr v4 = Cidr::parse("198.18.0.1/15").value();
  EXPECT_TRUE(v4.contains(IpAddress::parse("198.18.0.2").value()));
  EXPECT_TRUE(v4.contains(IpAddress::parse("198.19.255.255").value()));
  EXPECT_FALSE(v4.contains(IpAddress::parse("198.20.0.0").value()));
  EXPECT_FALSE(v4.contains(IpAddress::parse("::ffff:198.18.0.2").value()));  // other family
  Cidr odd = Cidr::parse("10.0.0.0/9").value();
  EXPECT_TRUE(odd.contains(IpAddress::parse("10.127.0.1").value()));
  EXPECT_FALSE(odd.contains(IpAddress::parse("10.128.0.1").value()));
  EXPECT_TRUE(Cidr::parse("0.0.0.0/0").value().contains(IpAddress::parse("203.0.113.1").value()));
  Cidr v6 = Cidr::parse("fdfe:dcba:9877::/64").value();
  EXPECT_TRUE(v6.contains(IpAddress::parse("fdfe:dcba:9877::5").value()));
  EXPECT_FALSE(v6.contains(IpAddress::parse("fdfe:dcba:9878::5").value()));
}

TEST(IpAddressTest, Loopback) {
  EXPECT_TRUE(IpAddress::parse("127.0.0.1").value().is_loopback());
  EXPECT_TRUE(IpAddress::parse("127.255.0.9").value().is_loopback());
  EXPECT_TRUE(IpAddress::parse("::1").value().is_loopback());
  EXPECT_FALSE(IpAddress::parse("128.0.0.1").value().is_loopback());
  EXPECT_FALSE(IpAddress::parse("::2").value().is_loopback());
  EXPECT_FALSE(IpAddress::parse("192.0.2.1").value().is_loopback());
}

TEST(EndpointTest, SockaddrRoundTrip) {
  for (const char* text : {"192.0.2.1", "2001:db8::7"}) {
    Endpoint endpoint{IpAddress::parse(text).value(), 1080};
    sockaddr_storage storage = to_sockaddr(endpoint);
    EXPECT_EQ(storage.ss_family, endpoint.address.is_v4() ? AF_INET : AF_INET6);
    EXPECT_EQ(address_of(storage), endpoint.address) << text;
  }
}

TEST(EndpointTest, LogMessagesFormatThroughToString) {
  auto v4 = IpAddress::parse("192.0.2.1");
  auto v6 = IpAddress::parse("2001:db8::1");
  ASSERT_TRUE(v4.ok() && v6.ok());
  Endpoint app{v4.value(), 40000};
  Endpoint destination{v6.value(), 443};
  EXPECT_EQ(fmt::format("tcp {} -> {} via {}", app, destination, v4.value()),
            "tcp 192.0.2.1:40000 -> [2001:db8::1]:443 via 192.0.2.1");
}

}  // namespace
}  // namespace t2s::net
