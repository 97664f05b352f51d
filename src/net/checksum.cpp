// ones_complement_sum: 32-bit loads accumulated in 64 bits, folded once at the end.
#include "net/checksum.h"

#include <cstring>

namespace t2s::net {

uint16_t ones_complement_sum(std::span<const uint8_t> bytes) {
  const uint8_t* data = bytes.data();
  size_t length = bytes.size();
  uint64_t sum = 0;
  // Four independent 32-bit lanes per step; a 64-bit accumulator cannot overflow before
  // 2^32 additions, far beyond any packet.
  while (length >= 16) {
    uint32_t words[4];
    std::memcpy(words, data, sizeof words);
    sum += uint64_t{words[0]} + words[1] + words[2] + words[3];
    data += 16;
    length -= 16;
  }
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

}  // namespace t2s::net
