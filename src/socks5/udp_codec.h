// SOCKS5 UDP request header (RFC 1928 section 7): RSV(2) FRAG ATYP DST.ADDR DST.PORT, followed
// by the datagram. Pure encoder and decoder; a datagram arrives whole, so a short one is
// malformed rather than incomplete.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "socks5/codec.h"

namespace t2s::socks5 {

// The longest header: a 255-byte domain name.
constexpr size_t kMaxUdpHeaderSize = 4 + 1 + 255 + 2;
// Bytes the header takes for `destination` (0 when it cannot be encoded: empty or >255-byte
// domain).
size_t udp_header_size(const Destination& destination);
// Writes the header (FRAG = 0) at the start of `out`; returns the bytes written, 0 when `out`
// is too small or the destination cannot be encoded.
size_t write_udp_header(const Destination& destination, std::span<uint8_t> out);

struct UdpHeader {
  uint8_t fragment = 0;  // FRAG; non-zero fragments are not supported by the caller
  Destination address;   // DST.ADDR/DST.PORT: for a datagram from the proxy, its remote source
  size_t length = 0;     // header bytes; the payload follows
};
// kOk or kMalformed (never kNeedMore): truncated header, RSV != 0, unknown ATYP, empty domain.
Decoded<UdpHeader> decode_udp_header(std::span<const uint8_t> datagram);

}  // namespace t2s::socks5
