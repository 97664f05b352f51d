// ones_complement_sum and copy_and_sum: 32-bit loads accumulated in 64 bits, folded once at the
// end; the copying variant stores what it has loaded, so the data is read only once.
#include "net/checksum.h"

#include <cstring>

namespace t2s::net {
namespace {

template <bool kCopy>
uint16_t sum_of(uint8_t* destination, const uint8_t* data, size_t length) {
  uint64_t sum = 0;
  // Four independent 32-bit lanes per step; a 64-bit accumulator cannot overflow before
  // 2^32 additions, far beyond any packet.
  while (length >= 16) {
    uint32_t words[4];
    std::memcpy(words, data, sizeof words);
    if constexpr (kCopy) {
      std::memcpy(destination, words, sizeof words);
      destination += sizeof words;
    }
    sum += uint64_t{words[0]} + words[1] + words[2] + words[3];
    data += 16;
    length -= 16;
  }
  if constexpr (kCopy) std::memcpy(destination, data, length);  // the tail, summed below
  while (length >= 4) {
    uint32_t word;
    std::memcpy(&word, data, sizeof word);
    sum += word;
    data += 4;
    length -= 4;
  }
  if (length >= 2) {
    uint16_t half;
    std::memcpy(&half, data, sizeof half);
    sum += half;
    data += 2;
    length -= 2;
  }
  if (length == 1) {
    uint8_t last[2] = {data[0], 0};
    uint16_t half;
    std::memcpy(&half, last, sizeof half);
    sum += half;
  }
  // Fold 64 -> 16 bits; the sum of 32-bit words folds to the same 16-bit ones'-complement sum.
  sum = (sum & 0xFFFFFFFF) + (sum >> 32);
  sum = (sum & 0xFFFFFFFF) + (sum >> 32);
  sum = (sum & 0xFFFF) + (sum >> 16);
  sum = (sum & 0xFFFF) + (sum >> 16);
  sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

}  // namespace

uint16_t ones_complement_sum(std::span<const uint8_t> bytes) {
  return sum_of<false>(nullptr, bytes.data(), bytes.size());
}

uint16_t copy_and_sum(uint8_t* destination, std::span<const uint8_t> source) {
  return sum_of<true>(destination, source.data(), source.size());
}

}  // namespace t2s::net
