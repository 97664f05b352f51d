// RAII ownership of a libuv TCP handle. Destroying a TcpSocket detaches its owner and closes
// the handle; the handle's memory is freed only in libuv's close callback. Callbacks still in
// flight (writes, connect) find a null owner and do nothing but free their request.
#pragma once

#include <uv.h>

#include <memory>

namespace t2s::io {

class TcpSocket {
 public:
  // With `family` AF_INET or AF_INET6 the OS socket exists at once (for socket options set
  // before connecting); with AF_UNSPEC it is made by connect.
  static std::unique_ptr<TcpSocket> create(uv_loop_t* loop, int family = AF_UNSPEC);
  ~TcpSocket();
  TcpSocket(const TcpSocket&) = delete;
  TcpSocket& operator=(const TcpSocket&) = delete;

  uv_tcp_t* handle() { return handle_; }
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(handle_); }

  // The object that callbacks on this handle should reach; nullptr detaches.
  void set_owner(void* owner) { handle_->data = owner; }
  template <typename T>
  static T* owner_of(const uv_stream_t* stream) {
    return static_cast<T*>(stream->data);
  }

  // Starts connecting the socket made by create(loop, family) and returns at once (0 or a libuv
  // error). Unlike uv_tcp_connect, writes may be queued right away: libuv tries them at once,
  // and on a fast link the handshake is usually complete when connect returns, which saves a
  // loop turn. A failed connection shows up as an error on the first write or read. This relies
  // on Linux answering a write to a still-connecting socket with EAGAIN (libuv then waits until
  // it is writable); BSD-derived systems answer ENOTCONN and would need uv_tcp_connect.
  int start_connect(const sockaddr* address);

  // Close with RST instead of FIN when this socket is destroyed.
  void reset_on_close() { reset_on_close_ = true; }

 private:
  explicit TcpSocket(uv_tcp_t* handle) : handle_(handle) {}
  uv_tcp_t* handle_;
  bool reset_on_close_ = false;
};

}  // namespace t2s::io
