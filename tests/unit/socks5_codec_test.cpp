// Unit tests for the SOCKS5 encoders and incremental decoders (RFC 1928, RFC 1929).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "socks5/codec.h"

namespace t2s::socks5 {
namespace {

using Bytes = std::vector<uint8_t>;

net::Endpoint endpoint(const char* address, uint16_t port) {
  return net::Endpoint{net::IpAddress::parse(address).value(), port};
}

std::span<const uint8_t> prefix(const Bytes& bytes, size_t n) {
  return {bytes.data(), n};
}

// Every strict prefix of a complete message must ask for more and consume nothing.
template <typename Decode>
void expect_need_more_for_every_prefix(const Bytes& message, Decode decode) {
  for (size_t n = 0; n < message.size(); ++n) {
    const auto d = decode(prefix(message, n));
    EXPECT_EQ(d.status, DecodeStatus::kNeedMore) << "prefix length " << n;
    EXPECT_EQ(d.consumed, 0u) << "prefix length " << n;
    EXPECT_TRUE(d.error.empty()) << "prefix length " << n << ": " << d.error;
  }
}

TEST(Socks5GreetingTest, Encode) {
  EXPECT_EQ(encode_greeting(false), (Bytes{0x05, 0x01, 0x00}));
  EXPECT_EQ(encode_greeting(true), (Bytes{0x05, 0x02, 0x00, 0x02}));
}

TEST(Socks5MethodSelectionTest, DecodesEachMethod) {
  for (uint8_t m : {uint8_t{0x00}, uint8_t{0x02}, uint8_t{0xFF}}) {
    const Bytes msg{0x05, m};
    const auto d = decode_method_selection(msg);
    ASSERT_EQ(d.status, DecodeStatus::kOk);
    EXPECT_EQ(d.consumed, 2u);
    EXPECT_EQ(static_cast<uint8_t>(d.value), m);
  }
  EXPECT_EQ(decode_method_selection(Bytes{0x05, 0x00}).value, Method::kNoAuth);
  EXPECT_EQ(decode_method_selection(Bytes{0x05, 0x02}).value, Method::kUserPass);
  EXPECT_EQ(decode_method_selection(Bytes{0x05, 0xFF}).value, Method::kNoAcceptable);
}

TEST(Socks5MethodSelectionTest, Truncated) {
  expect_need_more_for_every_prefix(Bytes{0x05, 0x00}, decode_method_selection);
}

TEST(Socks5MethodSelectionTest, LeavesTrailingBytes) {
  const Bytes msg{0x05, 0x02, 0x01, 0x00, 0xAA};
  const auto d = decode_method_selection(msg);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.consumed, 2u);
  EXPECT_EQ(d.value, Method::kUserPass);
}

TEST(Socks5MethodSelectionTest, WrongVersion) {
  const auto d = decode_method_selection(Bytes{0x04, 0x00});
  EXPECT_EQ(d.status, DecodeStatus::kMalformed);
  EXPECT_EQ(d.consumed, 0u);
  EXPECT_EQ(d.error, "unsupported SOCKS version 4 in method selection");
  // Reported as soon as the version byte is seen.
  const auto early = decode_method_selection(Bytes{0x04});
  EXPECT_EQ(early.status, DecodeStatus::kMalformed);
  EXPECT_EQ(decode_method_selection(Bytes{0x00, 0x00}).status, DecodeStatus::kMalformed);
}

TEST(Socks5UserPassTest, Encode) {
  EXPECT_EQ(encode_user_pass({"user", "pw"}),
            (Bytes{0x01, 0x04, 'u', 's', 'e', 'r', 0x02, 'p', 'w'}));
  // An empty password is allowed (PLEN 0).
  EXPECT_EQ(encode_user_pass({"u", ""}), (Bytes{0x01, 0x01, 'u', 0x00}));
}

TEST(Socks5UserPassTest, EncodeLimits) {
  EXPECT_TRUE(encode_user_pass({"", "pw"}).empty());
  EXPECT_TRUE(encode_user_pass({"", ""}).empty());
  EXPECT_TRUE(encode_user_pass({std::string(256, 'u'), "pw"}).empty());
  EXPECT_TRUE(encode_user_pass({"u", std::string(256, 'p')}).empty());

  const auto max = encode_user_pass({std::string(255, 'u'), std::string(255, 'p')});
  ASSERT_EQ(max.size(), 3u + 255u + 255u);
  EXPECT_EQ(max[0], 0x01);
  EXPECT_EQ(max[1], 255);
  EXPECT_EQ(max[2], 'u');
  EXPECT_EQ(max[256], 'u');
  EXPECT_EQ(max[257], 255);
  EXPECT_EQ(max[258], 'p');
  EXPECT_EQ(max.back(), 'p');
}

TEST(Socks5UserPassTest, EncodesBinaryBytes) {
  const std::string user("a\0b", 3);
  const std::string pass("\xff:@", 3);
  EXPECT_EQ(encode_user_pass({user, pass}),
            (Bytes{0x01, 0x03, 'a', 0x00, 'b', 0x03, 0xff, ':', '@'}));
}

TEST(Socks5UserPassReplyTest, Decode) {
  const auto ok = decode_user_pass_reply(Bytes{0x01, 0x00});
  ASSERT_EQ(ok.status, DecodeStatus::kOk);
  EXPECT_TRUE(ok.value);
  EXPECT_EQ(ok.consumed, 2u);

  for (uint8_t status : {uint8_t{0x01}, uint8_t{0x02}, uint8_t{0xFF}}) {
    const auto fail = decode_user_pass_reply(Bytes{0x01, status});
    ASSERT_EQ(fail.status, DecodeStatus::kOk);
    EXPECT_FALSE(fail.value) << int{status};
    EXPECT_EQ(fail.consumed, 2u);
  }
}

TEST(Socks5UserPassReplyTest, TruncatedAndTrailing) {
  expect_need_more_for_every_prefix(Bytes{0x01, 0x00}, decode_user_pass_reply);
  const auto d = decode_user_pass_reply(Bytes{0x01, 0x00, 0x05, 0x00});
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.consumed, 2u);
}

TEST(Socks5UserPassReplyTest, WrongVersion) {
  // Some servers wrongly answer with VER 5; that is not RFC 1929.
  const auto d = decode_user_pass_reply(Bytes{0x05, 0x00});
  EXPECT_EQ(d.status, DecodeStatus::kMalformed);
  EXPECT_EQ(d.consumed, 0u);
  EXPECT_NE(d.error.find("version 5"), std::string::npos) << d.error;
  EXPECT_EQ(decode_user_pass_reply(Bytes{0x00}).status, DecodeStatus::kMalformed);
}

TEST(Socks5RequestTest, EncodeIpv4) {
  EXPECT_EQ(encode_request(Command::kConnect, endpoint("192.0.2.1", 80)),
            (Bytes{0x05, 0x01, 0x00, 0x01, 192, 0, 2, 1, 0x00, 0x50}));
  EXPECT_EQ(encode_request(Command::kUdpAssociate, endpoint("0.0.0.0", 0)),
            (Bytes{0x05, 0x03, 0x00, 0x01, 0, 0, 0, 0, 0x00, 0x00}));
  EXPECT_EQ(encode_request(Command::kBind, endpoint("10.0.0.1", 0xABCD)),
            (Bytes{0x05, 0x02, 0x00, 0x01, 10, 0, 0, 1, 0xAB, 0xCD}));
}

TEST(Socks5RequestTest, EncodeIpv6) {
  EXPECT_EQ(encode_request(Command::kConnect, endpoint("2001:db8::1", 443)),
            (Bytes{0x05, 0x01, 0x00, 0x04, 0x20, 0x01, 0x0d, 0xb8, 0,    0,    0,
                   0,    0,    0,    0,    0,    0,    0,    0,    0x01, 0x01, 0xBB}));
}

TEST(Socks5RequestTest, EncodeDomain) {
  EXPECT_EQ(encode_request(Command::kConnect, DomainEndpoint{"example.com", 65535}),
            (Bytes{0x05, 0x01, 0x00, 0x03, 11, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o',
                   'm', 0xFF, 0xFF}));
}

TEST(Socks5RequestTest, DomainLengthLimits) {
  EXPECT_TRUE(encode_request(Command::kConnect, DomainEndpoint{"", 80}).empty());
  EXPECT_TRUE(encode_request(Command::kConnect, DomainEndpoint{std::string(256, 'a'), 80}).empty());

  const auto max = encode_request(Command::kConnect, DomainEndpoint{std::string(255, 'a'), 80});
  ASSERT_EQ(max.size(), 4u + 1u + 255u + 2u);
  EXPECT_EQ(max[4], 255);
  EXPECT_EQ(max[5], 'a');
  EXPECT_EQ(max[259], 'a');
  EXPECT_EQ(max[260], 0x00);
  EXPECT_EQ(max[261], 0x50);

  const auto one = encode_request(Command::kConnect, DomainEndpoint{"a", 1});
  EXPECT_EQ(one, (Bytes{0x05, 0x01, 0x00, 0x03, 0x01, 'a', 0x00, 0x01}));
}

// A server's reply has the same layout as a request, so requests double as reply fixtures.
TEST(Socks5ReplyTest, DecodeIpv4) {
  const Bytes msg{0x05, 0x00, 0x00, 0x01, 198, 51, 100, 7, 0x1F, 0x90};
  const auto d = decode_reply(msg);
  ASSERT_EQ(d.status, DecodeStatus::kOk) << d.error;
  EXPECT_EQ(d.consumed, msg.size());
  EXPECT_EQ(d.value.code, 0x00);
  ASSERT_TRUE(std::holds_alternative<net::Endpoint>(d.value.bound));
  EXPECT_EQ(std::get<net::Endpoint>(d.value.bound), endpoint("198.51.100.7", 8080));
}

TEST(Socks5ReplyTest, DecodeIpv6) {
  const Bytes msg{0x05, 0x05, 0x00, 0x04, 0x20, 0x01, 0x0d, 0xb8, 0,    0,    0,
                  0,    0,    0,    0,    0,    0,    0,    0,    0x02, 0x00, 0x16};
  const auto d = decode_reply(msg);
  ASSERT_EQ(d.status, DecodeStatus::kOk) << d.error;
  EXPECT_EQ(d.consumed, 22u);
  EXPECT_EQ(d.value.code, static_cast<uint8_t>(ReplyCode::kConnectionRefused));
  ASSERT_TRUE(std::holds_alternative<net::Endpoint>(d.value.bound));
  const auto& bound = std::get<net::Endpoint>(d.value.bound);
  EXPECT_FALSE(bound.address.is_v4());
  EXPECT_EQ(bound.to_string(), "[2001:db8::2]:22");
}

TEST(Socks5ReplyTest, DecodeDomain) {
  const Bytes msg{0x05, 0x00, 0x00, 0x03, 4, 'h', 'o', 's', 't', 0x04, 0x38};
  const auto d = decode_reply(msg);
  ASSERT_EQ(d.status, DecodeStatus::kOk) << d.error;
  EXPECT_EQ(d.consumed, msg.size());
  ASSERT_TRUE(std::holds_alternative<DomainEndpoint>(d.value.bound));
  EXPECT_EQ(std::get<DomainEndpoint>(d.value.bound), (DomainEndpoint{"host", 1080}));
}

TEST(Socks5ReplyTest, DecodeLongestDomain) {
  const auto msg = encode_request(Command::kConnect, DomainEndpoint{std::string(255, 'z'), 7});
  const auto d = decode_reply(msg);
  ASSERT_EQ(d.status, DecodeStatus::kOk) << d.error;
  EXPECT_EQ(d.consumed, msg.size());
  EXPECT_EQ(d.value.code, 0x01);  // the request's CMD byte sits where REP is
  EXPECT_EQ(std::get<DomainEndpoint>(d.value.bound), (DomainEndpoint{std::string(255, 'z'), 7}));
}

TEST(Socks5ReplyTest, TruncatedAtEveryLength) {
  const Bytes v4{0x05, 0x00, 0x00, 0x01, 1, 2, 3, 4, 0x00, 0x50};
  const Bytes v6 = encode_request(Command::kConnect, endpoint("2001:db8::1", 80));
  const Bytes domain{0x05, 0x00, 0x00, 0x03, 3, 'a', 'b', 'c', 0x00, 0x50};
  ASSERT_EQ(v6.size(), 22u);
  expect_need_more_for_every_prefix(v4, decode_reply);
  expect_need_more_for_every_prefix(v6, decode_reply);
  expect_need_more_for_every_prefix(domain, decode_reply);
}

TEST(Socks5ReplyTest, LeavesTrailingBytes) {
  Bytes msg{0x05, 0x00, 0x00, 0x01, 1, 2, 3, 4, 0x00, 0x50};
  const size_t length = msg.size();
  msg.insert(msg.end(), {'H', 'T', 'T', 'P'});
  const auto d = decode_reply(msg);
  ASSERT_EQ(d.status, DecodeStatus::kOk) << d.error;
  EXPECT_EQ(d.consumed, length);

  Bytes dom{0x05, 0x00, 0x00, 0x03, 1, 'x', 0x00, 0x01, 0x05, 0x00};
  const auto dd = decode_reply(dom);
  ASSERT_EQ(dd.status, DecodeStatus::kOk) << dd.error;
  EXPECT_EQ(dd.consumed, 8u);
  EXPECT_EQ(std::get<DomainEndpoint>(dd.value.bound), (DomainEndpoint{"x", 1}));
}

TEST(Socks5ReplyTest, KeepsFailureCodes) {
  for (int code = 0; code < 256; ++code) {
    const Bytes msg{0x05, static_cast<uint8_t>(code), 0x00, 0x01, 0, 0, 0, 0, 0, 0};
    const auto d = decode_reply(msg);
    ASSERT_EQ(d.status, DecodeStatus::kOk) << code;
    EXPECT_EQ(d.value.code, code);
  }
}

TEST(Socks5ReplyTest, WrongVersion) {
  const auto d = decode_reply(Bytes{0x04, 0x5A, 0x00, 0x01, 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(d.status, DecodeStatus::kMalformed);
  EXPECT_EQ(d.consumed, 0u);
  EXPECT_EQ(d.error, "unsupported SOCKS version 4 in reply");
  EXPECT_EQ(decode_reply(Bytes{0x04}).status, DecodeStatus::kMalformed);
  EXPECT_EQ(decode_reply(Bytes{0x00}).error, "unsupported SOCKS version 0 in reply");
}

TEST(Socks5ReplyTest, NonZeroReserved) {
  const auto d = decode_reply(Bytes{0x05, 0x00, 0x01, 0x01, 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(d.status, DecodeStatus::kMalformed);
  EXPECT_EQ(d.consumed, 0u);
  EXPECT_EQ(d.error, "reserved byte is not zero");
  EXPECT_EQ(decode_reply(Bytes{0x05, 0x00, 0xFF}).status, DecodeStatus::kMalformed);
}

TEST(Socks5ReplyTest, UnknownAddressType) {
  for (uint8_t atyp : {uint8_t{0x00}, uint8_t{0x02}, uint8_t{0x05}, uint8_t{0x07}, uint8_t{0xFF}}) {
    const auto d = decode_reply(Bytes{0x05, 0x00, 0x00, atyp});
    EXPECT_EQ(d.status, DecodeStatus::kMalformed) << int{atyp};
    EXPECT_EQ(d.consumed, 0u);
  }
  EXPECT_EQ(decode_reply(Bytes{0x05, 0x00, 0x00, 0x07, 0, 0, 0, 0, 0, 0}).error,
            "unknown address type 0x07");
  EXPECT_EQ(decode_reply(Bytes{0x05, 0x00, 0x00, 0xAB}).error, "unknown address type 0xab");
}

TEST(Socks5ReplyTest, ZeroLengthDomain) {
  const auto d = decode_reply(Bytes{0x05, 0x00, 0x00, 0x03, 0x00, 0x00, 0x50});
  EXPECT_EQ(d.status, DecodeStatus::kMalformed);
  EXPECT_EQ(d.consumed, 0u);
  EXPECT_NE(d.error.find("domain"), std::string::npos) << d.error;
  // Known as soon as the length byte arrives.
  EXPECT_EQ(decode_reply(Bytes{0x05, 0x00, 0x00, 0x03, 0x00}).status, DecodeStatus::kMalformed);
}

TEST(Socks5ReplyTest, RoundTripThroughEncoder) {
  const Destination destinations[] = {endpoint("203.0.113.9", 1), endpoint("::1", 65535),
                                      DomainEndpoint{"a-b.example", 443}};
  for (const auto& dest : destinations) {
    auto msg = encode_request(Command::kConnect, dest);
    ASSERT_FALSE(msg.empty());
    msg[1] = 0x00;  // REP succeeded
    const auto d = decode_reply(msg);
    ASSERT_EQ(d.status, DecodeStatus::kOk) << d.error;
    EXPECT_EQ(d.consumed, msg.size());
    EXPECT_EQ(d.value.code, 0x00);
    EXPECT_EQ(d.value.bound, dest);
  }
}

TEST(Socks5ReplyCodeTest, Messages) {
  EXPECT_EQ(reply_code_message(0x00), "succeeded");
  EXPECT_EQ(reply_code_message(0x01), "general SOCKS server failure");
  EXPECT_EQ(reply_code_message(0x02), "connection not allowed by ruleset");
  EXPECT_EQ(reply_code_message(0x03), "network unreachable");
  EXPECT_EQ(reply_code_message(0x04), "host unreachable");
  EXPECT_EQ(reply_code_message(0x05), "connection refused");
  EXPECT_EQ(reply_code_message(0x06), "TTL expired");
  EXPECT_EQ(reply_code_message(0x07), "command not supported");
  EXPECT_EQ(reply_code_message(0x08), "address type not supported");
  EXPECT_EQ(reply_code_message(0x09), "unassigned reply code 0x09");
  EXPECT_EQ(reply_code_message(0x2a), "unassigned reply code 0x2a");
  EXPECT_EQ(reply_code_message(0xFF), "unassigned reply code 0xff");
}

}  // namespace
}  // namespace t2s::socks5
