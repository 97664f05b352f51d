// Relay: session ownership, deferred retirement, timeout sweep and failure logging.
#include "relay/relay.h"

#include "log/log.h"
#include "relay/tcp_session.h"

namespace t2s::relay {
namespace {

constexpr size_t kProxyReadBufferSize = 128 * 1024;
constexpr uint64_t kSweepIntervalMs = 1000;
constexpr uint64_t kRepeatFailureWindowMs = 10'000;

void close_timer(uv_timer_t* timer) {
  uv_close(reinterpret_cast<uv_handle_t*>(timer),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
}

}  // namespace

Relay::Relay(uv_loop_t* loop, RelayOptions options)
    : loop_(loop),
      options_(std::move(options)),
      read_buffer_(kProxyReadBufferSize),
      sweep_timer_(new uv_timer_t{}),
      reap_timer_(new uv_timer_t{}) {
  uv_timer_init(loop_, sweep_timer_);
  uv_timer_init(loop_, reap_timer_);
  sweep_timer_->data = this;
  reap_timer_->data = this;
  uv_timer_start(
      sweep_timer_, [](uv_timer_t* timer) { static_cast<Relay*>(timer->data)->sweep(); },
      kSweepIntervalMs, kSweepIntervalMs);
  // The sweep only runs while there is work; it must not keep an idle loop alive on its own.
  uv_unref(reinterpret_cast<uv_handle_t*>(sweep_timer_));
}

Relay::~Relay() {
  shutdown();
  retired_.clear();
  close_timer(sweep_timer_);
  close_timer(reap_timer_);
}

void Relay::on_tcp_request(const stack::TcpRequest& request) {
  auto session = std::make_unique<TcpSession>(*this, request);
  TcpSession* raw = session.get();
  sessions_.emplace(request.id, std::move(session));
  ++counters_.tcp_opened;
  ++counters_.tcp_active;
  raw->start();
}

bool Relay::on_tcp_accept(uint64_t request_id, std::unique_ptr<stack::TcpConnection>& connection) {
  auto found = sessions_.find(request_id);
  if (found == sessions_.end()) return false;  // the session gave up meanwhile
  found->second->on_accepted(std::move(connection));
  return true;
}

void Relay::retire(TcpSession* session, uint64_t request_id) {
  auto found = sessions_.find(request_id);
  if (found == sessions_.end() || found->second.get() != session) return;
  retired_.push_back(std::move(found->second));
  sessions_.erase(found);
  --counters_.tcp_active;
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(reap_timer_))) {
    uv_timer_start(
        reap_timer_, [](uv_timer_t* timer) { static_cast<Relay*>(timer->data)->reap(); }, 0, 0);
  }
}

void Relay::reap() {
  retired_.clear();
}

void Relay::sweep() {
  uint64_t now = uv_now(loop_);
  // check_deadline may retire sessions, which erases them from sessions_: collect first.
  std::vector<TcpSession*> all;
  all.reserve(sessions_.size());
  for (auto& entry : sessions_) all.push_back(entry.second.get());
  for (TcpSession* session : all) session->check_deadline(now);
}

void Relay::shutdown() {
  std::vector<TcpSession*> all;
  all.reserve(sessions_.size());
  for (auto& entry : sessions_) all.push_back(entry.second.get());
  for (TcpSession* session : all) session->abort();
  retired_.clear();
  uv_timer_stop(sweep_timer_);
}

void Relay::report_proxy_failure(const std::string& reason) {
  uint64_t now = uv_now(loop_);
  if (reason == last_failure_ && now - last_failure_ms_ < kRepeatFailureWindowMs) {
    ++suppressed_failures_;
    log::debug("proxy failure (repeat): {}", reason);
    return;
  }
  if (suppressed_failures_ > 0) {
    log::warn("proxy failure repeated {} more times: {}", suppressed_failures_, last_failure_);
  }
  suppressed_failures_ = 0;
  last_failure_ = reason;
  last_failure_ms_ = now;
  log::warn("{} (proxy {}); refusing the app's connection", reason, options_.proxy.display_name);
}

}  // namespace t2s::relay
