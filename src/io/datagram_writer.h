// Sends datagrams on a connected libuv UDP socket with as few system calls as the OS allows.
// On Linux (datagram_writer_posix.cpp) one sendmmsg takes a whole list, and consecutive
// datagrams of one size (the last may be shorter) go as one message the kernel cuts up
// (UDP_SEGMENT), so they cross the local network stack once. Windows
// (datagram_writer_windows.cpp) sends them one by one with uv_udp_try_send.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <span>

namespace t2s::io {

class DatagramWriter {
 public:
  // One datagram, given as a header (e.g. SOCKS5's) and a payload sent after it without a copy.
  struct Datagram {
    std::span<const uint8_t> header;
    std::span<const uint8_t> payload;
  };

  // `socket`: bound and connected; it must outlive the writer.
  explicit DatagramWriter(uv_udp_t* socket);

  struct Sent {
    size_t datagrams = 0;     // how many went out
    size_t system_calls = 0;  // the calls that sent them
  };
  // Sends `datagrams` in order. Those that did not go out were dropped: the socket's buffer was
  // full, or the kernel refused them (e.g. an ICMP error reported on the connected socket), as
  // UDP may.
  Sent send(std::span<const Datagram> datagrams);

 private:
  uv_udp_t* socket_;
  int fd_ = -1;
  // Largest datagram (header and payload) the kernel may cut a message into; 0 = never cut.
  size_t max_segment_ = 0;
};

}  // namespace t2s::io
