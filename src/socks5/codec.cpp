// SOCKS5 client-side wire encoding and incremental decoding (RFC 1928, RFC 1929).
#include "socks5/codec.h"

namespace t2s::socks5 {

namespace {

constexpr size_t kMaxField = 255;

std::string hex_byte(uint8_t value) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "0x";
  out += kDigits[value >> 4];
  out += kDigits[value & 0x0F];
  return out;
}

template <typename T>
Decoded<T> need_more() {
  return Decoded<T>{};
}

template <typename T>
Decoded<T> malformed(std::string error) {
  Decoded<T> result;
  result.status = DecodeStatus::kMalformed;
  result.error = std::move(error);
  return result;
}

template <typename T>
Decoded<T> ok(T value, size_t consumed) {
  Decoded<T> result;
  result.status = DecodeStatus::kOk;
  result.value = std::move(value);
  result.consumed = consumed;
  return result;
}

void append_port(std::vector<uint8_t>& out, uint16_t port) {
  out.push_back(static_cast<uint8_t>(port >> 8));
  out.push_back(static_cast<uint8_t>(port & 0xFF));
}

uint16_t read_port(std::span<const uint8_t> bytes) {
  return static_cast<uint16_t>((bytes[0] << 8) | bytes[1]);
}

}  // namespace

std::string reply_code_message(uint8_t code) {
  switch (static_cast<ReplyCode>(code)) {
    case ReplyCode::kSucceeded:
      return "succeeded";
    case ReplyCode::kGeneralFailure:
      return "general SOCKS server failure";
    case ReplyCode::kNotAllowed:
      return "connection not allowed by ruleset";
    case ReplyCode::kNetworkUnreachable:
      return "network unreachable";
    case ReplyCode::kHostUnreachable:
      return "host unreachable";
    case ReplyCode::kConnectionRefused:
      return "connection refused";
    case ReplyCode::kTtlExpired:
      return "TTL expired";
    case ReplyCode::kCommandNotSupported:
      return "command not supported";
    case ReplyCode::kAddressTypeNotSupported:
      return "address type not supported";
  }
  return "unassigned reply code " + hex_byte(code);
}

std::string to_string(const Destination& destination) {
  if (const auto* endpoint = std::get_if<net::Endpoint>(&destination)) return endpoint->to_string();
  const auto& named = std::get<DomainEndpoint>(destination);
  return named.name + ":" + std::to_string(named.port);
}

std::vector<uint8_t> encode_greeting(bool offer_user_pass) {
  if (offer_user_pass) {
    return {kVersion, 2, static_cast<uint8_t>(Method::kNoAuth),
            static_cast<uint8_t>(Method::kUserPass)};
  }
  return {kVersion, 1, static_cast<uint8_t>(Method::kNoAuth)};
}

Decoded<Method> decode_method_selection(std::span<const uint8_t> bytes) {
  // A wrong version is reported as soon as its byte arrives: waiting for more is pointless.
  if (!bytes.empty() && bytes[0] != kVersion) {
    return malformed<Method>("unsupported SOCKS version " + std::to_string(bytes[0]) +
                             " in method selection");
  }
  if (bytes.size() < 2) return need_more<Method>();
  return ok(static_cast<Method>(bytes[1]), 2);
}

std::vector<uint8_t> encode_user_pass(const Credentials& credentials) {
  const auto& user = credentials.username;
  const auto& pass = credentials.password;
  if (user.empty() || user.size() > kMaxField || pass.size() > kMaxField) return {};
  std::vector<uint8_t> out;
  out.reserve(3 + user.size() + pass.size());
  out.push_back(kAuthVersion);
  out.push_back(static_cast<uint8_t>(user.size()));
  out.insert(out.end(), user.begin(), user.end());
  out.push_back(static_cast<uint8_t>(pass.size()));
  out.insert(out.end(), pass.begin(), pass.end());
  return out;
}

Decoded<bool> decode_user_pass_reply(std::span<const uint8_t> bytes) {
  if (!bytes.empty() && bytes[0] != kAuthVersion) {
    return malformed<bool>("unsupported authentication version " + std::to_string(bytes[0]) +
                           " in username/password reply");
  }
  if (bytes.size() < 2) return need_more<bool>();
  return ok(bytes[1] == 0, 2);
}

std::vector<uint8_t> encode_request(Command command, const Destination& destination) {
  std::vector<uint8_t> out{kVersion, static_cast<uint8_t>(command), 0x00};
  if (const auto* endpoint = std::get_if<net::Endpoint>(&destination)) {
    const auto& address = endpoint->address;
    out.push_back(static_cast<uint8_t>(address.is_v4() ? AddressType::kIpv4 : AddressType::kIpv6));
    const auto octets = address.view();
    out.insert(out.end(), octets.begin(), octets.end());
    append_port(out, endpoint->port);
    return out;
  }
  const auto& domain = std::get<DomainEndpoint>(destination);
  if (domain.name.empty() || domain.name.size() > kMaxField) return {};
  out.push_back(static_cast<uint8_t>(AddressType::kDomain));
  out.push_back(static_cast<uint8_t>(domain.name.size()));
  out.insert(out.end(), domain.name.begin(), domain.name.end());
  append_port(out, domain.port);
  return out;
}

Decoded<Destination> decode_address(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return need_more<Destination>();
  const uint8_t atyp = bytes[0];
  switch (atyp) {
    case static_cast<uint8_t>(AddressType::kIpv4):
    case static_cast<uint8_t>(AddressType::kIpv6): {
      const bool v4 = atyp == static_cast<uint8_t>(AddressType::kIpv4);
      const size_t address_size = v4 ? 4 : 16;
      const size_t total = 1 + address_size + 2;
      if (bytes.size() < total) return need_more<Destination>();
      net::Endpoint endpoint;
      endpoint.address = v4 ? net::IpAddress::v4(bytes.subspan(1).first<4>())
                            : net::IpAddress::v6(bytes.subspan(1).first<16>());
      endpoint.port = read_port(bytes.subspan(1 + address_size, 2));
      return ok(Destination{endpoint}, total);
    }
    case static_cast<uint8_t>(AddressType::kDomain): {
      if (bytes.size() < 2) return need_more<Destination>();
      const size_t length = bytes[1];
      if (length == 0) return malformed<Destination>("zero-length domain name");
      const size_t total = 2 + length + 2;
      if (bytes.size() < total) return need_more<Destination>();
      DomainEndpoint domain;
      const auto name = bytes.subspan(2, length);
      domain.name.assign(name.begin(), name.end());
      domain.port = read_port(bytes.subspan(2 + length, 2));
      return ok(Destination{std::move(domain)}, total);
    }
    default:
      return malformed<Destination>("unknown address type " + hex_byte(atyp));
  }
}

Decoded<Reply> decode_reply(std::span<const uint8_t> bytes) {
  // Header fields are checked as soon as they arrive; the rest waits for the whole message.
  constexpr size_t kHeader = 3;  // VER REP RSV, then the address from ATYP on
  if (bytes.size() >= 1 && bytes[0] != kVersion) {
    return malformed<Reply>("unsupported SOCKS version " + std::to_string(bytes[0]) + " in reply");
  }
  if (bytes.size() >= 3 && bytes[2] != 0x00) {
    return malformed<Reply>("reserved byte is not zero");
  }
  if (bytes.size() <= kHeader) return need_more<Reply>();
  auto address = decode_address(bytes.subspan(kHeader));
  if (address.status == DecodeStatus::kNeedMore) return need_more<Reply>();
  if (address.status == DecodeStatus::kMalformed) return malformed<Reply>(address.error);
  Reply reply;
  reply.code = bytes[1];
  reply.bound = std::move(address.value);
  return ok(std::move(reply), kHeader + address.consumed);
}

}  // namespace t2s::socks5
