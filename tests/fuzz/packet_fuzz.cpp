// libFuzzer target: the pure IP/UDP/ICMP views and builders on arbitrary packets.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "net/packet.h"

namespace {
void check(bool condition) {
  if (!condition) __builtin_trap();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace t2s::net;
  const std::span<const uint8_t> input(data, size);
  auto udp = parse_udp_packet(input);
  if (udp) {
    check(udp->payload.data() >= data && udp->payload.data() + udp->payload.size() <= data + size);
    // A parsed datagram rebuilt at any MTU parses back to the same payload when unfragmented.
    auto rebuilt = build_udp_packets(udp->source, udp->destination, udp->payload, 65535, 1);
    if (rebuilt.size() == 1) {
      auto again = parse_udp_packet(rebuilt[0]);
      check(again.ok() && again->payload.size() == udp->payload.size());
    }
    auto error = build_port_unreachable(input);
    check(error.size() <= 1280 || input[0] >> 4 == 4);
  }
  IcmpKind kind = classify_icmp(input);
  std::vector<uint8_t> copy(input.begin(), input.end());
  bool replied = make_echo_reply(copy);
  check(replied == (kind == IcmpKind::kEchoRequest));
  if (replied) check(classify_icmp(copy) != IcmpKind::kMalformed);
  return 0;
}
