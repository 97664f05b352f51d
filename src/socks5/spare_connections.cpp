// SpareConnections: connecting sockets or greeting-only Connectors, then idle sockets watched
// for the proxy closing them, and one timer that closes those past their lifetime.
#include "socks5/spare_connections.h"

#include <algorithm>

#include "log/log.h"

namespace t2s::socks5 {
namespace {
constexpr uint64_t kFirstPauseMs = 1'000;
constexpr uint64_t kLongestPauseMs = 60'000;
}  // namespace

SpareConnections::SpareConnections(uv_loop_t* loop, const ProxyConfig& proxy, size_t count,
                                   uint64_t greeting_timeout_ms, uint64_t lifetime_ms)
    : loop_(loop),
      proxy_(proxy),
      count_(count),
      greeting_timeout_ms_(std::max<uint64_t>(greeting_timeout_ms, 4)),
      lifetime_ms_(std::max<uint64_t>(lifetime_ms, 4)),
      expiry_timer_(new uv_timer_t{}),
      refill_check_(new uv_check_t{}) {
  uv_timer_init(loop_, expiry_timer_);
  expiry_timer_->data = this;
  uv_check_init(loop_, refill_check_);
  refill_check_->data = this;
  // Spares are never a reason to keep the loop running.
  uv_unref(reinterpret_cast<uv_handle_t*>(expiry_timer_));
  uv_unref(reinterpret_cast<uv_handle_t*>(refill_check_));
}

SpareConnections::~SpareConnections() {
  stop();
  uv_close(reinterpret_cast<uv_handle_t*>(expiry_timer_),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
  uv_close(reinterpret_cast<uv_handle_t*>(refill_check_),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_check_t*>(handle); });
}

OpenConnection SpareConnections::take(bool greet) {
  if (count_ == 0 || stopped_) return {};
  greet_ = greet;
  const uint64_t now = uv_now(loop_);
  OpenConnection taken;
  for (auto it = spares_.begin(); it != spares_.end(); ++it) {
    Spare& spare = **it;
    if (!spare.socket || now - spare.opened_ms >= lifetime_ms_) continue;
    spare.socket->pause_reading();
    spare.socket->set_owner(nullptr);
    taken = {std::move(spare.socket), spare.greeted};
    spares_.erase(it);
    ++counters_.used;
    pause_ms_ = 0;  // it lasted until a flow came
    break;
  }
  const bool recent = last_demand_ms_ && now - *last_demand_ms_ < lifetime_ms_;
  last_demand_ms_ = now;
  if ((taken.socket || recent) && now >= paused_until_ms_) {
    uv_check_start(refill_check_, [](uv_check_t* check) {
      uv_check_stop(check);
      static_cast<SpareConnections*>(check->data)->open_spares();
    });
  }
  return taken;
}

void SpareConnections::open_spares() {
  if (stopped_) return;
  const uint64_t now = uv_now(loop_);
  // A connection that fails at once pauses spares, which ends the loop.
  while (spares_.size() < count_ && now >= paused_until_ms_) {
    auto spare = std::make_unique<Spare>();
    Spare* raw = spare.get();
    raw->pool = this;
    raw->opened_ms = now;
    spares_.push_back(std::move(spare));
    if (!greet_) {
      connect(raw);
      continue;
    }
    // Done runs on a later loop turn, never inside this constructor.
    raw->greeting = std::make_unique<Connector>(
        loop_, proxy_, [this, raw](const ConnectOutcome& outcome) { on_greeted(raw, outcome); });
  }
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(expiry_timer_))) {
    // Often enough to end a stuck greeting and an unused spare within a quarter of their time.
    uint64_t interval = std::min(greeting_timeout_ms_, lifetime_ms_) / 4;
    uv_timer_start(
        expiry_timer_,
        [](uv_timer_t* timer) { static_cast<SpareConnections*>(timer->data)->expire(); }, interval,
        interval);
  }
}

void SpareConnections::on_greeted(Spare* spare, const ConnectOutcome& outcome) {
  if (outcome.status != ConnectStatus::kOk) {
    log::debug("spare connection to proxy {}: greeting failed: {}", proxy_.display_name,
               outcome.detail);
    spare_failed(uv_now(loop_));
    discard(spare);  // destroys the Connector inside its callback, which it allows
    return;
  }
  spare->socket = spare->greeting->take_socket();
  spare->greeting.reset();
  spare->greeted = true;
  pause_ms_ = 0;
  watch(spare);
}

// Connected only. The handshake starts with connect() and reads are watched at once, so libuv
// registers the socket with epoll once and never asks for the connection's outcome
// (uv_tcp_connect waits for writability first, then reads SO_ERROR: one epoll_ctl and one
// getsockopt more per spare). A flow may take it at once: on a local link the handshake is over
// when connect returns, and a flow that takes it earlier has its greeting sent once the socket
// is writable. A connection that fails shows up as a read error (idle_read).
void SpareConnections::connect(Spare* spare) {
  std::string problem;
  spare->socket = proxy_.start_connection(loop_, problem);
  if (!spare->socket) {
    log::debug("spare connection to proxy {}: {}", proxy_.display_name, problem);
    spare_failed(uv_now(loop_));
    discard(spare);
    return;
  }
  watch(spare);
}

void SpareConnections::watch(Spare* spare) {
  spare->socket->set_owner(spare);
  if (spare->socket->read_with(idle_alloc, idle_read) != 0) {
    ++counters_.unused;
    discard(spare);
  }
}

void SpareConnections::spare_failed(uint64_t now) {
  ++counters_.failed;
  pause_ms_ = pause_ms_ == 0 ? kFirstPauseMs : std::min(pause_ms_ * 2, kLongestPauseMs);
  paused_until_ms_ = now + pause_ms_;
}

void SpareConnections::idle_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* spare = io::TcpSocket::owner_of<Spare>(handle);
  if (spare == nullptr) {
    *buf = uv_buf_init(nullptr, 0);
    return;
  }
  auto& bytes = spare->pool->idle_buffer_;
  *buf = uv_buf_init(reinterpret_cast<char*>(bytes.data()), static_cast<unsigned>(bytes.size()));
}

void SpareConnections::idle_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
  auto* spare = io::TcpSocket::owner_of<Spare>(stream);
  if (spare == nullptr || nread == 0) return;
  // EOF, a reset, or bytes nobody asked for: the proxy is done with the connection (its idle
  // timeout). Any other error: the connection never came up (refused, unreachable).
  SpareConnections& pool = *spare->pool;
  if (nread > 0 || nread == UV_EOF || nread == UV_ECONNRESET) {
    ++pool.counters_.unused;
  } else {
    log::debug("spare connection to proxy {}: {}", pool.proxy_.display_name,
               uv_strerror(static_cast<int>(nread)));
    pool.spare_failed(uv_now(pool.loop_));
  }
  pool.discard(spare);
}

void SpareConnections::discard(Spare* spare) {
  auto it =
      std::find_if(spares_.begin(), spares_.end(),
                   [spare](const std::unique_ptr<Spare>& entry) { return entry.get() == spare; });
  if (it != spares_.end()) spares_.erase(it);
}

void SpareConnections::expire() {
  const uint64_t now = uv_now(loop_);
  std::erase_if(spares_, [&](const std::unique_ptr<Spare>& spare) {
    if (spare->socket) {
      if (now - spare->opened_ms < lifetime_ms_) return false;
      ++counters_.unused;
    } else {
      if (now - spare->opened_ms < greeting_timeout_ms_) return false;
      log::debug("spare connection to proxy {}: no answer in time", proxy_.display_name);
      spare_failed(now);
    }
    return true;
  });
  if (spares_.empty()) uv_timer_stop(expiry_timer_);
}

void SpareConnections::stop() {
  stopped_ = true;
  for (const auto& spare : spares_) {
    if (spare->socket) ++counters_.unused;
  }
  spares_.clear();
  uv_timer_stop(expiry_timer_);
  uv_check_stop(refill_check_);
}

}  // namespace t2s::socks5
