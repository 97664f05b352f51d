// libFuzzer target: --set-dns's resolv.conf rewriting on arbitrary file contents. Invariants:
// the original comes back exactly from our version alone (a final newline added if missing),
// our version names only our nameservers, and reading never fails on any bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "platform/resolv_conf.h"

namespace {
void check(bool condition) {
  if (!condition) __builtin_trap();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace rc = t2s::platform::resolv_conf;
  const std::string original(reinterpret_cast<const char*>(data), size);
  (void)rc::nameservers(original);
  if (rc::is_ours(original)) {
    (void)rc::original_of(original);
    return 0;
  }
  const std::string ours = rc::rewritten(original, {"198.18.0.2"});
  check(rc::is_ours(ours));
  auto back = rc::original_of(ours);
  check(back.has_value());
  std::string expected = original;
  if (!expected.empty() && expected.back() != '\n') expected += '\n';
  check(*back == expected);
  auto servers = rc::nameservers(ours);
  check(servers.size() == 1 && servers.front() == "198.18.0.2");
  return 0;
}
