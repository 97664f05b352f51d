// RAII ownership of a libuv TCP handle. Destroying a TcpSocket detaches its owner and closes
// the handle; the handle's memory is freed only in libuv's close callback. Callbacks still in
// flight (writes, connect) find a null owner and do nothing but free their request.
//
// Reads go through the TcpSocket, so that a socket can change owners (handshake, spare,
// session) without stopping libuv's reads: uv_read_stop makes libuv forget the socket's epoll
// registration, and the next uv_read_start pays for that with an epoll_ctl that fails (EEXIST)
// and a second one.
#pragma once

#include <uv.h>

#include <memory>
#include <span>

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
  void set_owner(void* owner) { owner_ = owner; }
  // The owner, from inside a callback; nullptr once the TcpSocket is gone or detached.
  template <typename T>
  static T* owner_of(const uv_handle_t* handle) {
    const auto* socket = static_cast<const TcpSocket*>(handle->data);
    return socket == nullptr ? nullptr : static_cast<T*>(socket->owner_);
  }
  template <typename T>
  static T* owner_of(const uv_stream_t* stream) {
    return owner_of<T>(reinterpret_cast<const uv_handle_t*>(stream));
  }

  // Reads into these callbacks (libuv's signatures; they reach the owner with owner_of), or
  // switches to them without a system call if libuv is still reading.
  int read_with(uv_alloc_cb alloc, uv_read_cb read);
  // No callbacks until the next read_with, which may come from another owner. libuv keeps
  // watching the socket; whatever arrives meanwhile (data, EOF, an error) stays in the socket,
  // and libuv then stops for real.
  void pause_reading();
  // Stops libuv's reads (flow control, or done with the socket).
  void stop_reading();

  // Writes what the socket takes at once, without a libuv write request: when a request
  // completes, libuv re-registers the socket with epoll (one more epoll_ctl per write). `bufs`
  // is advanced past the bytes written; what is left (usually nothing) is for a uv_write, which
  // libuv queues behind any earlier one. Returns the bytes written (0 if the socket takes
  // nothing now or a write is still queued) or a libuv error.
  ssize_t write_now(std::span<uv_buf_t>& bufs);

  // Starts connecting the socket made by create(loop, family) and returns at once (0 or a libuv
  // error). Unlike uv_tcp_connect, writes (write_now, then write) and reads may be started right
  // away; a failed connection shows up as an error on the first write or read. On Linux
  // (tcp_socket_posix.cpp) libuv tries writes at once, and on a fast link the handshake is
  // usually complete when connect returns, which saves a loop turn: Linux answers a write to a
  // still-connecting socket with EAGAIN and libuv waits until it is writable (BSD-derived systems
  // answer ENOTCONN). Windows (tcp_socket_windows.cpp) refuses both until connected, so there
  // uv_tcp_connect runs and writes and reads wait for it here.
  int start_connect(const sockaddr* address);
  // uv_write on this socket, for the bytes write_now left.
  int write(uv_write_t* request, const uv_buf_t* bufs, unsigned count, uv_write_cb done);

  // Close with RST instead of FIN when this socket is destroyed.
  void reset_on_close() { reset_on_close_ = true; }

 private:
  explicit TcpSocket(uv_tcp_t* handle) : handle_(handle) { handle_->data = this; }
  static void alloc_trampoline(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void read_trampoline(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  // Windows only (tcp_socket_windows.cpp): writes and reads waiting for the connection.
  struct PendingConnect;
  static void connected(uv_connect_t* request, int status);

  uv_tcp_t* handle_;
  void* owner_ = nullptr;
  uv_alloc_cb alloc_ = nullptr;  // both null while paused or stopped
  uv_read_cb read_ = nullptr;
  bool libuv_reading_ = false;
  bool reset_on_close_ = false;
  PendingConnect* pending_connect_ = nullptr;  // owned by its connect request
};

// The OS socket of a TCP or UDP handle that has one; 0 or a libuv error.
int socket_of(const uv_handle_t* handle, uv_os_sock_t& socket);
// Raises the bytes a read waits for (SO_RCVLOWAT) where the OS supports it; false elsewhere.
bool set_receive_low_water(uv_os_sock_t socket, int bytes);

}  // namespace t2s::io
