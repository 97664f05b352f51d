// Unit tests for socks5::ProxyUrl parsing, error messages and redaction.
#include "socks5/proxy_url.h"

#include <gtest/gtest.h>

#include <string>

namespace t2s::socks5 {
namespace {

ProxyUrl parse_ok(std::string_view text) {
  auto r = ProxyUrl::parse(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.error();
  return r.ok() ? r.value() : ProxyUrl{};
}

std::string parse_error(std::string_view text) {
  auto r = ProxyUrl::parse(text);
  EXPECT_FALSE(r.ok()) << text << " parsed as " << (r.ok() ? r->redacted() : "");
  return r.ok() ? std::string() : r.error();
}

TEST(ProxyUrlTest, HostAndPort) {
  const auto url = parse_ok("socks5://proxy.example:1080");
  EXPECT_EQ(url.host, "proxy.example");
  EXPECT_EQ(url.port, 1080);
  EXPECT_FALSE(url.credentials.has_value());
}

TEST(ProxyUrlTest, Socks5hAndCaseInsensitiveScheme) {
  const auto h = parse_ok("socks5h://127.0.0.1:9050");
  EXPECT_EQ(h.host, "127.0.0.1");
  EXPECT_EQ(h.port, 9050);
  EXPECT_EQ(parse_ok("SOCKS5://a:1").host, "a");
  EXPECT_EQ(parse_ok("Socks5H://a:2").port, 2);
}

TEST(ProxyUrlTest, Ipv4Host) {
  const auto url = parse_ok("socks5://192.0.2.1:1080");
  EXPECT_EQ(url.host, "192.0.2.1");
  EXPECT_EQ(url.port, 1080);
}

TEST(ProxyUrlTest, Ipv6HostInBrackets) {
  const auto url = parse_ok("socks5://[2001:db8::1]:1080");
  EXPECT_EQ(url.host, "2001:db8::1");
  EXPECT_EQ(url.port, 1080);
  EXPECT_EQ(parse_ok("socks5://[::1]:9").host, "::1");
}

TEST(ProxyUrlTest, UserAndPassword) {
  const auto url = parse_ok("socks5://alice:wonder@proxy:1080");
  ASSERT_TRUE(url.credentials.has_value());
  EXPECT_EQ(url.credentials->username, "alice");
  EXPECT_EQ(url.credentials->password, "wonder");
  EXPECT_EQ(url.host, "proxy");
  EXPECT_EQ(url.port, 1080);
}

TEST(ProxyUrlTest, UserWithoutPassword) {
  const auto url = parse_ok("socks5://alice@proxy:1080");
  ASSERT_TRUE(url.credentials.has_value());
  EXPECT_EQ(url.credentials->username, "alice");
  EXPECT_EQ(url.credentials->password, "");
  const auto colon = parse_ok("socks5://alice:@proxy:1080");
  ASSERT_TRUE(colon.credentials.has_value());
  EXPECT_EQ(colon.credentials->password, "");
}

TEST(ProxyUrlTest, PasswordMayContainColons) {
  const auto url = parse_ok("socks5://u:a:b:c@h:1");
  ASSERT_TRUE(url.credentials.has_value());
  EXPECT_EQ(url.credentials->username, "u");
  EXPECT_EQ(url.credentials->password, "a:b:c");
}

TEST(ProxyUrlTest, CredentialsWithIpv6Host) {
  const auto url = parse_ok("socks5://u:p@[fd00::5]:1080");
  ASSERT_TRUE(url.credentials.has_value());
  EXPECT_EQ(url.credentials->username, "u");
  EXPECT_EQ(url.credentials->password, "p");
  EXPECT_EQ(url.host, "fd00::5");
}

TEST(ProxyUrlTest, PercentDecoding) {
  const auto url = parse_ok("socks5://us%65r%3a1:p%40ss%2Fw%3Ad%25@h:1080");
  ASSERT_TRUE(url.credentials.has_value());
  EXPECT_EQ(url.credentials->username, "user:1");
  EXPECT_EQ(url.credentials->password, "p@ss/w:d%");

  const auto bytes = parse_ok("socks5://%00%ff:%C3%A9@h:1");
  ASSERT_TRUE(bytes.credentials.has_value());
  EXPECT_EQ(bytes.credentials->username, std::string("\0\xff", 2));
  EXPECT_EQ(bytes.credentials->password, "\xc3\xa9");
}

TEST(ProxyUrlTest, UnencodedAtInPasswordSplitsAtLastAt) {
  const auto url = parse_ok("socks5://bob:p@ss@w@rd@proxy.example:1080");
  ASSERT_TRUE(url.credentials.has_value());
  EXPECT_EQ(url.credentials->username, "bob");
  EXPECT_EQ(url.credentials->password, "p@ss@w@rd");
  EXPECT_EQ(url.host, "proxy.example");
  EXPECT_EQ(url.port, 1080);
}

TEST(ProxyUrlTest, PercentEncodingOnlyInCredentials) {
  // Host names are not decoded: '%' is not a host name character.
  EXPECT_FALSE(ProxyUrl::parse("socks5://h%41st:1080").ok());
}

TEST(ProxyUrlTest, InvalidPercentEncoding) {
  for (const char* text :
       {"socks5://u%:p@h:1", "socks5://u%4:p@h:1", "socks5://u%G1:p@h:1", "socks5://u:p%@h:1",
        "socks5://u:p%2@h:1", "socks5://u:p%zz@h:1", "socks5://u:%-1@h:1"}) {
    EXPECT_EQ(parse_error(text), "invalid percent-encoding in credentials") << text;
  }
}

TEST(ProxyUrlTest, PortBounds) {
  EXPECT_EQ(parse_ok("socks5://h:1").port, 1);
  EXPECT_EQ(parse_ok("socks5://h:65535").port, 65535);
  for (const char* text :
       {"socks5://h:0", "socks5://h:65536", "socks5://h:99999", "socks5://h:123456",
        "socks5://h:-1", "socks5://h:+80", "socks5://h:80a", "socks5://h: 80", "socks5://h:0x50",
        "socks5://h:1080 ", "socks5://h:99999999999999999999", "socks5://[::1]:0",
        "socks5://[::1]:x"}) {
    EXPECT_EQ(parse_error(text), "port must be 1..65535") << text;
  }
}

TEST(ProxyUrlTest, MissingPort) {
  for (const char* text : {"socks5://h", "socks5://h:", "socks5://[::1]",
                           "socks5://[::1]:", "socks5://u:p@h", "socks5://192.0.2.1"}) {
    EXPECT_EQ(parse_error(text), "missing port") << text;
  }
}

TEST(ProxyUrlTest, MissingScheme) {
  for (const char* text : {"", "proxy:1080", "127.0.0.1:1080", "//proxy:1080", "://proxy:1080",
                           "socks5:/proxy:1080", "socks5:proxy:1080", "user:pw@proxy:1080"}) {
    EXPECT_EQ(parse_error(text), "missing scheme (expected socks5://host:port)") << text;
  }
}

TEST(ProxyUrlTest, UnsupportedScheme) {
  EXPECT_EQ(parse_error("http://proxy:8080"), "unsupported scheme 'http' (use socks5://)");
  EXPECT_EQ(parse_error("socks4://proxy:1080"), "unsupported scheme 'socks4' (use socks5://)");
  EXPECT_EQ(parse_error("socks5x://proxy:1080"), "unsupported scheme 'socks5x' (use socks5://)");
  EXPECT_EQ(parse_error("https://u:pw@proxy:1080"), "unsupported scheme 'https' (use socks5://)");
}

TEST(ProxyUrlTest, Ipv6MustBeBracketed) {
  for (const char* text : {"socks5://2001:db8::1:1080", "socks5://::1:1080", "socks5://fe80::1"}) {
    EXPECT_EQ(parse_error(text), "IPv6 address must be in brackets") << text;
  }
}

TEST(ProxyUrlTest, BadBracketedHost) {
  EXPECT_EQ(parse_error("socks5://[::1:1080"), "missing ']' after IPv6 address");
  EXPECT_EQ(parse_error("socks5://[]:1080"), "empty host");
  EXPECT_EQ(parse_error("socks5://[192.0.2.1]:1080"), "invalid IPv6 address in brackets");
  EXPECT_EQ(parse_error("socks5://[host]:1080"), "invalid IPv6 address in brackets");
  EXPECT_EQ(parse_error("socks5://[fe80::1%eth0]:1080"), "invalid IPv6 address in brackets");
  EXPECT_EQ(parse_error("socks5://[::1]x:1080"), "unexpected characters after ']'");
  EXPECT_EQ(parse_error("socks5://[::1]]:1080"), "unexpected characters after ']'");
}

TEST(ProxyUrlTest, EmptyHost) {
  for (const char* text : {"socks5://:1080", "socks5://u:p@:1080", "socks5://", "socks5://u@"}) {
    EXPECT_EQ(parse_error(text), "empty host") << text;
  }
}

TEST(ProxyUrlTest, HostNameCharacters) {
  EXPECT_EQ(parse_ok("socks5://my_proxy-1.example.COM:1").host, "my_proxy-1.example.COM");
  EXPECT_EQ(parse_ok("socks5://localhost:1").host, "localhost");
  EXPECT_EQ(parse_ok(std::string("socks5://") + std::string(253, 'a') + ":1").host.size(), 253u);
  EXPECT_FALSE(ProxyUrl::parse(std::string("socks5://") + std::string(254, 'a') + ":1").ok());
  for (const char* text : {"socks5://ho st:1", "socks5://host!:1", "socks5://hö:1",
                           "socks5://h*st:1", "socks5://h,st:1", "socks5://h\\st:1"}) {
    EXPECT_FALSE(ProxyUrl::parse(text).ok()) << text;
  }
}

TEST(ProxyUrlTest, InvalidNumericHost) {
  EXPECT_EQ(parse_error("socks5://192.0.2.256:1080"), "invalid IPv4 address");
  EXPECT_EQ(parse_error("socks5://1.2.3:1080"), "invalid IPv4 address");
  EXPECT_EQ(parse_error("socks5://1080:1080"), "invalid IPv4 address");
}

TEST(ProxyUrlTest, CredentialErrors) {
  EXPECT_EQ(parse_error("socks5://@h:1"), "empty username");
  EXPECT_EQ(parse_error("socks5://:pw@h:1"), "empty username");
  EXPECT_EQ(parse_error("socks5://" + std::string(256, 'u') + ":p@h:1"),
            "username longer than 255 bytes");
  EXPECT_EQ(parse_error("socks5://u:" + std::string(256, 'p') + "@h:1"),
            "password longer than 255 bytes");
  // Lengths are counted after decoding.
  std::string encoded;
  for (int i = 0; i < 255; ++i) encoded += "%41";
  const auto url = parse_ok("socks5://u:" + encoded + "@h:1");
  ASSERT_TRUE(url.credentials.has_value());
  EXPECT_EQ(url.credentials->password, std::string(255, 'A'));
}

TEST(ProxyUrlTest, PathQueryFragment) {
  EXPECT_EQ(parse_ok("socks5://h:1080/").port, 1080);
  for (const char* text :
       {"socks5://h:1080/x", "socks5://h:1080?a=b", "socks5://h:1080#f", "socks5://h:1080//"}) {
    EXPECT_FALSE(ProxyUrl::parse(text).ok()) << text;
  }
}

TEST(ProxyUrlTest, ErrorsNeverContainThePassword) {
  const std::string secret = "Sup3rS3cretPW";
  const std::string inputs[] = {
      "http://u:" + secret + "@h:1080",
      "socks5://u:" + secret + "@h",
      "socks5://u:" + secret + "@h:",
      "socks5://u:" + secret + "@h:0",
      "socks5://u:" + secret + "@h:x",
      "socks5://u:" + secret + "@:1080",
      "socks5://u:" + secret + "%zz@h:1080",
      "socks5://u:" + secret + "%@h:1080",
      "socks5://u:" + secret + "@2001:db8::1:1080",
      "socks5://u:" + secret + "@[::1:1080",
      "socks5://u:" + secret + "@[nope]:1080",
      "socks5://u:" + secret + "@h st:1080",
      "socks5://u:" + secret + "@1.2.3.999:1080",
      "socks5://u:" + secret + "@h:1080/path",
      "socks5://u:" + secret + "/x@h:1080/path",
      "socks5://u:" + secret + std::string(300, 'x') + "@h:1080",
      "socks5://:" + secret + "@h:1080",
      "socks5://u:" + secret,  // forgot the host: the password lands in the port
      "socks5://u:" + secret + ":1080",
      "socks5://u:" + secret + "@",
      "u:" + secret + "@h:1080",
      "socks5:/u:" + secret + "@h:1080",
      // Only a scheme-shaped token is echoed; "u:secret" is not one.
      "u:" + secret + "://h:1080",
  };
  for (const auto& text : inputs) {
    auto r = ProxyUrl::parse(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_FALSE(r.error().empty()) << text;
    EXPECT_EQ(r.error().find(secret), std::string::npos) << text << " -> " << r.error();
    EXPECT_EQ(r.error().find("Sup3r"), std::string::npos) << text << " -> " << r.error();
  }
}

TEST(ProxyUrlTest, RedactedHidesPassword) {
  const auto url = parse_ok("socks5://user:hunter2@host:1080");
  EXPECT_EQ(url.redacted(), "socks5://user:***@host:1080");
  EXPECT_EQ(url.redacted().find("hunter2"), std::string::npos);
}

TEST(ProxyUrlTest, RedactedForms) {
  EXPECT_EQ(parse_ok("socks5://host:1080").redacted(), "socks5://host:1080");
  EXPECT_EQ(parse_ok("socks5h://host:1080").redacted(), "socks5://host:1080");
  EXPECT_EQ(parse_ok("socks5://[2001:db8::1]:1080").redacted(), "socks5://[2001:db8::1]:1080");
  EXPECT_EQ(parse_ok("socks5://u:p@[2001:db8::1]:1080").redacted(),
            "socks5://u:***@[2001:db8::1]:1080");
  EXPECT_EQ(parse_ok("socks5://192.0.2.1:9").redacted(), "socks5://192.0.2.1:9");
  // A user without a password still gets the mask, so the output does not reveal whether one
  // was set.
  EXPECT_EQ(parse_ok("socks5://u@h:1").redacted(), "socks5://u:***@h:1");
  // Reserved characters in the username are re-encoded so the output stays a valid URL.
  EXPECT_EQ(parse_ok("socks5://a%40b%3Ac:x@h:1").redacted(), "socks5://a%40b%3Ac:***@h:1");
}

TEST(ProxyUrlTest, RedactedOfConstructedValue) {
  ProxyUrl url;
  url.host = "fd00::1";
  url.port = 1;
  url.credentials = Credentials{"me", "pw"};
  EXPECT_EQ(url.redacted(), "socks5://me:***@[fd00::1]:1");
}

TEST(ProxyUrlTest, RedactedRoundTripsHostAndPort) {
  for (const char* text : {"socks5://h.example:1", "socks5://[::1]:65535", "socks5://u:p@h:2",
                           "socks5://10.0.0.1:1080"}) {
    const auto url = parse_ok(text);
    const auto again = parse_ok(url.redacted());
    EXPECT_EQ(again.host, url.host) << text;
    EXPECT_EQ(again.port, url.port) << text;
    EXPECT_EQ(again.credentials.has_value(), url.credentials.has_value()) << text;
    if (url.credentials) {
      EXPECT_EQ(again.credentials->username, url.credentials->username);
      EXPECT_EQ(again.credentials->password, "***");
    }
  }
}

}  // namespace
}  // namespace t2s::socks5
