// DatagramReader on Linux: our own uv_poll_t on the UDP socket and recvmmsg, up to kBatch
// datagrams per system call. A batch that comes back short means the socket is empty, so unlike
// libuv's read loop no second call is made to find that out; level-triggered polling wakes the
// reader again when the next datagram arrives.
#include <sys/socket.h>

#include <array>
#include <cerrno>

#include "io/datagram_reader.h"

namespace t2s::io {
namespace {

constexpr size_t kBatch = kMaxDatagramBatch;
// A socket that keeps a full batch waiting is left after this many batches, so one busy flow
// cannot hold up the loop; it is still readable and polled again on the next turn.
constexpr int kMaxBatchesPerWakeup = 4;

// The slots recvmmsg fills. Every reader runs on the loop's thread and a batch is handed out
// before the next read, so all readers share one set; it grows to the largest maximum asked
// for. Untouched pages of the slots are never made resident.
struct BatchSlots {
  std::unique_ptr<uint8_t[]> bytes;
  size_t slot_size = 0;
  std::array<mmsghdr, kBatch> messages{};
  std::array<iovec, kBatch> vectors{};

  void reserve(size_t max_datagram) {
    if (max_datagram <= slot_size) return;
    bytes.reset(new uint8_t[kBatch * max_datagram]);  // uninitialised on purpose
    slot_size = max_datagram;
  }
  // recvmmsg into every slot, each limited to `max_datagram` bytes: the datagrams read (0 when
  // the socket is empty or reported an error, which the call consumes).
  int receive(int fd, size_t max_datagram) {
    for (size_t i = 0; i < kBatch; ++i) {
      vectors[i] = {bytes.get() + i * slot_size, max_datagram};
      messages[i] = {};
      messages[i].msg_hdr.msg_iov = &vectors[i];
      messages[i].msg_hdr.msg_iovlen = 1;
    }
    int n;
    do {
      n = ::recvmmsg(fd, messages.data(), kBatch, MSG_DONTWAIT, nullptr);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? 0 : n;
  }
};

BatchSlots& batch_slots() {
  static BatchSlots slots;
  return slots;
}

}  // namespace

struct DatagramReader::Platform {
  uv_poll_t* poll = nullptr;  // freed in its close callback
  int fd = -1;
  size_t max_datagram = 0;
  Callback callback = nullptr;
  void* context = nullptr;
  bool* destroyed = nullptr;  // set while delivering a batch

  static void on_poll(uv_poll_t* handle, int status, int events);
  void read_batches();
};

void DatagramReader::Platform::on_poll(uv_poll_t* handle, int status, int) {
  auto* self = static_cast<Platform*>(handle->data);
  if (self == nullptr) return;
  if (status < 0) {
    // libuv stops a poll handle on POLLERR, e.g. an ICMP error queued on the connected socket
    // (the peer's port was closed). Take the error off the socket and keep reading.
    int pending = 0;
    socklen_t length = sizeof pending;
    ::getsockopt(self->fd, SOL_SOCKET, SO_ERROR, &pending, &length);
    uv_poll_start(handle, UV_READABLE, on_poll);
  }
  self->read_batches();
}

void DatagramReader::Platform::read_batches() {
  BatchSlots& slots = batch_slots();
  for (int round = 0; round < kMaxBatchesPerWakeup; ++round) {
    const auto count = static_cast<size_t>(slots.receive(fd, max_datagram));
    if (count == 0) return;
    std::array<Datagram, kBatch> batch;
    for (size_t i = 0; i < count; ++i) {
      const mmsghdr& message = slots.messages[i];
      batch[i] = {{static_cast<const uint8_t*>(message.msg_hdr.msg_iov->iov_base), message.msg_len},
                  (message.msg_hdr.msg_flags & MSG_TRUNC) != 0};
    }
    bool gone = false;
    destroyed = &gone;
    callback(context, {batch.data(), count});
    if (gone) return;  // `this` is freed
    destroyed = nullptr;
    if (count < kBatch) return;  // the socket is empty
  }
}

std::unique_ptr<DatagramReader> DatagramReader::start(uv_udp_t* socket, size_t max_datagram,
                                                      Callback callback, void* context,
                                                      int& error) {
  auto platform = std::make_unique<Platform>();
  uv_os_fd_t fd = -1;
  error = uv_fileno(reinterpret_cast<const uv_handle_t*>(socket), &fd);
  if (error != 0) return nullptr;
  platform->fd = fd;
  platform->max_datagram = max_datagram;
  platform->callback = callback;
  platform->context = context;
  batch_slots().reserve(max_datagram);

  auto* poll = new uv_poll_t{};
  error = uv_poll_init(socket->loop, poll, fd);
  if (error != 0) {
    delete poll;
    return nullptr;
  }
  poll->data = platform.get();
  platform->poll = poll;
  auto reader = std::unique_ptr<DatagramReader>(new DatagramReader(std::move(platform)));
  error = uv_poll_start(poll, UV_READABLE, Platform::on_poll);
  if (error != 0) return nullptr;  // the destructor closes the poll handle
  return reader;
}

DatagramReader::DatagramReader(std::unique_ptr<Platform> platform)
    : platform_(std::move(platform)) {}

DatagramReader::~DatagramReader() {
  if (platform_->destroyed != nullptr) *platform_->destroyed = true;
  platform_->poll->data = nullptr;
  // Closing stops the poll at once, before the socket's own close takes the descriptor away.
  uv_close(reinterpret_cast<uv_handle_t*>(platform_->poll),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); });
}

size_t DatagramReader::batch_size() {
  return kBatch;
}

}  // namespace t2s::io
