// A histogram of how long proxy handshakes took, from the start of a connection's handshake to
// the proxy's success reply. Fixed buckets, one increment per handshake.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace t2s::socks5 {

struct HandshakeTimes {
  static constexpr std::array<uint64_t, 12> kBoundsMs = {1,   2,   5,   10,   25,   50,
                                                         100, 250, 500, 1000, 2500, 5000};
  // counts[i]: handshakes that took at most kBoundsMs[i] and more than kBoundsMs[i - 1];
  // the last one counts those above every bound.
  std::array<uint64_t, kBoundsMs.size() + 1> counts{};
  uint64_t sum_ms = 0;

  void record(uint64_t ms) {
    size_t bucket = 0;
    while (bucket < kBoundsMs.size() && ms > kBoundsMs[bucket]) ++bucket;
    ++counts[bucket];
    sum_ms += ms;
  }
};

}  // namespace t2s::socks5
