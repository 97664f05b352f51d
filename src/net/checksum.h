// The Internet checksum (RFC 1071) arithmetic: a ones'-complement sum over 16-bit words, fast
// enough for every byte the tunnel relays (it is computed on every TCP segment both ways).
#pragma once

#include <cstdint>
#include <span>

namespace t2s::net {

// Ones'-complement sum of `bytes` read as consecutive 16-bit words in memory order (a trailing
// odd byte is padded with zero), folded to 16 bits and not inverted. Like RFC 1071's sum, the
// result is byte-order independent: store it as is and it is right on the wire.
uint16_t ones_complement_sum(std::span<const uint8_t> bytes);

// Copies `source` to `destination` (source.size() bytes, not overlapping) and returns
// ones_complement_sum(source), reading the data once (lwIP copies every byte it sends).
uint16_t copy_and_sum(uint8_t* destination, std::span<const uint8_t> source);

}  // namespace t2s::net
