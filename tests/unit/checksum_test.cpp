// ones_complement_sum against a plain RFC 1071 reference, over every length and alignment.
#include "net/checksum.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

namespace t2s::net {
namespace {

uint16_t reference_sum(const uint8_t* data, size_t length) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < length; i += 2) {
    uint16_t word;
    std::memcpy(&word, data + i, 2);
    sum += word;
    sum = (sum & 0xFFFF) + (sum >> 16);
  }
  if (length % 2 == 1) {
    uint8_t last[2] = {data[length - 1], 0};
    uint16_t word;
    std::memcpy(&word, last, 2);
    sum += word;
    sum = (sum & 0xFFFF) + (sum >> 16);
  }
  return static_cast<uint16_t>(sum);
}

TEST(ChecksumTest, MatchesReferenceForEveryLengthAndOffset) {
  std::mt19937 random(42);
  std::vector<uint8_t> buffer(2100);
  for (auto& byte : buffer) byte = static_cast<uint8_t>(random());
  for (size_t offset = 0; offset < 8; ++offset) {
    for (size_t length = 0; length <= 2048; ++length) {
      ASSERT_EQ(ones_complement_sum({buffer.data() + offset, length}),
                reference_sum(buffer.data() + offset, length))
          << "offset " << offset << " length " << length;
    }
  }
}

TEST(ChecksumTest, CopyAndSumCopiesAndSumsForEveryLengthAndOffset) {
  std::mt19937 random(7);
  std::vector<uint8_t> source(2100);
  for (auto& byte : source) byte = static_cast<uint8_t>(random());
  std::vector<uint8_t> destination(2100 + 16);
  for (size_t offset = 0; offset < 8; ++offset) {
    for (size_t length = 0; length <= 1100; ++length) {
      std::fill(destination.begin(), destination.end(), 0xA5);
      uint16_t sum = copy_and_sum(destination.data() + 3, {source.data() + offset, length});
      ASSERT_EQ(sum, reference_sum(source.data() + offset, length))
          << "offset " << offset << " length " << length;
      ASSERT_EQ(std::memcmp(destination.data() + 3, source.data() + offset, length), 0);
      ASSERT_EQ(destination[2], 0xA5);  // nothing written around the copy
      ASSERT_EQ(destination[3 + length], 0xA5);
    }
  }
}

TEST(ChecksumTest, AllOnesCarriesFold) {
  std::vector<uint8_t> ones(65535, 0xFF);
  EXPECT_EQ(ones_complement_sum(ones), reference_sum(ones.data(), ones.size()));
  EXPECT_EQ(ones_complement_sum({}), 0);
}

TEST(ChecksumTest, Rfc1071Example) {
  // RFC 1071 section 3: words 0001 f203 f4f5 f6f7 sum to ddf2 (in network order).
  const uint8_t bytes[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  uint16_t sum = ones_complement_sum(bytes);
  const auto* as_bytes = reinterpret_cast<const uint8_t*>(&sum);
  EXPECT_EQ(as_bytes[0], 0xdd);
  EXPECT_EQ(as_bytes[1], 0xf2);
}

}  // namespace
}  // namespace t2s::net
