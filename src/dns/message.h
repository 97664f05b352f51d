// DNS messages (RFC 1035, 3596, 6891, 9460): a checked parser for the queries the tunnel
// answers or forwards, and builders for the answers it makes itself. Pure; the parser never
// reads past the message and follows compression pointers only backwards, a bounded number
// of times.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "net/address.h"
#include "net/result.h"

namespace t2s::dns {

enum class RecordType : uint16_t {
  kA = 1,
  kNs = 2,
  kCname = 5,
  kMx = 15,
  kTxt = 16,
  kAaaa = 28,
  kSrv = 33,
  kOpt = 41,
  kSvcb = 64,
  kHttps = 65,
};

enum class ResponseCode : uint8_t {
  kNoError = 0,
  kFormatError = 1,
  kServerFailure = 2,
  kNameError = 3,
  kNotImplemented = 4,
  kRefused = 5,
};

struct Question {
  std::string name;  // lower-case, dot-separated, no trailing dot; "" for the root
  uint16_t type = 0;
  uint16_t klass = 1;  // IN
};

// What the tunnel needs from a query.
struct Query {
  uint16_t id = 0;
  uint16_t flags = 0;  // the header's second 16-bit word (QR, opcode, RD, ...)
  Question question;   // the first (in practice the only) question
  // The largest UDP answer the client accepts: 512, or its EDNS0 OPT payload size (>= 512).
  uint16_t max_udp_size = 512;
  bool has_edns = false;
};

// Parses a query: QR = 0, opcode QUERY (0), exactly one question of class IN, well-formed
// names (labels 1..63 bytes, name <= 255 bytes). Additional records are scanned only for one
// OPT record. The error says what is wrong (for counters and logs).
net::Result<Query> parse_query(std::span<const uint8_t> message);

// The 16-bit ID of any message of at least 2 bytes.
std::optional<uint16_t> message_id(std::span<const uint8_t> message);
// Rewrites the ID in place (for forwarding over shared connections). False if too short.
bool set_message_id(std::span<uint8_t> message, uint16_t id);

// An answer to `query` holding one A or AAAA record per address (all of the query's type),
// with `ttl` seconds. Echoes the question, sets QR, RA, keeps RD and the ID; NOERROR. With no
// addresses it is an empty NOERROR answer (NODATA). Adds an OPT record if the query had one.
std::vector<uint8_t> build_address_answer(const Query& query,
                                          std::span<const net::IpAddress> addresses, uint32_t ttl);
// A header-only (plus question if known) error answer with `code`, e.g. FORMERR for a
// malformed query whose ID could still be read. `query` may be partial (only id set).
std::vector<uint8_t> build_error_answer(const Query& query, ResponseCode code);
// Reduces an answer too large for the client's UDP size to its header and question with the
// TC bit set, so the client retries over TCP. Returns the answer unchanged if it fits.
std::vector<uint8_t> truncate_for_udp(std::span<const uint8_t> answer, uint16_t max_udp_size);

}  // namespace t2s::dns
