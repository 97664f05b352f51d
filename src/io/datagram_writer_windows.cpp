// DatagramWriter on Windows: uv_udp_try_send, one datagram (header and payload gathered) at a
// time.
#include "io/datagram_writer.h"

namespace t2s::io {

DatagramWriter::DatagramWriter(uv_udp_t* socket) : socket_(socket) {}

DatagramWriter::Sent DatagramWriter::send(std::span<const Datagram> datagrams) {
  Sent sent;
  for (const Datagram& datagram : datagrams) {
    uv_buf_t parts[2] = {
        uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(datagram.header.data())),
                    static_cast<unsigned>(datagram.header.size())),
        uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(datagram.payload.data())),
                    static_cast<unsigned>(datagram.payload.size()))};
    if (uv_udp_try_send(socket_, parts, 2, nullptr) >= 0) {
      ++sent.datagrams;
      ++sent.system_calls;
    }
  }
  return sent;
}

}  // namespace t2s::io
