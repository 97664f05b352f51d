// TcpSocket: libuv handle lifetime (init, close, free in the close callback).
#include "io/tcp_socket.h"

#include <sys/socket.h>

#include <cerrno>

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
  handle->data = nullptr;
  return std::unique_ptr<TcpSocket>(new TcpSocket(handle));
}

int TcpSocket::start_connect(const sockaddr* address) {
  uv_os_fd_t fd{};
  if (int rc = uv_fileno(reinterpret_cast<const uv_handle_t*>(handle_), &fd); rc != 0) return rc;
  socklen_t length = address->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  // EINTR, like EINPROGRESS, leaves the attempt running in the background.
  if (::connect(fd, address, length) != 0 && errno != EINPROGRESS && errno != EINTR) {
    return uv_translate_sys_error(errno);
  }
  // Marks the handle readable and writable; the descriptor stays the one the handle made.
  return uv_tcp_open(handle_, fd);
}

TcpSocket::~TcpSocket() {
  handle_->data = nullptr;
  auto* as_handle = reinterpret_cast<uv_handle_t*>(handle_);
  if (uv_is_closing(as_handle)) return;
  if (reset_on_close_ && uv_tcp_close_reset(handle_, free_handle) == 0) return;
  uv_close(as_handle, free_handle);
}

}  // namespace t2s::io
