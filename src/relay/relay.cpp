// Relay: session ownership, deferred retirement, timeout sweep and failure logging.
#include "relay/relay.h"

#include "log/log.h"
#include "net/packet.h"
#include "relay/tcp_session.h"
#include "relay/udp_session.h"

namespace t2s::relay {
namespace {

constexpr size_t kProxyReadBufferSize = 128 * 1024;
constexpr uint64_t kSweepIntervalMs = 1000;
constexpr uint64_t kRepeatFailureWindowMs = 10'000;
// How long new UDP flows are refused locally after an association failed.
constexpr uint64_t kUdpUnsupportedBackoffMs = 60'000;
constexpr uint64_t kUdpFailureBackoffMs = 2'000;

void close_timer(uv_timer_t* timer) {
  uv_close(reinterpret_cast<uv_handle_t*>(timer),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
}

}  // namespace

Relay::Relay(uv_loop_t* loop, RelayOptions options)
    : loop_(loop),
      options_(std::move(options)),
      pipelining_(loop, options_.proxy, options_.proxy_pipelining),
      spares_(loop, options_.proxy, options_.proxy_spares, options_.connect_timeout_ms),
      read_buffer_(kProxyReadBufferSize),
      sweep_timer_(new uv_timer_t{}),
      reap_timer_(new uv_timer_t{}),
      flush_check_(new uv_check_t{}),
      dns_(std::make_unique<DnsService>(*this, options_.dns)) {
  uv_timer_init(loop_, sweep_timer_);
  uv_timer_init(loop_, reap_timer_);
  sweep_timer_->data = this;
  reap_timer_->data = this;
  uv_check_init(loop_, flush_check_);
  flush_check_->data = this;
  uv_timer_start(
      sweep_timer_, [](uv_timer_t* timer) { static_cast<Relay*>(timer->data)->sweep(); },
      kSweepIntervalMs, kSweepIntervalMs);
  // The sweep only runs while there is work; it must not keep an idle loop alive on its own.
  uv_unref(reinterpret_cast<uv_handle_t*>(sweep_timer_));
  pipelining_.usable();  // probe now, so that the first connections already benefit
}

Relay::~Relay() {
  shutdown();
  retired_.clear();
  retired_udp_.clear();
  dns_.reset();
  close_timer(sweep_timer_);
  close_timer(reap_timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(flush_check_),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_check_t*>(handle); });
}

void Relay::on_tcp_request(const stack::TcpRequest& request) {
  ++counters_.tcp_opened;
  if (options_.max_connections != 0 && sessions_.size() >= options_.max_connections) {
    ++counters_.tcp_over_limit;
    warn_rate_limited("connection limit reached (--max-connections " +
                      std::to_string(options_.max_connections) +
                      "): refusing new connections until some close");
    stack_->refuse(request.id);
    return;
  }
  // With --dns fake, a pool address stands for a name: the proxy gets the name.
  socks5::Destination destination = request.destination;
  bool unknown = false;
  if (auto name = dns_->resolve(request.destination, unknown)) {
    destination = *name;
  } else if (unknown) {
    ++counters_.tcp_failed;
    log::debug("tcp {} -> {}: fake address with no name (expired, or from before a restart)",
               request.app, request.destination);
    stack_->refuse(request.id);
    return;
  }
  auto session = std::make_unique<TcpSession>(*this, request, destination);
  TcpSession* raw = session.get();
  sessions_.emplace(request.id, std::move(session));
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
  std::erase(to_flush_, session);
  retired_.push_back(std::move(found->second));
  sessions_.erase(found);
  --counters_.tcp_active;
  schedule_reap();
}

void Relay::schedule_flush(TcpSession* session) {
  to_flush_.push_back(session);
  start_flush_check();
}

void Relay::schedule_flush(UdpSession* session) {
  udp_to_flush_.push_back(session);
  start_flush_check();
}

void Relay::start_flush_check() {
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(flush_check_))) {
    uv_check_start(flush_check_,
                   [](uv_check_t* check) { static_cast<Relay*>(check->data)->flush(); });
  }
}

// Every session in to_flush_ and udp_to_flush_ is alive: retire() and retire_udp() take a
// session off its list.
void Relay::flush() {
  std::vector<TcpSession*> sessions;
  sessions.swap(to_flush_);
  for (TcpSession* session : sessions) session->flush_to_proxy();
  udp_flushing_.swap(udp_to_flush_);
  for (UdpSession* session : udp_flushing_) session->flush_to_proxy();
  udp_flushing_.clear();
  if (to_flush_.empty() && udp_to_flush_.empty()) uv_check_stop(flush_check_);
}

void Relay::schedule_reap() {
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(reap_timer_))) {
    uv_timer_start(
        reap_timer_, [](uv_timer_t* timer) { static_cast<Relay*>(timer->data)->reap(); }, 0, 0);
  }
}

void Relay::reap() {
  retired_.clear();
  retired_udp_.clear();
}

void Relay::on_udp_packet(std::span<const uint8_t> packet, bool checksum_trusted,
                          stack::InboundPacket& buffer) {
  auto view = net::parse_udp_packet(packet, checksum_trusted);
  if (!view) {
    ++counters_.udp_dropped_malformed;
    log::trace("udp: dropped a packet from the app: {}", view.error());
    return;
  }
  if (dns_->handle(view.value())) return;
  auto found = udp_flows_.find(view->source);
  if (found == udp_flows_.end()) {
    if (uv_now(loop_) < udp_unavailable_until_ms_) {
      ++counters_.udp_refused;
      auto error = net::build_port_unreachable(packet);
      if (!error.empty()) stack_->send_packet(error);
      return;
    }
    while (!udp_lru_.empty() && udp_flows_.size() >= options_.max_udp_flows) {
      ++counters_.udp_flows_evicted;
      udp_lru_.front()->close();  // retire_udp removes it from the list and the map
    }
    auto session = std::make_unique<UdpSession>(*this, view->source, view->destination);
    UdpSession* raw = session.get();
    udp_lru_.push_back(raw);
    raw->lru_position = std::prev(udp_lru_.end());
    found = udp_flows_.emplace(view->source, std::move(session)).first;
    ++counters_.udp_flows_opened;
    ++counters_.udp_flows_active;
    log::debug("udp {}: new flow", view->source);
    raw->start();
  }
  found->second->send(view->destination, view->payload, packet, buffer);
}

void Relay::touch_udp(UdpSession* session) {
  if (session->ended()) return;
  udp_lru_.splice(udp_lru_.end(), udp_lru_, session->lru_position);
}

void Relay::retire_udp(UdpSession* session) {
  auto found = udp_flows_.find(session->app());
  if (found == udp_flows_.end() || found->second.get() != session) return;
  udp_lru_.erase(session->lru_position);
  std::erase(udp_to_flush_, session);
  retired_udp_.push_back(std::move(found->second));
  udp_flows_.erase(found);
  --counters_.udp_flows_active;
  schedule_reap();
}

void Relay::udp_unavailable(const std::string& reason, bool unsupported) {
  udp_unavailable_until_ms_ =
      uv_now(loop_) + (unsupported ? kUdpUnsupportedBackoffMs : kUdpFailureBackoffMs);
  report_proxy_failure(reason);
}

void Relay::sweep() {
  uint64_t now = uv_now(loop_);
  // check_deadline may retire sessions, which erases them from sessions_: collect first.
  std::vector<TcpSession*> all;
  all.reserve(sessions_.size());
  for (auto& entry : sessions_) all.push_back(entry.second.get());
  for (TcpSession* session : all) session->check_deadline(now);
  // Likewise for UDP flows whose association is still being set up. A flow that fails takes
  // only itself out of the list, after the iterator has moved past it.
  for (auto it = udp_lru_.begin(); it != udp_lru_.end();) (*it++)->check_deadline(now);
  dns_->sweep(now);
  // The LRU list is ordered by activity: expired flows are all at its front.
  while (!udp_lru_.empty() &&
         now - udp_lru_.front()->last_activity_ms() >= options_.udp_timeout_ms) {
    ++counters_.udp_flows_expired;
    log::debug("udp {}: idle, closing", udp_lru_.front()->app());
    udp_lru_.front()->close();
  }
}

void Relay::shutdown() {
  std::vector<TcpSession*> all;
  all.reserve(sessions_.size());
  for (auto& entry : sessions_) all.push_back(entry.second.get());
  to_flush_.clear();
  udp_to_flush_.clear();
  for (TcpSession* session : all) session->abort();
  while (!udp_lru_.empty()) udp_lru_.front()->close();
  retired_.clear();
  retired_udp_.clear();
  pipelining_.stop();
  spares_.stop();
  uv_timer_stop(sweep_timer_);
}

std::unique_ptr<socks5::Connector> Relay::connect_proxy(socks5::Command command,
                                                        socks5::Destination destination,
                                                        socks5::Connector::Callback done) {
  const bool pipelined = pipelining_.usable();
  auto observed = [this, done = std::move(done),
                   started_ms = uv_now(loop_)](const socks5::ConnectOutcome& outcome) {
    if (outcome.status == socks5::ConnectStatus::kOk) {
      handshake_times_.record(uv_now(loop_) - started_ms);
    }
    if (outcome.status == socks5::ConnectStatus::kProxyUnreachable) handshake_failed();
    done(outcome);  // may destroy the Connector, and this lambda with it: nothing follows
  };
  return std::make_unique<socks5::Connector>(loop_, options_.proxy, command, std::move(destination),
                                             std::move(observed), pipelined,
                                             spares_.take(/*greet=*/!pipelined));
}

void Relay::visit_connections(size_t offset, size_t limit,
                              const std::function<void(const ConnectionView&)>& visit) const {
  auto visit_page = [&](const auto& table) {
    for (auto it = table.begin(); it != table.end() && limit > 0; ++it) {
      if (offset > 0) {
        --offset;
        continue;
      }
      visit(it->second->view());
      --limit;
    }
  };
  if (offset >= sessions_.size()) {
    offset -= sessions_.size();  // the page starts among the UDP flows
  } else {
    visit_page(sessions_);
  }
  visit_page(udp_flows_);
}

void Relay::handshake_failed() {
  pipelining_.handshake_failed();
}

void Relay::report_proxy_failure(const std::string& reason) {
  warn_rate_limited(reason + " (proxy " + options_.proxy.display_name + ")");
}

void Relay::warn_rate_limited(const std::string& message) {
  uint64_t now = uv_now(loop_);
  if (message == last_failure_ && now - last_failure_ms_ < kRepeatFailureWindowMs) {
    ++suppressed_failures_;
    log::debug("repeated: {}", message);
    return;
  }
  if (suppressed_failures_ > 0) {
    log::warn("repeated {} more times: {}", suppressed_failures_, last_failure_);
  }
  suppressed_failures_ = 0;
  last_failure_ = message;
  last_failure_ms_ = now;
  log::warn("{}", message);
}

}  // namespace t2s::relay
