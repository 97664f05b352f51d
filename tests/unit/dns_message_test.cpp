// Unit tests for the DNS query parser and the answer builders (RFC 1035, 3596, 6891).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dns/message.h"

namespace t2s::dns {
namespace {

using Bytes = std::vector<uint8_t>;

void put16(Bytes& out, uint16_t value) {
  out.push_back(static_cast<uint8_t>(value >> 8));
  out.push_back(static_cast<uint8_t>(value & 0xff));
}

uint16_t get16(const Bytes& data, size_t at) {
  return static_cast<uint16_t>((data.at(at) << 8) | data.at(at + 1));
}

// Wire form of a dot-separated name (no compression).
Bytes wire_name(const std::string& name) {
  Bytes out;
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    out.push_back(static_cast<uint8_t>(dot - start));
    out.insert(out.end(), name.begin() + static_cast<std::ptrdiff_t>(start),
               name.begin() + static_cast<std::ptrdiff_t>(dot));
    start = dot + 1;
  }
  out.push_back(0);
  return out;
}

Bytes header(uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar) {
  Bytes out;
  for (uint16_t v : {id, flags, qd, an, ns, ar}) put16(out, v);
  return out;
}

void append(Bytes& out, const Bytes& more) {
  out.insert(out.end(), more.begin(), more.end());
}

// An OPT record advertising `udp_size`.
Bytes opt_record(uint16_t udp_size) {
  Bytes out{0};
  put16(out, 41);
  put16(out, udp_size);
  put16(out, 0);
  put16(out, 0);
  put16(out, 0);
  return out;
}

Bytes make_query(const std::string& name, uint16_t type, uint16_t id = 0x1234,
                 uint16_t flags = 0x0100, std::optional<uint16_t> edns = std::nullopt,
                 uint16_t klass = 1) {
  Bytes out = header(id, flags, 1, 0, 0, edns ? 1 : 0);
  append(out, wire_name(name));
  put16(out, type);
  put16(out, klass);
  if (edns) append(out, opt_record(*edns));
  return out;
}

Query parse_ok(const Bytes& message) {
  auto result = parse_query(message);
  EXPECT_TRUE(result.ok()) << result.error();
  return result.ok() ? result.value() : Query{};
}

void expect_rejected(const Bytes& message, const std::string& error_part) {
  auto result = parse_query(message);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().find(error_part), std::string::npos) << result.error();
}

net::IpAddress ip(const char* text) {
  return net::IpAddress::parse(text).value();
}

// ---- parse_query: accepted queries ----

TEST(DnsParseQueryTest, ParsesPlainAQuery) {
  const Query q = parse_ok(make_query("example.com", 1, 0xbeef, 0x0100));
  EXPECT_EQ(q.id, 0xbeef);
  EXPECT_EQ(q.flags, 0x0100);
  EXPECT_EQ(q.question.name, "example.com");
  EXPECT_EQ(q.question.type, 1);
  EXPECT_EQ(q.question.klass, 1);
  EXPECT_EQ(q.max_udp_size, 512);
  EXPECT_FALSE(q.has_edns);
}

TEST(DnsParseQueryTest, LowerCasesAsciiOnly) {
  Bytes message = header(1, 0, 1, 0, 0, 0);
  append(message, Bytes{5, 'W', 'w', 0xC3, 0x89, 'Z', 3, 'C', 'O', 'M', 0, 0, 28, 0, 1});
  const Query q = parse_ok(message);
  EXPECT_EQ(q.question.name, std::string("ww\xC3\x89z.com"));
  EXPECT_EQ(q.question.type, 28);
}

TEST(DnsParseQueryTest, ParsesRootName) {
  const Query q = parse_ok(make_query("", 2));
  EXPECT_EQ(q.question.name, "");
  EXPECT_EQ(q.question.type, 2);
}

TEST(DnsParseQueryTest, ReadsEdnsPayloadSize) {
  const Query q = parse_ok(make_query("example.com", 28, 7, 0x0100, 4096));
  EXPECT_TRUE(q.has_edns);
  EXPECT_EQ(q.max_udp_size, 4096);
}

TEST(DnsParseQueryTest, EdnsPayloadBelow512CountsAs512) {
  const Query q = parse_ok(make_query("example.com", 1, 7, 0x0100, 100));
  EXPECT_TRUE(q.has_edns);
  EXPECT_EQ(q.max_udp_size, 512);
  const Query q0 = parse_ok(make_query("example.com", 1, 7, 0x0100, 0));
  EXPECT_EQ(q0.max_udp_size, 512);
}

TEST(DnsParseQueryTest, FindsOptAfterOtherAdditionalRecords) {
  Bytes message = header(9, 0, 1, 0, 0, 2);
  append(message, wire_name("a.example"));
  put16(message, 1);
  put16(message, 1);
  // An A record in the additional section, its name compressed to the question's.
  append(message, Bytes{0xC0, 12});
  put16(message, 1);
  put16(message, 1);
  put16(message, 0);
  put16(message, 60);
  put16(message, 4);
  append(message, Bytes{192, 0, 2, 1});
  append(message, opt_record(1400));
  const Query q = parse_ok(message);
  EXPECT_TRUE(q.has_edns);
  EXPECT_EQ(q.max_udp_size, 1400);
}

TEST(DnsParseQueryTest, SkipsAnswerAndAuthorityRecords) {
  Bytes message = header(9, 0, 1, 1, 1, 1);
  append(message, wire_name("a.example"));
  put16(message, 1);
  put16(message, 1);
  // Answer: an OPT-typed record here must not count as EDNS (it is not in the additional part).
  append(message, Bytes{0xC0, 12});
  put16(message, 41);
  put16(message, 9000);
  put16(message, 0);
  put16(message, 0);
  put16(message, 3);
  append(message, Bytes{1, 2, 3});
  // Authority: an NS record with an uncompressed name in its data.
  append(message, wire_name("example"));
  put16(message, 2);
  put16(message, 1);
  put16(message, 0);
  put16(message, 0);
  const Bytes ns = wire_name("ns.example");
  put16(message, static_cast<uint16_t>(ns.size()));
  append(message, ns);
  append(message, opt_record(2048));
  const Query q = parse_ok(message);
  EXPECT_EQ(q.question.name, "a.example");
  EXPECT_TRUE(q.has_edns);
  EXPECT_EQ(q.max_udp_size, 2048);
}

TEST(DnsParseQueryTest, AnswerRecordOfOptTypeIsNotEdns) {
  Bytes message = header(9, 0, 1, 1, 0, 0);
  append(message, wire_name("a"));
  put16(message, 1);
  put16(message, 1);
  append(message, opt_record(4096));
  const Query q = parse_ok(message);
  EXPECT_FALSE(q.has_edns);
  EXPECT_EQ(q.max_udp_size, 512);
}

TEST(DnsParseQueryTest, FollowsQuestionPointerIntoHeader) {
  // ID bytes 0x01 'a' and a zero flags byte spell the name "a" at offset 0.
  Bytes message = header(0x0161, 0x0000, 1, 0, 0, 0);
  append(message, Bytes{0xC0, 0x00, 0, 1, 0, 1});
  const Query q = parse_ok(message);
  EXPECT_EQ(q.question.name, "a");
  EXPECT_EQ(q.question.type, 1);
}

TEST(DnsParseQueryTest, AcceptsNameOf255Bytes) {
  const std::string l63(63, 'a');
  const std::string name = l63 + "." + l63 + "." + l63 + "." + std::string(61, 'b');
  ASSERT_EQ(wire_name(name).size(), 255u);
  const Query q = parse_ok(make_query(name, 1));
  EXPECT_EQ(q.question.name, name);
}

TEST(DnsParseQueryTest, IgnoresTrailingBytes) {
  Bytes message = make_query("x.y", 1);
  append(message, Bytes{1, 2, 3});
  EXPECT_EQ(parse_ok(message).question.name, "x.y");
}

// ---- parse_query: rejected queries ----

TEST(DnsParseQueryTest, RejectsShortMessage) {
  expect_rejected(Bytes{}, "shorter");
  expect_rejected(Bytes(11, 0), "shorter");
}

TEST(DnsParseQueryTest, RejectsResponse) {
  expect_rejected(make_query("a.b", 1, 1, 0x8100), "QR");
}

TEST(DnsParseQueryTest, RejectsOtherOpcodes) {
  expect_rejected(make_query("a.b", 1, 1, 0x0800), "opcode");  // IQUERY
  expect_rejected(make_query("a.b", 1, 1, 0x2000), "opcode");  // NOTIFY
  expect_rejected(make_query("a.b", 1, 1, 0x2800), "opcode");  // UPDATE
}

TEST(DnsParseQueryTest, RejectsQuestionCountOtherThanOne) {
  Bytes none = header(1, 0, 0, 0, 0, 0);
  expect_rejected(none, "question count");
  Bytes two = header(1, 0, 2, 0, 0, 0);
  for (int i = 0; i < 2; ++i) {
    append(two, wire_name("a.b"));
    put16(two, 1);
    put16(two, 1);
  }
  expect_rejected(two, "question count");
}

TEST(DnsParseQueryTest, RejectsClassesOtherThanIn) {
  expect_rejected(make_query("a.b", 1, 1, 0, std::nullopt, 3), "class");    // CH
  expect_rejected(make_query("a.b", 1, 1, 0, std::nullopt, 255), "class");  // ANY
}

TEST(DnsParseQueryTest, RejectsTruncatedQuestion) {
  const Bytes full = make_query("example.com", 1);
  // Every strict prefix that still has the header is a truncated question.
  for (size_t size = 12; size < full.size(); ++size) {
    const Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(size));
    EXPECT_FALSE(parse_query(cut).ok()) << "size " << size;
  }
  EXPECT_TRUE(parse_query(full).ok());
}

TEST(DnsParseQueryTest, RejectsReservedLabelTypes) {
  Bytes message = header(1, 0, 1, 0, 0, 0);
  append(message, Bytes{0x40, 'a', 0, 0, 1, 0, 1});
  expect_rejected(message, "reserved label");
  message[12] = 0x80;
  expect_rejected(message, "reserved label");
}

TEST(DnsParseQueryTest, RejectsLabelLongerThan63) {
  Bytes message = header(1, 0, 1, 0, 0, 0);
  message.push_back(64);  // 0x40: the top bits make it an invalid label type
  message.insert(message.end(), 64, 'a');
  append(message, Bytes{0, 0, 1, 0, 1});
  EXPECT_FALSE(parse_query(message).ok());
}

TEST(DnsParseQueryTest, RejectsNameLongerThan255) {
  const std::string l63(63, 'a');
  const std::string name = l63 + "." + l63 + "." + l63 + "." + std::string(62, 'b');
  ASSERT_EQ(wire_name(name).size(), 256u);
  expect_rejected(make_query(name, 1), "255");
}

TEST(DnsParseQueryTest, RejectsLongNameBuiltWithPointers) {
  // An answer record whose name is a 63-byte label followed by a pointer back to an earlier
  // 63-byte label chain; together they exceed 255 bytes.
  const std::string l63(63, 'a');
  const std::string first = l63 + "." + l63 + "." + l63;  // 193 wire bytes with root
  Bytes message = header(1, 0, 1, 1, 0, 0);
  append(message, wire_name(first));
  put16(message, 1);
  put16(message, 1);
  message.push_back(63);
  message.insert(message.end(), 63, 'c');
  append(message, Bytes{0xC0, 12});
  put16(message, 1);
  put16(message, 1);
  put16(message, 0);
  put16(message, 0);
  put16(message, 0);
  expect_rejected(message, "255");
}

TEST(DnsParseQueryTest, RejectsDotInsideLabel) {
  Bytes message = header(1, 0, 1, 0, 0, 0);
  append(message, Bytes{3, 'a', '.', 'b', 0, 0, 1, 0, 1});
  expect_rejected(message, "dot");
}

TEST(DnsParseQueryTest, RejectsForwardAndSelfPointers) {
  Bytes forward = header(1, 0, 1, 0, 0, 0);
  append(forward, Bytes{0xC0, 14, 1, 'a', 0, 0, 1, 0, 1});
  expect_rejected(forward, "backwards");
  Bytes self = header(1, 0, 1, 0, 0, 0);
  append(self, Bytes{0xC0, 12, 0, 1, 0, 1});
  expect_rejected(self, "backwards");
}

TEST(DnsParseQueryTest, RejectsPointerCutShort) {
  Bytes message = header(1, 0, 1, 0, 0, 0);
  message.push_back(0xC0);
  expect_rejected(message, "pointer");
}

TEST(DnsParseQueryTest, RejectsPointerThatLandsOnALoop) {
  // Two pointers in the first answer's data point at each other; the second answer's name
  // points at one of them. Every single hop goes backwards except the loop's forward hop.
  Bytes message = header(1, 0, 1, 2, 0, 0);
  append(message, wire_name("a"));
  put16(message, 1);
  put16(message, 1);
  message.push_back(0);  // answer 1: root name
  put16(message, 1);
  put16(message, 1);
  put16(message, 0);
  put16(message, 0);
  put16(message, 4);
  const auto first = static_cast<uint8_t>(message.size());
  append(message, Bytes{0xC0, static_cast<uint8_t>(first + 2), 0xC0, first});
  append(message, Bytes{0xC0, static_cast<uint8_t>(first + 2)});  // answer 2's name
  put16(message, 1);
  put16(message, 1);
  put16(message, 0);
  put16(message, 0);
  put16(message, 0);
  expect_rejected(message, "backwards");
}

// A message whose second answer's name is a chain of `jumps` backward pointers ending at
// the root label.
Bytes pointer_chain(int jumps) {
  Bytes message = header(1, 0, 1, 2, 0, 0);
  append(message, wire_name("a"));
  put16(message, 1);
  put16(message, 1);
  message.push_back(0);
  put16(message, 1);
  put16(message, 1);
  put16(message, 0);
  put16(message, 0);
  // Data: a root label, then jumps - 1 pointers, each to the previous item.
  put16(message, static_cast<uint16_t>(1 + 2 * (jumps - 1)));
  size_t previous = message.size();
  message.push_back(0);
  for (int i = 0; i < jumps - 1; ++i) {
    const size_t here = message.size();
    put16(message, static_cast<uint16_t>(0xC000 | previous));
    previous = here;
  }
  put16(message, static_cast<uint16_t>(0xC000 | previous));  // answer 2's name: jump 1
  put16(message, 1);
  put16(message, 1);
  put16(message, 0);
  put16(message, 0);
  put16(message, 0);
  return message;
}

TEST(DnsParseQueryTest, FollowsAtMost32Pointers) {
  EXPECT_TRUE(parse_query(pointer_chain(1)).ok());
  EXPECT_TRUE(parse_query(pointer_chain(32)).ok());
  expect_rejected(pointer_chain(33), "too many");
}

TEST(DnsParseQueryTest, RejectsTruncatedAdditionalRecord) {
  const Bytes full = make_query("example.com", 1, 1, 0, 1232);
  const size_t question_end = full.size() - 11;
  for (size_t size = question_end; size < full.size(); ++size) {
    const Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(size));
    EXPECT_FALSE(parse_query(cut).ok()) << "size " << size;
  }
}

TEST(DnsParseQueryTest, RejectsRecordDataPastTheEnd) {
  Bytes message = make_query("example.com", 1, 1, 0, 1232);
  message[message.size() - 1] = 1;  // RDLENGTH 1 with no data
  expect_rejected(message, "past the end");
}

TEST(DnsParseQueryTest, RejectsMissingRecordsCounted) {
  Bytes message = make_query("example.com", 1);
  message[7] = 1;  // ANCOUNT 1, but nothing follows
  EXPECT_FALSE(parse_query(message).ok());
}

// ---- IDs ----

TEST(DnsMessageIdTest, ReadsAndRewritesId) {
  Bytes message = make_query("a", 1, 0xabcd);
  EXPECT_EQ(message_id(message), 0xabcd);
  EXPECT_TRUE(set_message_id(message, 0x0102));
  EXPECT_EQ(message[0], 0x01);
  EXPECT_EQ(message[1], 0x02);
  EXPECT_EQ(message_id(message), 0x0102);
  EXPECT_EQ(parse_ok(message).id, 0x0102);
}

TEST(DnsMessageIdTest, TooShort) {
  EXPECT_FALSE(message_id(Bytes{}).has_value());
  EXPECT_FALSE(message_id(Bytes{1}).has_value());
  EXPECT_EQ(message_id(Bytes{1, 2}), 0x0102);
  Bytes one{7};
  EXPECT_FALSE(set_message_id(one, 5));
  EXPECT_EQ(one, Bytes{7});
}

// ---- build_address_answer ----

TEST(DnsAddressAnswerTest, BuildsExactAAnswer) {
  const Query q = parse_ok(make_query("ab.c", 1, 0x1234, 0x0100));
  const net::IpAddress addresses[] = {ip("198.18.0.5")};
  const Bytes answer = build_address_answer(q, addresses, 300);
  const Bytes expected{0x12, 0x34, 0x81, 0x80, 0,   1, 0, 1, 0, 0,    0, 0,  // header
                       2,    'a',  'b',  1,    'c', 0, 0, 1, 0, 1,           // question
                       0xC0, 0x0C, 0,    1,    0,   1, 0, 0, 1, 0x2c,        // name, A, IN, TTL
                       0,    4,    198,  18,   0,   5};
  EXPECT_EQ(answer, expected);
}

TEST(DnsAddressAnswerTest, KeepsRdClearAndWritesTtl) {
  const Query q = parse_ok(make_query("x", 1, 1, 0x0000));
  const net::IpAddress addresses[] = {ip("10.0.0.1")};
  const Bytes answer = build_address_answer(q, addresses, 0x01020304);
  EXPECT_EQ(get16(answer, 2), 0x8080);  // QR, RA; no RD
  const size_t ttl_at = 12 + 3 + 4 + 2 + 4;
  EXPECT_EQ(Bytes(answer.begin() + ttl_at, answer.begin() + ttl_at + 4), (Bytes{1, 2, 3, 4}));
}

TEST(DnsAddressAnswerTest, AaaaAnswerSkipsIpv4AndWritesEveryIpv6) {
  const Query q = parse_ok(make_query("v6.test", 28));
  const net::IpAddress addresses[] = {ip("1.2.3.4"), ip("fc00::1"), ip("fc00::2")};
  const Bytes answer = build_address_answer(q, addresses, 60);
  EXPECT_EQ(get16(answer, 6), 2);  // ANCOUNT
  const size_t first = 12 + wire_name("v6.test").size() + 4;
  ASSERT_EQ(answer.size(), first + 2 * (12 + 16));
  EXPECT_EQ(get16(answer, first), 0xC00C);
  EXPECT_EQ(get16(answer, first + 2), 28);
  EXPECT_EQ(get16(answer, first + 10), 16);
  EXPECT_EQ(Bytes(answer.begin() + static_cast<std::ptrdiff_t>(first + 12),
                  answer.begin() + static_cast<std::ptrdiff_t>(first + 28)),
            Bytes(addresses[1].bytes.begin(), addresses[1].bytes.end()));
  EXPECT_EQ(answer.back(), 2);
}

TEST(DnsAddressAnswerTest, AAnswerSkipsIpv6) {
  const Query q = parse_ok(make_query("x", 1));
  const net::IpAddress addresses[] = {ip("fc00::1"), ip("1.2.3.4")};
  const Bytes answer = build_address_answer(q, addresses, 60);
  EXPECT_EQ(get16(answer, 6), 1);
  EXPECT_EQ(answer.size(), 12u + 3 + 4 + 16);
  EXPECT_EQ(Bytes(answer.end() - 4, answer.end()), (Bytes{1, 2, 3, 4}));
}

TEST(DnsAddressAnswerTest, NoAddressesIsNodata) {
  const Query q = parse_ok(make_query("x.y", 1, 5));
  const Bytes answer = build_address_answer(q, {}, 60);
  EXPECT_EQ(get16(answer, 0), 5);
  EXPECT_EQ(answer[3] & 0x0f, 0);  // NOERROR
  EXPECT_EQ(get16(answer, 4), 1);
  EXPECT_EQ(get16(answer, 6), 0);
  EXPECT_EQ(answer.size(), 12u + wire_name("x.y").size() + 4);
}

TEST(DnsAddressAnswerTest, OtherTypesGetNoRecords) {
  for (uint16_t type : {15, 65, 16}) {  // MX, HTTPS, TXT
    const Query q = parse_ok(make_query("mail.example", type));
    const net::IpAddress addresses[] = {ip("1.2.3.4"), ip("fc00::1")};
    const Bytes answer = build_address_answer(q, addresses, 60);
    EXPECT_EQ(get16(answer, 6), 0) << type;
    EXPECT_EQ(get16(answer, 12 + wire_name("mail.example").size()), type);
  }
}

TEST(DnsAddressAnswerTest, EchoesLowerCaseQuestion) {
  Bytes message = make_query("WWW.Example.COM", 1);
  const Query q = parse_ok(message);
  const Bytes answer = build_address_answer(q, {}, 60);
  const Bytes name = wire_name("www.example.com");
  EXPECT_EQ(
      Bytes(answer.begin() + 12, answer.begin() + 12 + static_cast<std::ptrdiff_t>(name.size())),
      name);
}

TEST(DnsAddressAnswerTest, AddsOptWhenQueryHadEdns) {
  const Query q = parse_ok(make_query("x", 1, 1, 0x0100, 4096));
  const net::IpAddress addresses[] = {ip("1.2.3.4")};
  const Bytes answer = build_address_answer(q, addresses, 60);
  EXPECT_EQ(get16(answer, 10), 1);  // ARCOUNT
  const Bytes opt(answer.end() - 11, answer.end());
  EXPECT_EQ(opt, (Bytes{0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0}));  // class 1232
  EXPECT_EQ(answer.size(), 12u + 3 + 4 + 16 + 11);
}

TEST(DnsAddressAnswerTest, RootQuestionUsesPointerToRoot) {
  const Query q = parse_ok(make_query("", 1));
  const net::IpAddress addresses[] = {ip("1.2.3.4")};
  const Bytes answer = build_address_answer(q, addresses, 60);
  EXPECT_EQ(answer[12], 0);
  EXPECT_EQ(get16(answer, 17), 0xC00C);
}

TEST(DnsAddressAnswerTest, UnencodableHandMadeNameGivesHeaderOnlyFormerr) {
  Query q;
  q.id = 77;
  q.question.name = "a..b";
  q.question.type = 1;
  const net::IpAddress addresses[] = {ip("1.2.3.4")};
  const Bytes answer = build_address_answer(q, addresses, 60);
  ASSERT_EQ(answer.size(), 12u);
  EXPECT_EQ(get16(answer, 0), 77);
  EXPECT_EQ(answer[3] & 0x0f, 1);
  EXPECT_EQ(get16(answer, 4), 0);
  q.question.name = std::string(64, 'a');
  EXPECT_EQ(build_address_answer(q, addresses, 60).size(), 12u);
}

// ---- build_error_answer ----

TEST(DnsErrorAnswerTest, IncludesQuestionWhenKnown) {
  const Query q = parse_ok(make_query("bad.example", 65, 0x4242, 0x0100));
  const Bytes answer = build_error_answer(q, ResponseCode::kServerFailure);
  Bytes expected = header(0x4242, 0x8182, 1, 0, 0, 0);
  append(expected, wire_name("bad.example"));
  put16(expected, 65);
  put16(expected, 1);
  EXPECT_EQ(answer, expected);
}

TEST(DnsErrorAnswerTest, HeaderOnlyForPartialQuery) {
  Query q;
  q.id = 0x0909;
  const Bytes answer = build_error_answer(q, ResponseCode::kFormatError);
  EXPECT_EQ(answer, header(0x0909, 0x8081, 0, 0, 0, 0));
}

TEST(DnsErrorAnswerTest, QuestionKeptForRootNameWithType) {
  Query q;
  q.id = 3;
  q.question.type = 2;
  const Bytes answer = build_error_answer(q, ResponseCode::kRefused);
  EXPECT_EQ(get16(answer, 4), 1);
  EXPECT_EQ(answer.size(), 12u + 1 + 4);
  EXPECT_EQ(answer[3] & 0x0f, 5);
}

TEST(DnsErrorAnswerTest, EveryCode) {
  const Query q = parse_ok(make_query("x", 1));
  for (auto code :
       {ResponseCode::kNoError, ResponseCode::kFormatError, ResponseCode::kServerFailure,
        ResponseCode::kNameError, ResponseCode::kNotImplemented, ResponseCode::kRefused}) {
    const Bytes answer = build_error_answer(q, code);
    EXPECT_EQ(answer[3] & 0x0f, static_cast<int>(code));
    EXPECT_EQ(answer[2] & 0x80, 0x80);
    EXPECT_EQ(get16(answer, 6), 0);
  }
}

TEST(DnsErrorAnswerTest, AddsOptWhenQueryHadEdns) {
  const Query q = parse_ok(make_query("x", 1, 1, 0, 1400));
  const Bytes answer = build_error_answer(q, ResponseCode::kNameError);
  EXPECT_EQ(get16(answer, 10), 1);
  EXPECT_EQ(answer.size(), 12u + 3 + 4 + 11);
  EXPECT_EQ(get16(answer, answer.size() - 10), 41);
}

// ---- truncate_for_udp ----

TEST(DnsTruncateTest, KeepsAnswerThatFits) {
  const Query q = parse_ok(make_query("x", 1));
  const net::IpAddress addresses[] = {ip("1.2.3.4")};
  const Bytes answer = build_address_answer(q, addresses, 60);
  EXPECT_EQ(truncate_for_udp(answer, static_cast<uint16_t>(answer.size())), answer);
  EXPECT_EQ(truncate_for_udp(answer, 512), answer);
}

TEST(DnsTruncateTest, CutsToHeaderAndQuestionWithTc) {
  const Query q = parse_ok(make_query("many.example", 1, 0x5555, 0x0100, 1232));
  std::vector<net::IpAddress> addresses;
  for (uint8_t i = 0; i < 40; ++i) addresses.push_back(ip(("10.0.0." + std::to_string(i)).c_str()));
  const Bytes answer = build_address_answer(q, addresses, 60);
  ASSERT_GT(answer.size(), 512u);
  const Bytes cut = truncate_for_udp(answer, 512);
  Bytes expected = header(0x5555, 0x8380, 1, 0, 0, 0);
  append(expected, wire_name("many.example"));
  put16(expected, 1);
  put16(expected, 1);
  EXPECT_EQ(cut, expected);
  EXPECT_EQ(truncate_for_udp(answer, static_cast<uint16_t>(answer.size())), answer);
  EXPECT_EQ(truncate_for_udp(answer, static_cast<uint16_t>(answer.size() - 1)), expected);
}

TEST(DnsTruncateTest, UnparsableQuestionLeavesHeaderOnly) {
  Bytes answer = header(1, 0x8180, 1, 0, 0, 0);
  answer.push_back(0xC0);
  answer.push_back(0x50);  // forward pointer
  answer.insert(answer.end(), 600, 0);
  const Bytes cut = truncate_for_udp(answer, 512);
  EXPECT_EQ(cut, header(1, 0x8380, 0, 0, 0, 0));
}

TEST(DnsTruncateTest, KeepsCompressedQuestions) {
  // Two questions, the second compressed to the first.
  Bytes answer = header(2, 0x8180, 2, 3, 1, 1);
  append(answer, wire_name("a.example"));
  put16(answer, 1);
  put16(answer, 1);
  append(answer, Bytes{3, 'w', 'w', 'w', 0xC0, 12});
  put16(answer, 28);
  put16(answer, 1);
  const size_t questions_end = answer.size();
  answer.insert(answer.end(), 100, 0xAA);
  const Bytes cut = truncate_for_udp(answer, 64);
  ASSERT_EQ(cut.size(), questions_end);
  EXPECT_EQ(get16(cut, 2), 0x8380);
  EXPECT_EQ(get16(cut, 4), 2);
  EXPECT_EQ(get16(cut, 6), 0);
  EXPECT_EQ(get16(cut, 8), 0);
  EXPECT_EQ(get16(cut, 10), 0);
  EXPECT_TRUE(std::equal(cut.begin() + 12, cut.end(), answer.begin() + 12));
}

TEST(DnsTruncateTest, TinyInputsDoNotCrash) {
  EXPECT_EQ(truncate_for_udp(Bytes{}, 0), Bytes{});
  EXPECT_EQ(truncate_for_udp(Bytes{1, 2, 3}, 2), (Bytes{1, 2, 3}));
  const Bytes only_header = header(1, 0x8180, 0, 0, 0, 0);
  EXPECT_EQ(truncate_for_udp(only_header, 4), header(1, 0x8380, 0, 0, 0, 0));
}

}  // namespace
}  // namespace t2s::dns
