// libFuzzer target: the DNS query parser and answer builders must never crash or misbehave.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "dns/message.h"

namespace {

void check(bool condition) {
  if (!condition) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace t2s;
  const std::span<const uint8_t> input(data, size);

  const auto id = dns::message_id(input);
  check(id.has_value() == (size >= 2));

  // Treat the input as an answer too: truncation must stay within the input's bytes.
  const uint16_t limit =
      size >= 2 ? static_cast<uint16_t>(data[size - 1] | (data[size - 2] << 8)) : uint16_t{0};
  const std::vector<uint8_t> truncated = dns::truncate_for_udp(input, limit);
  check(truncated.size() <= size);

  const auto query = dns::parse_query(input);
  if (!query.ok()) {
    check(!query.error().empty());
    if (id) {
      dns::Query partial;
      partial.id = *id;
      const auto error = dns::build_error_answer(partial, dns::ResponseCode::kFormatError);
      check(error.size() == 12);
    }
    return 0;
  }
  check(query->max_udp_size >= 512);

  // A few addresses of both families taken from the input.
  std::vector<net::IpAddress> addresses;
  for (size_t i = 0; i + 16 <= size && addresses.size() < 40; i += 7) {
    net::IpAddress address;
    address.family = data[i] & 1 ? net::Family::kIpv6 : net::Family::kIpv4;
    for (size_t j = 0; j < address.size(); ++j) address.bytes[j] = data[i + j];
    addresses.push_back(address);
  }
  const uint32_t ttl = static_cast<uint32_t>(size) * 2654435761u;
  const std::vector<uint8_t> answer = dns::build_address_answer(query.value(), addresses, ttl);
  check(answer.size() >= 12 && dns::message_id(answer) == query->id);
  check((answer[2] & 0x80) != 0);

  // Cut to header and question, the answer reads back as the same question.
  std::vector<uint8_t> cut = dns::truncate_for_udp(answer, 0);
  check(cut.size() >= 12 && (cut[2] & 0x02) != 0);
  cut[2] &= 0x7d;  // clear QR and TC
  const auto reparsed = dns::parse_query(cut);
  check(reparsed.ok());
  check(reparsed->question.name == query->question.name);
  check(reparsed->question.type == query->question.type);
  check(!reparsed->has_edns);

  const std::vector<uint8_t> fitted = dns::truncate_for_udp(answer, query->max_udp_size);
  check(fitted.size() <= query->max_udp_size || fitted.size() == cut.size());

  for (auto code : {dns::ResponseCode::kServerFailure, dns::ResponseCode::kNameError}) {
    const auto error = dns::build_error_answer(query.value(), code);
    check(error.size() >= 12 && (error[3] & 0x0f) == static_cast<uint8_t>(code));
  }
  return 0;
}
