// Checked DNS query parser and builders for the A/AAAA, error and truncated answers we make.
#include "dns/message.h"

#include <algorithm>
#include <cstddef>

namespace t2s::dns {

namespace {

constexpr size_t kHeaderSize = 12;
constexpr size_t kMaxNameWireLength = 255;
constexpr size_t kMaxLabelLength = 63;
constexpr int kMaxPointerJumps = 32;
constexpr uint16_t kClassIn = 1;
constexpr uint16_t kMinUdpSize = 512;
// The UDP payload size we advertise in our own OPT records.
constexpr uint16_t kOurUdpSize = 1232;

constexpr uint16_t kFlagQr = 0x8000;
constexpr uint16_t kFlagRd = 0x0100;
constexpr uint16_t kFlagRa = 0x0080;
constexpr uint8_t kTcBitInThirdByte = 0x02;

uint16_t read16(std::span<const uint8_t> data, size_t at) {
  return static_cast<uint16_t>((data[at] << 8) | data[at + 1]);
}

void put16(std::vector<uint8_t>& out, uint16_t value) {
  out.push_back(static_cast<uint8_t>(value >> 8));
  out.push_back(static_cast<uint8_t>(value & 0xff));
}

void put32(std::vector<uint8_t>& out, uint32_t value) {
  put16(out, static_cast<uint16_t>(value >> 16));
  put16(out, static_cast<uint16_t>(value & 0xffff));
}

void write16(std::span<uint8_t> data, size_t at, uint16_t value) {
  data[at] = static_cast<uint8_t>(value >> 8);
  data[at + 1] = static_cast<uint8_t>(value & 0xff);
}

char to_lower_ascii(uint8_t c) {
  if (c >= 'A' && c <= 'Z') c = static_cast<uint8_t>(c - 'A' + 'a');
  return static_cast<char>(c);
}

// Reads the name starting at `pos`, leaving `pos` just past it in the original byte stream.
// Stores the lower-case text in `out` when it is not null. Returns an error text or "".
std::string read_name(std::span<const uint8_t> message, size_t& pos, std::string* out) {
  if (out != nullptr) out->clear();
  size_t cur = pos;
  bool jumped = false;
  int jumps = 0;
  size_t wire_length = 0;
  while (true) {
    if (cur >= message.size()) return "name runs past the end of the message";
    const uint8_t length = message[cur];
    if ((length & 0xc0) == 0xc0) {
      if (cur + 1 >= message.size()) return "compression pointer runs past the end";
      const size_t target = (static_cast<size_t>(length & 0x3f) << 8) | message[cur + 1];
      if (target >= cur) return "compression pointer does not point backwards";
      if (++jumps > kMaxPointerJumps) return "too many compression pointers";
      if (!jumped) {
        pos = cur + 2;
        jumped = true;
      }
      cur = target;
      continue;
    }
    if ((length & 0xc0) != 0) return "reserved label type";
    if (length == 0) {
      if (!jumped) pos = cur + 1;
      return {};
    }
    // Every label costs its length byte plus its bytes; the root label needs one more.
    wire_length += 1 + static_cast<size_t>(length);
    if (wire_length + 1 > kMaxNameWireLength) return "name longer than 255 bytes";
    if (message.size() - cur - 1 < length) return "label runs past the end of the message";
    if (out != nullptr && !out->empty()) out->push_back('.');
    for (size_t i = cur + 1; i <= cur + length; ++i) {
      // A dot inside a label could not be told apart from a label boundary in the text form.
      if (message[i] == '.') return "label contains a dot";
      if (out != nullptr) out->push_back(to_lower_ascii(message[i]));
    }
    cur += 1 + static_cast<size_t>(length);
  }
}

// Skips one resource record at `pos`. Sets `type` and `klass`. Returns an error text or "".
std::string skip_record(std::span<const uint8_t> message, size_t& pos, uint16_t& type,
                        uint16_t& klass) {
  std::string error = read_name(message, pos, nullptr);
  if (!error.empty()) return error;
  constexpr size_t kFixedSize = 10;  // type, class, TTL, RDLENGTH
  if (message.size() - pos < kFixedSize) return "record header runs past the end";
  type = read16(message, pos);
  klass = read16(message, pos + 2);
  const uint16_t rdlength = read16(message, pos + 8);
  pos += kFixedSize;
  if (message.size() - pos < rdlength) return "record data runs past the end";
  pos += rdlength;
  return {};
}

// Encodes a dot-separated name as uncompressed labels. False (and `out` untouched) if a label
// is empty or longer than 63 bytes or the name is longer than 255 bytes.
bool append_name(std::vector<uint8_t>& out, const std::string& name) {
  std::vector<uint8_t> encoded;
  encoded.reserve(name.size() + 2);
  if (!name.empty()) {
    size_t start = 0;
    while (true) {
      const size_t dot = name.find('.', start);
      const size_t end = dot == std::string::npos ? name.size() : dot;
      const size_t length = end - start;
      if (length == 0 || length > kMaxLabelLength) return false;
      encoded.push_back(static_cast<uint8_t>(length));
      encoded.insert(encoded.end(), name.begin() + static_cast<std::ptrdiff_t>(start),
                     name.begin() + static_cast<std::ptrdiff_t>(end));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
  }
  encoded.push_back(0);
  if (encoded.size() > kMaxNameWireLength) return false;
  out.insert(out.end(), encoded.begin(), encoded.end());
  return true;
}

uint16_t answer_flags(const Query& query, ResponseCode code) {
  return static_cast<uint16_t>(kFlagQr | (query.flags & kFlagRd) | kFlagRa |
                               static_cast<uint16_t>(code));
}

void put_header(std::vector<uint8_t>& out, uint16_t id, uint16_t flags, uint16_t qdcount,
                uint16_t ancount, uint16_t arcount) {
  put16(out, id);
  put16(out, flags);
  put16(out, qdcount);
  put16(out, ancount);
  put16(out, 0);  // NSCOUNT
  put16(out, arcount);
}

void put_opt(std::vector<uint8_t>& out) {
  out.push_back(0);  // root name
  put16(out, static_cast<uint16_t>(RecordType::kOpt));
  put16(out, kOurUdpSize);
  put32(out, 0);  // extended RCODE, version, flags
  put16(out, 0);  // RDLENGTH
}

// Header plus the question, or an empty vector if the question's name cannot be encoded.
std::vector<uint8_t> header_and_question(const Query& query, ResponseCode code, uint16_t ancount) {
  std::vector<uint8_t> out;
  out.reserve(kHeaderSize + query.question.name.size() + 6);
  put_header(out, query.id, answer_flags(query, code), 1, ancount, query.has_edns ? 1 : 0);
  if (!append_name(out, query.question.name)) return {};
  put16(out, query.question.type);
  put16(out, query.question.klass);
  return out;
}

std::vector<uint8_t> header_only(const Query& query, ResponseCode code) {
  std::vector<uint8_t> out;
  put_header(out, query.id, answer_flags(query, code), 0, 0, query.has_edns ? 1 : 0);
  if (query.has_edns) put_opt(out);
  return out;
}

}  // namespace

net::Result<Query> parse_query(std::span<const uint8_t> message) {
  using R = net::Result<Query>;
  if (message.size() < kHeaderSize) return R::failure("message shorter than a DNS header");
  Query query;
  query.id = read16(message, 0);
  query.flags = read16(message, 2);
  if ((query.flags & kFlagQr) != 0) return R::failure("not a query (QR set)");
  if (((query.flags >> 11) & 0x0f) != 0) return R::failure("opcode is not QUERY");
  const uint16_t qdcount = read16(message, 4);
  const uint16_t ancount = read16(message, 6);
  const uint16_t nscount = read16(message, 8);
  const uint16_t arcount = read16(message, 10);
  if (qdcount != 1) return R::failure("question count is not 1");

  size_t pos = kHeaderSize;
  std::string error = read_name(message, pos, &query.question.name);
  if (!error.empty()) return R::failure("question: " + error);
  if (message.size() - pos < 4) return R::failure("question runs past the end");
  query.question.type = read16(message, pos);
  query.question.klass = read16(message, pos + 2);
  pos += 4;
  if (query.question.klass != kClassIn) return R::failure("question class is not IN");

  const size_t before_additional = static_cast<size_t>(ancount) + nscount;
  const size_t total = before_additional + arcount;
  for (size_t i = 0; i < total; ++i) {
    uint16_t type = 0;
    uint16_t klass = 0;
    error = skip_record(message, pos, type, klass);
    if (!error.empty()) return R::failure("record: " + error);
    if (i >= before_additional && type == static_cast<uint16_t>(RecordType::kOpt) &&
        !query.has_edns) {
      query.has_edns = true;
      query.max_udp_size = std::max(kMinUdpSize, klass);
    }
  }
  return R::success(std::move(query));
}

std::optional<uint16_t> message_id(std::span<const uint8_t> message) {
  if (message.size() < 2) return std::nullopt;
  return read16(message, 0);
}

bool set_message_id(std::span<uint8_t> message, uint16_t id) {
  if (message.size() < 2) return false;
  write16(message, 0, id);
  return true;
}

std::vector<uint8_t> build_address_answer(const Query& query,
                                          std::span<const net::IpAddress> addresses, uint32_t ttl) {
  std::optional<net::Family> wanted;
  if (query.question.type == static_cast<uint16_t>(RecordType::kA)) wanted = net::Family::kIpv4;
  if (query.question.type == static_cast<uint16_t>(RecordType::kAaaa)) {
    wanted = net::Family::kIpv6;
  }
  size_t count = 0;
  if (wanted) {
    count = static_cast<size_t>(
        std::count_if(addresses.begin(), addresses.end(),
                      [&](const net::IpAddress& address) { return address.family == *wanted; }));
  }
  // Even at 16 + 12 bytes per record this is far beyond any DNS message; keep the count valid.
  count = std::min<size_t>(count, 0xffff);

  std::vector<uint8_t> out =
      header_and_question(query, ResponseCode::kNoError, static_cast<uint16_t>(count));
  // Only a hand-made query can hold a name that cannot be encoded; parse_query rejects them.
  if (out.empty()) return header_only(query, ResponseCode::kFormatError);
  size_t written = 0;
  for (const net::IpAddress& address : addresses) {
    if (written == count) break;
    if (address.family != *wanted) continue;
    put16(out, static_cast<uint16_t>(0xc000 | kHeaderSize));  // pointer to the question's name
    put16(out, query.question.type);
    put16(out, kClassIn);
    put32(out, ttl);
    const auto bytes = address.view();
    put16(out, static_cast<uint16_t>(bytes.size()));
    out.insert(out.end(), bytes.begin(), bytes.end());
    ++written;
  }
  if (query.has_edns) put_opt(out);
  return out;
}

std::vector<uint8_t> build_error_answer(const Query& query, ResponseCode code) {
  if (!query.question.name.empty() || query.question.type != 0) {
    std::vector<uint8_t> out = header_and_question(query, code, 0);
    if (!out.empty()) {
      if (query.has_edns) put_opt(out);
      return out;
    }
  }
  return header_only(query, code);
}

std::vector<uint8_t> truncate_for_udp(std::span<const uint8_t> answer, uint16_t max_udp_size) {
  if (answer.size() <= max_udp_size || answer.size() < kHeaderSize) {
    return {answer.begin(), answer.end()};
  }
  const uint16_t qdcount = read16(answer, 4);
  size_t pos = kHeaderSize;
  bool questions_ok = true;
  for (uint16_t i = 0; i < qdcount && questions_ok; ++i) {
    if (!read_name(answer, pos, nullptr).empty() || answer.size() - pos < 4) {
      questions_ok = false;
    } else {
      pos += 4;
    }
  }
  std::vector<uint8_t> out(answer.begin(), answer.begin() + static_cast<std::ptrdiff_t>(
                                                                questions_ok ? pos : kHeaderSize));
  out[2] |= kTcBitInThirdByte;
  if (!questions_ok) write16(out, 4, 0);
  write16(out, 6, 0);
  write16(out, 8, 0);
  write16(out, 10, 0);
  return out;
}

}  // namespace t2s::dns
