// TcpSocket's POSIX side: connecting with connect() under libuv's handle, socket options.
#include <sys/socket.h>

#include <cerrno>

#include "io/tcp_socket.h"

namespace t2s::io {

int TcpSocket::start_connect(const sockaddr* address) {
  uv_os_sock_t fd{};
  if (int rc = socket_of(reinterpret_cast<const uv_handle_t*>(handle_), fd); rc != 0) return rc;
  socklen_t length = address->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  // EINTR, like EINPROGRESS, leaves the attempt running in the background.
  if (::connect(fd, address, length) != 0 && errno != EINPROGRESS && errno != EINTR) {
    return uv_translate_sys_error(errno);
  }
  // Marks the handle readable and writable; the descriptor stays the one the handle made.
  return uv_tcp_open(handle_, fd);
}

int TcpSocket::write(uv_write_t* request, const uv_buf_t* bufs, unsigned count, uv_write_cb done) {
  return uv_write(request, stream(), bufs, count, done);
}

bool set_receive_low_water(uv_os_sock_t socket, int bytes) {
  return setsockopt(socket, SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof bytes) == 0;
}

}  // namespace t2s::io
