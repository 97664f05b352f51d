// TcpSocket: libuv handle lifetime (init, close, free in the close callback).
#include "io/tcp_socket.h"

namespace t2s::io {
namespace {
void free_handle(uv_handle_t* handle) {
  delete reinterpret_cast<uv_tcp_t*>(handle);
}
}  // namespace

std::unique_ptr<TcpSocket> TcpSocket::create(uv_loop_t* loop, int family) {
  auto* handle = new uv_tcp_t{};
  if (uv_tcp_init_ex(loop, handle, static_cast<unsigned int>(family)) != 0) {
    delete handle;
    return nullptr;
  }
  return std::unique_ptr<TcpSocket>(new TcpSocket(handle));
}

int TcpSocket::read_with(uv_alloc_cb alloc, uv_read_cb read) {
  alloc_ = alloc;
  read_ = read;
  if (libuv_reading_ || pending_connect_ != nullptr) return 0;  // or once connected (Windows)
  int rc = uv_read_start(stream(), alloc_trampoline, read_trampoline);
  libuv_reading_ = rc == 0;
  return rc;
}

void TcpSocket::pause_reading() {
  alloc_ = nullptr;
  read_ = nullptr;
}

void TcpSocket::stop_reading() {
  pause_reading();
  if (libuv_reading_) uv_read_stop(stream());
  libuv_reading_ = false;
}

void TcpSocket::alloc_trampoline(uv_handle_t* handle, size_t suggested, uv_buf_t* buf) {
  auto* self = static_cast<TcpSocket*>(handle->data);
  if (self == nullptr || self->alloc_ == nullptr) {
    *buf = uv_buf_init(nullptr, 0);  // libuv reads nothing and reports UV_ENOBUFS
    return;
  }
  self->alloc_(handle, suggested, buf);
}

void TcpSocket::read_trampoline(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<TcpSocket*>(stream->data);
  if (self == nullptr) return;
  if (self->read_ == nullptr) {
    // Paused and something arrived: it stays in the socket until the next owner reads.
    self->stop_reading();
    return;
  }
  // After EOF or an error libuv has stopped reading by itself.
  if (nread < 0 && nread != UV_ENOBUFS) self->libuv_reading_ = false;
  self->read_(stream, nread, buf);
}

ssize_t TcpSocket::write_now(std::span<uv_buf_t>& bufs) {
  if (pending_connect_ != nullptr) return 0;  // Windows: not connected yet
  int written = uv_try_write(stream(), bufs.data(), static_cast<unsigned>(bufs.size()));
  if (written == UV_EAGAIN) return 0;
  if (written < 0) return written;
  size_t left = static_cast<size_t>(written);
  while (!bufs.empty() && left >= bufs.front().len) {
    left -= bufs.front().len;
    bufs = bufs.subspan(1);
  }
  if (left > 0) {
    bufs.front().base += left;
    bufs.front().len -= left;
  }
  return written;
}

int socket_of(const uv_handle_t* handle, uv_os_sock_t& socket) {
  uv_os_fd_t fd{};
  if (int rc = uv_fileno(handle, &fd); rc != 0) return rc;
  // The same descriptor on POSIX; on Windows libuv hands the SOCKET out as a HANDLE.
  socket = reinterpret_cast<uv_os_sock_t>(fd);
  return 0;
}

TcpSocket::~TcpSocket() {
  handle_->data = nullptr;
  auto* as_handle = reinterpret_cast<uv_handle_t*>(handle_);
  if (uv_is_closing(as_handle)) return;
  if (reset_on_close_ && uv_tcp_close_reset(handle_, free_handle) == 0) return;
  uv_close(as_handle, free_handle);
}

}  // namespace t2s::io
