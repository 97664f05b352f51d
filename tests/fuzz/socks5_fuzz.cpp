// libFuzzer target: every SOCKS5 decoder (method, auth, reply, UDP header) and the proxy URL
// parser, on arbitrary bytes from a hostile proxy or user.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "socks5/codec.h"
#include "socks5/proxy_url.h"
#include "socks5/udp_codec.h"

namespace {
void check(bool condition) {
  if (!condition) __builtin_trap();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace t2s::socks5;
  const std::span<const uint8_t> input(data, size);
  auto method = decode_method_selection(input);
  check(method.status != DecodeStatus::kOk || method.consumed <= size);
  auto auth = decode_user_pass_reply(input);
  check(auth.status != DecodeStatus::kOk || auth.consumed <= size);
  auto reply = decode_reply(input);
  check(reply.status != DecodeStatus::kOk || reply.consumed <= size);
  auto udp = decode_udp_header(input);
  check(udp.status != DecodeStatus::kNeedMore);
  if (udp.status == DecodeStatus::kOk) {
    check(udp.consumed <= size);
    // What decodes must encode back to the same header bytes.
    uint8_t again[300];
    size_t written = write_udp_header(udp.value.address, again);
    check(written == 0 || written == udp.consumed || udp.value.fragment != 0);
  }
  auto url = ProxyUrl::parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (url) {
    check(url->port != 0);
    // The redacted form must not depend on the password at all.
    if (url->credentials) {
      ProxyUrl other = url.value();
      other.credentials->password = "different";
      check(other.redacted() == url->redacted());
    }
  } else {
    check(!url.error().empty());
  }
  return 0;
}
