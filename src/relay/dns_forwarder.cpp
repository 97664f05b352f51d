// DnsForwarder: a handful of pipelined DNS-over-TCP streams through SOCKS5 CONNECT.
#include "relay/dns_forwarder.h"

#include <cstring>

#include "dns/message.h"
#include "log/log.h"
#include "relay/relay.h"

namespace t2s::relay {
namespace {

constexpr size_t kMaxStreams = 4;
constexpr size_t kQueriesPerStream = 32;  // open another stream beyond this many in flight
constexpr size_t kMaxPending = 4096;
constexpr uint64_t kStreamIdleMs = 30'000;

struct StreamWrite {
  uv_write_t request{};
  std::vector<uint8_t> bytes;
};

}  // namespace

// One TCP stream to the resolver through the proxy.
class DnsForwarder::Stream {
 public:
  explicit Stream(DnsForwarder& owner) : owner_(owner) {
    connector_ = owner_.relay_.connect_proxy(
        socks5::Command::kConnect, owner_.upstream_,
        [this](const socks5::ConnectOutcome& outcome) { on_connected(outcome); });
    last_use_ms_ = uv_now(owner_.relay_.loop());
  }

  void send(std::vector<uint8_t> framed) {
    ++in_flight_;
    last_use_ms_ = uv_now(owner_.relay_.loop());
    if (!socket_) {
      waiting_.push_back(std::move(framed));
      return;
    }
    write(std::move(framed));
  }

  void answered() {
    if (in_flight_ > 0) --in_flight_;
    last_use_ms_ = uv_now(owner_.relay_.loop());
  }
  size_t in_flight() const { return in_flight_; }
  bool idle_since(uint64_t now_ms) const {
    return in_flight_ == 0 && now_ms - last_use_ms_ >= kStreamIdleMs;
  }

 private:
  void on_connected(const socks5::ConnectOutcome& outcome) {
    if (outcome.status != socks5::ConnectStatus::kOk) {
      owner_.relay_.report_proxy_failure("DNS over TCP to " + owner_.upstream_.to_string() +
                                         " failed: " + outcome.detail);
      close();
      return;
    }
    socket_ = connector_->take_socket();
    connector_.reset();
    socket_->set_owner(this);
    socket_->read_with(
        [](uv_handle_t* handle, size_t, uv_buf_t* buf) {
          *buf = io::TcpSocket::owner_of<Stream>(handle)->owner_.relay_.read_buffer_for_libuv();
        },
        [](uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
          auto* self = io::TcpSocket::owner_of<Stream>(stream);
          if (self == nullptr || nread == 0) return;
          if (nread < 0) {
            self->close();
            return;
          }
          self->on_bytes({reinterpret_cast<uint8_t*>(buf->base), static_cast<size_t>(nread)});
        });
    std::vector<std::vector<uint8_t>> waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& framed : waiting) write(std::move(framed));
  }

  void write(std::vector<uint8_t> framed) {
    auto* request = new StreamWrite{};
    request->bytes = std::move(framed);
    uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(request->bytes.data()),
                               static_cast<unsigned>(request->bytes.size()));
    int rc = uv_write(&request->request, socket_->stream(), &buf, 1,
                      [](uv_write_t* req, int) { delete reinterpret_cast<StreamWrite*>(req); });
    if (rc != 0) {
      delete request;
      close();
    }
  }

  // Splits the byte stream into length-prefixed answers.
  void on_bytes(std::span<const uint8_t> bytes) {
    buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
    size_t offset = 0;
    while (buffer_.size() - offset >= 2) {
      size_t length = size_t{buffer_[offset]} << 8 | buffer_[offset + 1];
      if (buffer_.size() - offset - 2 < length) break;
      owner_.on_answer({buffer_.data() + offset + 2, length});
      answered();
      offset += 2 + length;
    }
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<ptrdiff_t>(offset));
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    if (socket_) socket_->stop_reading();
    owner_.on_stream_closed(this);
  }

  DnsForwarder& owner_;
  std::unique_ptr<socks5::Connector> connector_;
  std::unique_ptr<io::TcpSocket> socket_;
  std::vector<std::vector<uint8_t>> waiting_;
  std::vector<uint8_t> buffer_;
  size_t in_flight_ = 0;
  uint64_t last_use_ms_ = 0;
  bool closed_ = false;
};

DnsForwarder::DnsForwarder(Relay& relay, net::Endpoint upstream, AnswerSink sink)
    : relay_(relay), upstream_(upstream), sink_(std::move(sink)) {}

DnsForwarder::~DnsForwarder() = default;

DnsForwarder::Stream* DnsForwarder::pick_stream() {
  Stream* best = nullptr;
  for (auto& stream : streams_) {
    if (best == nullptr || stream->in_flight() < best->in_flight()) best = stream.get();
  }
  if (best == nullptr ||
      (best->in_flight() >= kQueriesPerStream && streams_.size() < kMaxStreams)) {
    streams_.push_back(std::make_unique<Stream>(*this));
    best = streams_.back().get();
  }
  return best;
}

bool DnsForwarder::forward(std::span<const uint8_t> query, const Pending& pending) {
  if (pending_.size() >= kMaxPending || query.size() > 0xFFFF) return false;
  uint16_t id = next_id_++;
  while (pending_.contains(id)) id = next_id_++;
  std::vector<uint8_t> framed(2 + query.size());
  framed[0] = static_cast<uint8_t>(query.size() >> 8);
  framed[1] = static_cast<uint8_t>(query.size());
  std::memcpy(framed.data() + 2, query.data(), query.size());
  dns::set_message_id(std::span<uint8_t>(framed).subspan(2), id);
  pending_.emplace(id, pending);
  pick_stream()->send(std::move(framed));
  return true;
}

void DnsForwarder::on_answer(std::span<uint8_t> answer) {
  auto id = dns::message_id(answer);
  if (!id) return;
  auto found = pending_.find(*id);
  if (found == pending_.end()) return;  // timed out already
  Pending pending = found->second;
  pending_.erase(found);
  dns::set_message_id(answer, pending.original_id);
  sink_(pending, dns::truncate_for_udp(answer, pending.max_udp_size));
}

void DnsForwarder::on_stream_closed(Stream* stream) {
  for (auto it = streams_.begin(); it != streams_.end(); ++it) {
    if (it->get() == stream) {
      closed_.push_back(std::move(*it));
      streams_.erase(it);
      break;
    }
  }
}

void DnsForwarder::sweep(uint64_t now_ms) {
  closed_.clear();
  for (auto it = pending_.begin(); it != pending_.end();) {
    it = it->second.deadline_ms <= now_ms ? pending_.erase(it) : std::next(it);
  }
  for (auto it = streams_.begin(); it != streams_.end();) {
    if ((*it)->idle_since(now_ms)) {
      closed_.push_back(std::move(*it));
      it = streams_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace t2s::relay
