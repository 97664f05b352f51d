// SOCKS5 wire format (RFC 1928, RFC 1929): pure encoders and incremental decoders for the
// client side of the method negotiation, username/password authentication and requests.
// Decoders never read past the given bytes and report kNeedMore for truncated input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "net/address.h"

namespace t2s::socks5 {

inline constexpr uint8_t kVersion = 0x05;
inline constexpr uint8_t kAuthVersion = 0x01;

enum class Method : uint8_t { kNoAuth = 0x00, kUserPass = 0x02, kNoAcceptable = 0xFF };
enum class Command : uint8_t { kConnect = 0x01, kBind = 0x02, kUdpAssociate = 0x03 };
enum class AddressType : uint8_t { kIpv4 = 0x01, kDomain = 0x03, kIpv6 = 0x04 };

// Reply field of a request's answer (RFC 1928 section 6).
enum class ReplyCode : uint8_t {
  kSucceeded = 0x00,
  kGeneralFailure = 0x01,
  kNotAllowed = 0x02,
  kNetworkUnreachable = 0x03,
  kHostUnreachable = 0x04,
  kConnectionRefused = 0x05,
  kTtlExpired = 0x06,
  kCommandNotSupported = 0x07,
  kAddressTypeNotSupported = 0x08,
};
// A short English phrase for any reply byte, e.g. "connection refused", "unassigned reply code
// 0x2a".
std::string reply_code_message(uint8_t code);

struct Credentials {
  std::string username;
  std::string password;
  friend bool operator==(const Credentials&, const Credentials&) = default;
};

// A request's destination: an IP endpoint or a domain name (1..255 bytes) with a port.
struct DomainEndpoint {
  std::string name;
  uint16_t port = 0;
  friend bool operator==(const DomainEndpoint&, const DomainEndpoint&) = default;
};
using Destination = std::variant<net::Endpoint, DomainEndpoint>;
// "192.0.2.1:80", "[2001:db8::1]:80" or "example.com:443".
std::string to_string(const Destination& destination);

enum class DecodeStatus { kOk, kNeedMore, kMalformed };

template <typename T>
struct Decoded {
  DecodeStatus status = DecodeStatus::kNeedMore;
  T value{};
  size_t consumed = 0;  // bytes used when kOk
  std::string error;    // why, when kMalformed
};

// VER NMETHODS METHODS: offers no-auth, plus username/password when `offer_user_pass`.
std::vector<uint8_t> encode_greeting(bool offer_user_pass);
// VER METHOD. Malformed when VER != 5.
Decoded<Method> decode_method_selection(std::span<const uint8_t> bytes);

// VER ULEN UNAME PLEN PASSWD. Empty result for an empty username or a field over 255 bytes.
std::vector<uint8_t> encode_user_pass(const Credentials& credentials);
// VER STATUS; value is true when STATUS == 0. Malformed when VER != 1.
Decoded<bool> decode_user_pass_reply(std::span<const uint8_t> bytes);

// VER CMD RSV ATYP DST.ADDR DST.PORT. Empty result for a domain that is empty or > 255 bytes.
std::vector<uint8_t> encode_request(Command command, const Destination& destination);

// ATYP ADDR PORT, as requests, replies and UDP headers carry it, read from its ATYP byte on.
// kNeedMore when `bytes` ends inside it; kMalformed for an unknown ATYP or an empty domain.
Decoded<Destination> decode_address(std::span<const uint8_t> bytes);

struct Reply {
  uint8_t code = 0;  // see ReplyCode
  Destination bound;
};
// VER REP RSV ATYP BND.ADDR BND.PORT. Malformed when VER != 5, RSV != 0, unknown ATYP,
// or a zero-length domain.
Decoded<Reply> decode_reply(std::span<const uint8_t> bytes);

}  // namespace t2s::socks5
