// Reads every datagram that arrives on a libuv UDP socket and hands them to a callback, a batch
// at a time (so a caller can pass on several with one system call of its own). On
// Linux (datagram_reader_posix.cpp) the reader watches the socket with its own uv_poll_t and
// takes up to a batch of datagrams with one recvmmsg: libuv's own UDP reads cost one recvmsg per
// datagram plus one more that finds the socket empty. Windows (datagram_reader_windows.cpp)
// keeps libuv's uv_udp_recv_start. Sending is DatagramWriter's (datagram_writer.h).
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace t2s::io {

// The most datagrams one batch holds on any OS.
constexpr size_t kMaxDatagramBatch = 16;

class DatagramReader {
 public:
  // One datagram. `truncated`: it was longer than the reader's maximum (MSG_TRUNC); `bytes`
  // holds its first bytes only and is not to be used as a whole.
  struct Datagram {
    std::span<const uint8_t> bytes;
    bool truncated = false;
  };
  // The datagrams one read took, in arrival order, never empty; they and their bytes are valid
  // during the call only. The callback may destroy the reader; nothing is delivered after that.
  using Callback = void (*)(void* context, std::span<const Datagram> batch);

  // Starts reading `socket` (bound, usually connected, not read by anyone else; its `data` field
  // is the reader's) until the reader is destroyed, which must happen before the socket closes.
  // Datagrams longer than `max_datagram` bytes arrive truncated. Returns nullptr and sets `error`
  // (a libuv error code) on failure.
  static std::unique_ptr<DatagramReader> start(uv_udp_t* socket, size_t max_datagram,
                                               Callback callback, void* context, int& error);
  ~DatagramReader();
  DatagramReader(const DatagramReader&) = delete;
  DatagramReader& operator=(const DatagramReader&) = delete;

  // Datagrams a single read takes at most (1 where the OS reads one at a time).
  static size_t batch_size();

 private:
  struct Platform;  // the OS side, in the .cpp that CMake picks
  explicit DatagramReader(std::unique_ptr<Platform> platform);
  std::unique_ptr<Platform> platform_;
};

}  // namespace t2s::io
