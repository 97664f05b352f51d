// DatagramReader on Windows: libuv's uv_udp_recv_start, one datagram per callback, into one
// buffer that every reader shares (they all run on the loop's thread). A datagram longer than the
// buffer comes with UV_UDP_PARTIAL and is reported truncated.
#include <vector>

#include "io/datagram_reader.h"

namespace t2s::io {
namespace {

std::vector<char>& shared_buffer() {
  static std::vector<char> buffer;
  return buffer;
}

}  // namespace

struct DatagramReader::Platform {
  uv_udp_t* socket = nullptr;
  size_t max_datagram = 0;
  Callback callback = nullptr;
  void* context = nullptr;

  static void on_receive(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr*,
                         unsigned flags);
};

void DatagramReader::Platform::on_receive(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf,
                                          const sockaddr*, unsigned flags) {
  auto* self = static_cast<Platform*>(handle->data);
  if (self == nullptr || nread <= 0) return;  // nothing more for now, or an error: keep reading
  const Datagram datagram{{reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread)},
                          (flags & UV_UDP_PARTIAL) != 0};
  self->callback(self->context, {&datagram, 1});
}

std::unique_ptr<DatagramReader> DatagramReader::start(uv_udp_t* socket, size_t max_datagram,
                                                      Callback callback, void* context,
                                                      int& error) {
  auto platform = std::make_unique<Platform>();
  platform->socket = socket;
  platform->max_datagram = max_datagram;
  platform->callback = callback;
  platform->context = context;
  if (shared_buffer().size() < max_datagram) shared_buffer().resize(max_datagram);
  socket->data = platform.get();
  error = uv_udp_recv_start(
      socket,
      [](uv_handle_t* handle, size_t, uv_buf_t* buf) {
        auto* self = static_cast<Platform*>(handle->data);
        *buf = uv_buf_init(shared_buffer().data(), static_cast<unsigned>(self->max_datagram));
      },
      Platform::on_receive);
  if (error != 0) {
    socket->data = nullptr;
    return nullptr;
  }
  return std::unique_ptr<DatagramReader>(new DatagramReader(std::move(platform)));
}

DatagramReader::DatagramReader(std::unique_ptr<Platform> platform)
    : platform_(std::move(platform)) {}

DatagramReader::~DatagramReader() {
  uv_udp_recv_stop(platform_->socket);
  platform_->socket->data = nullptr;
}

size_t DatagramReader::batch_size() {
  return 1;
}

}  // namespace t2s::io
