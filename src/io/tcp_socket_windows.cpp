// TcpSocket's Windows side. Winsock refuses reads and writes on a socket that is still
// connecting (libuv answers them with UV_ENOTCONN or UV_EPIPE), so start_connect uses
// uv_tcp_connect and holds the caller's writes and reads until the connection is made.
#include <utility>
#include <vector>

#include "io/tcp_socket.h"

namespace t2s::io {

struct TcpSocket::PendingConnect {
  struct Write {
    uv_write_t* request;
    std::vector<uv_buf_t> bufs;
    uv_write_cb done;
  };
  uv_connect_t request{};
  std::vector<Write> writes;
};

int TcpSocket::start_connect(const sockaddr* address) {
  auto* pending = new PendingConnect{};
  pending->request.data = pending;
  if (int rc = uv_tcp_connect(&pending->request, handle_, address, connected); rc != 0) {
    delete pending;
    return rc;
  }
  pending_connect_ = pending;
  return 0;
}

// Runs once per connect, also after the TcpSocket is gone (handle->data is null then; libuv
// frees the handle only after this callback), so the waiting writes always get their callback.
void TcpSocket::connected(uv_connect_t* request, int status) {
  auto* pending = static_cast<PendingConnect*>(request->data);
  auto alive = [request] { return static_cast<TcpSocket*>(request->handle->data); };
  if (TcpSocket* self = alive()) self->pending_connect_ = nullptr;
  // A write's callback may destroy the TcpSocket; the writes after it are cancelled.
  for (auto& write : pending->writes) {
    int rc = alive() == nullptr ? UV_ECANCELED : status;
    if (rc == 0) {
      rc = uv_write(write.request, request->handle, write.bufs.data(),
                    static_cast<unsigned>(write.bufs.size()), write.done);
    }
    if (rc != 0) write.done(write.request, rc);
  }
  delete pending;
  TcpSocket* self = alive();
  if (self == nullptr || self->alloc_ == nullptr) return;  // nobody reads yet
  int rc = status == 0 ? self->read_with(self->alloc_, self->read_) : status;
  if (rc != 0) {
    uv_buf_t none = uv_buf_init(nullptr, 0);
    self->read_(self->stream(), rc, &none);
  }
}

int TcpSocket::write(uv_write_t* request, const uv_buf_t* bufs, unsigned count, uv_write_cb done) {
  if (pending_connect_ == nullptr) return uv_write(request, stream(), bufs, count, done);
  request->handle = stream();  // as uv_write would set it, for callbacks that look
  pending_connect_->writes.push_back({request, {bufs, bufs + count}, done});
  return 0;
}

// Winsock has SO_RCVLOWAT but refuses to set it.
bool set_receive_low_water(uv_os_sock_t, int) {
  return false;
}

}  // namespace t2s::io
