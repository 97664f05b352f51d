// TcpSession: the per-connection relay state machine (see tcp_session.h for the contract).
#include "relay/tcp_session.h"

#include <algorithm>
#include <cstring>

#include "log/log.h"
#include "relay/relay.h"

namespace t2s::relay {
namespace {

// One write to the proxy of the chains an app sent in one loop turn. The chains stay alive
// until the kernel has the bytes, and only then is the app's window opened by that many bytes.
struct ProxyWrite {
  uv_write_t request{};
  std::vector<stack::ReceivedData> chains;
  size_t bytes = 0;
};

struct ProxyShutdown {
  uv_shutdown_t request{};
};

}  // namespace

TcpSession::TcpSession(Relay& relay, const stack::TcpRequest& request,
                       socks5::Destination destination)
    : relay_(relay), request_(request), proxy_destination_(std::move(destination)) {
  // A fake-IP mapping in use must outlive the pool's eviction.
  if (std::holds_alternative<socks5::DomainEndpoint>(proxy_destination_)) {
    relay_.dns().hold(request_.destination.address);
  }
}

TcpSession::~TcpSession() {
  if (std::holds_alternative<socks5::DomainEndpoint>(proxy_destination_)) {
    relay_.dns().release(request_.destination.address);
  }
}

ConnectionView TcpSession::view() const {
  ConnectionView view;
  view.app = request_.app;
  view.destination = proxy_destination_;
  view.bytes_up = bytes_up_;
  view.bytes_down = bytes_down_;
  view.started_ms = started_ms_;
  view.state = !app_ || !proxy_                   ? ConnectionView::State::kConnecting
               : app_fin_ || proxy_eof_ || ended_ ? ConnectionView::State::kClosing
                                                  : ConnectionView::State::kEstablished;
  return view;
}

uint64_t TcpSession::now() const {
  return uv_now(relay_.loop());
}

void TcpSession::start() {
  started_ms_ = last_activity_ms_ = now();
  log::debug("tcp {} -> {}: connecting through proxy", request_.app, request_.destination);
  connector_ = relay_.connect_proxy(
      socks5::Command::kConnect, proxy_destination_,
      [this](const socks5::ConnectOutcome& outcome) { on_proxy_ready(outcome); });
}

void TcpSession::on_proxy_ready(const socks5::ConnectOutcome& outcome) {
  if (ended_) return;
  if (outcome.status != socks5::ConnectStatus::kOk) {
    ++relay_.mutable_counters().tcp_failed;
    std::string reason = outcome.detail;
    if (outcome.status == socks5::ConnectStatus::kRequestRejected) {
      // The proxy works but the destination failed: the app's own error says so already.
      log::debug("tcp {} -> {}: proxy reply: {}", request_.app, request_.destination, reason);
    } else {
      relay_.report_proxy_failure(reason);
    }
    end_with_reset(nullptr);
    return;
  }
  proxy_ = connector_->take_socket();
  pending_down_ = connector_->take_early_data();
  pending_down_offset_ = 0;
  connector_.reset();
  proxy_->set_owner(this);
  last_activity_ms_ = now();
  // Answer the app's SYN; on_accepted follows once its handshake completes.
  relay_.stack().admit(request_.id);
}

void TcpSession::on_accepted(std::unique_ptr<stack::TcpConnection> app) {
  if (ended_) return;
  app_ = std::move(app);
  app_->set_handler(this);
  last_activity_ms_ = now();
  log::debug("tcp {} -> {}: relaying", request_.app, request_.destination);
  drain_pending_down();
}

// ---- app -> proxy -------------------------------------------------------------------------

void TcpSession::on_tcp_data(stack::ReceivedData data) {
  last_activity_ms_ = now();
  // Segments that arrive in one loop turn go to the proxy in one write (see flush_to_proxy).
  outgoing_.push_back(std::move(data));
  if (outgoing_.size() == 1) relay_.schedule_flush(this);
}

void TcpSession::flush_to_proxy() {
  if (ended_ || outgoing_.empty()) return;
  auto* write = new ProxyWrite{};
  write->chains = std::move(outgoing_);
  outgoing_.clear();

  size_t part_count = 0;
  for (const auto& chain : write->chains) {
    write->bytes += chain.size();
    part_count += chain.part_count();
  }
  std::vector<std::span<const uint8_t>> parts(part_count);
  size_t filled = 0;
  for (const auto& chain : write->chains) {
    filled += chain.parts(std::span(parts).subspan(filled));
  }
  std::vector<uv_buf_t> bufs(filled);
  for (size_t i = 0; i < filled; ++i) {
    // libuv only reads from these buffers; its API is not const-correct.
    bufs[i] = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(parts[i].data())),
                          static_cast<unsigned>(parts[i].size()));
  }
  bytes_in_flight_ += write->bytes;
  std::span<uv_buf_t> left(bufs);
  if (ssize_t written = proxy_->write_now(left); written < 0 || left.empty()) {
    // Done (or failed) at once; the chains are no longer needed.
    size_t bytes = write->bytes;
    delete write;
    on_proxy_write_done(bytes, written < 0 ? static_cast<int>(written) : 0);
    return;
  }
  int rc = uv_write(&write->request, proxy_->stream(), left.data(),
                    static_cast<unsigned>(left.size()), [](uv_write_t* request, int status) {
                      auto* done = reinterpret_cast<ProxyWrite*>(request);
                      auto* self = io::TcpSocket::owner_of<TcpSession>(request->handle);
                      size_t bytes = done->bytes;
                      delete done;  // frees the chains
                      if (self != nullptr) self->on_proxy_write_done(bytes, status);
                    });
  if (rc != 0) {
    bytes_in_flight_ -= write->bytes;
    delete write;
    end_with_reset("write to proxy failed");
  }
}

void TcpSession::on_proxy_write_done(size_t bytes, int status) {
  if (ended_) return;
  bytes_in_flight_ -= bytes;
  if (status != 0) {
    log::debug("tcp {} -> {}: proxy write failed: {}", request_.app, request_.destination,
               uv_strerror(status));
    end_with_reset(nullptr);
    return;
  }
  relay_.mutable_counters().bytes_up += bytes;
  bytes_up_ += bytes;
  app_->acknowledge(bytes);
  maybe_shutdown_proxy();
}

void TcpSession::on_tcp_fin() {
  last_activity_ms_ = now();
  app_fin_ = true;
  maybe_shutdown_proxy();
  maybe_finish();
}

void TcpSession::maybe_shutdown_proxy() {
  if (!app_fin_ || proxy_shutdown_requested_ || bytes_in_flight_ != 0 || !outgoing_.empty()) {
    return;
  }
  proxy_shutdown_requested_ = true;
  // Both directions are done: maybe_finish closes the socket now, and the close sends the
  // same FIN without a shutdown call and a loop turn before it.
  if (proxy_eof_ && app_fin_sent_) {
    maybe_finish();
    return;
  }
  auto* request = new ProxyShutdown{};
  int rc = uv_shutdown(&request->request, proxy_->stream(), [](uv_shutdown_t* req, int) {
    delete reinterpret_cast<ProxyShutdown*>(req);
  });
  if (rc != 0) {
    delete request;
    end_with_reset("cannot shut down the proxy's write side");
    return;
  }
  maybe_finish();
}

// ---- proxy -> app -------------------------------------------------------------------------

void TcpSession::start_proxy_reads() {
  if (reading_proxy_ || proxy_eof_ || ended_) return;
  if (proxy_->read_with(alloc_callback, read_callback) == 0) {
    reading_proxy_ = true;
  } else {
    end_with_reset("cannot read from proxy");
  }
}

void TcpSession::alloc_callback(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = io::TcpSocket::owner_of<TcpSession>(handle);
  std::span<uint8_t> shared = self->relay_.read_buffer();
  // Read no more than lwIP can take now, so bytes rarely need to wait in pending_down_.
  size_t space = self->app_->send_space();
  size_t size = space == 0 ? shared.size() : std::min(space, shared.size());
  *buf = uv_buf_init(reinterpret_cast<char*>(shared.data()), static_cast<unsigned>(size));
}

void TcpSession::read_callback(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = io::TcpSocket::owner_of<TcpSession>(stream);
  if (self != nullptr) self->on_proxy_read(nread, buf);
}

void TcpSession::on_proxy_read(ssize_t nread, const uv_buf_t* buf) {
  if (ended_ || nread == 0) return;
  if (nread < 0) {
    proxy_->stop_reading();
    reading_proxy_ = false;
    if (nread != UV_EOF) {
      log::debug("tcp {} -> {}: proxy connection failed: {}", request_.app, request_.destination,
                 uv_strerror(static_cast<int>(nread)));
      end_with_reset(nullptr);
      return;
    }
    proxy_eof_ = true;
    drain_pending_down();
    return;
  }
  last_activity_ms_ = now();
  auto length = static_cast<size_t>(nread);
  const auto* bytes = reinterpret_cast<const uint8_t*>(buf->base);
  size_t taken = app_->write({bytes, length});
  relay_.mutable_counters().bytes_down += taken;
  bytes_down_ += taken;
  app_->flush();
  if (taken < length) {
    pending_down_.assign(bytes + taken, bytes + length);
    pending_down_offset_ = 0;
    proxy_->stop_reading();
    reading_proxy_ = false;
  }
}

void TcpSession::on_tcp_sent() {
  last_activity_ms_ = now();
  drain_pending_down();
}

void TcpSession::drain_pending_down() {
  if (ended_ || !app_) return;
  if (pending_down_offset_ < pending_down_.size()) {
    std::span<const uint8_t> rest(pending_down_.data() + pending_down_offset_,
                                  pending_down_.size() - pending_down_offset_);
    size_t taken = app_->write(rest);
    relay_.mutable_counters().bytes_down += taken;
    bytes_down_ += taken;
    pending_down_offset_ += taken;
    app_->flush();
    if (pending_down_offset_ < pending_down_.size()) return;  // wait for the next on_tcp_sent
    std::vector<uint8_t>().swap(pending_down_);
    pending_down_offset_ = 0;
  }
  if (proxy_eof_) {
    if (!app_fin_sent_) {
      app_fin_sent_ = true;
      app_->shutdown_send();
      app_->flush();
    }
    maybe_finish();
  } else {
    start_proxy_reads();
  }
}

// ---- endings ------------------------------------------------------------------------------

void TcpSession::maybe_finish() {
  if (ended_ || !app_fin_ || !app_fin_sent_ || !proxy_shutdown_requested_) return;
  app_->close();  // lwIP completes the FIN exchange on its own
  end();
}

void TcpSession::on_tcp_error(stack::TcpError error) {
  if (ended_) return;
  log::debug("tcp {} -> {}: {}", request_.app, request_.destination, stack::to_string(error));
  ++relay_.mutable_counters().tcp_reset;
  // The app's side is gone already; pass the reset on to the proxy's side.
  if (proxy_) proxy_->reset_on_close();
  end();
}

void TcpSession::check_deadline(uint64_t now_ms) {
  if (ended_) return;
  const RelayOptions& options = relay_.options();
  if (!app_ && now_ms - started_ms_ >= options.connect_timeout_ms) {
    if (!proxy_) {
      ++relay_.mutable_counters().tcp_failed;
      relay_.handshake_failed();
      relay_.report_proxy_failure("proxy did not complete the handshake within " +
                                  std::to_string(options.connect_timeout_ms / 1000) + " s");
    }
    // With proxy_ set, the app never finished the handshake we allowed: it gave up.
    end_with_reset(nullptr);
  } else if (app_ && now_ms - last_activity_ms_ >= options.idle_timeout_ms) {
    log::debug("tcp {} -> {}: idle for {} s, closing", request_.app, request_.destination,
               options.idle_timeout_ms / 1000);
    end_with_reset(nullptr);
  }
}

void TcpSession::abort() {
  if (ended_) return;
  end_with_reset(nullptr);
}

void TcpSession::end_with_reset(const char* why) {
  if (ended_) return;
  if (why != nullptr) {
    log::debug("tcp {} -> {}: {}", request_.app, request_.destination, why);
  }
  if (proxy_) proxy_->reset_on_close();
  if (app_) {
    ++relay_.mutable_counters().tcp_reset;
    app_->reset();
  } else {
    relay_.stack().refuse(request_.id);  // the app's SYN is still waiting: refuse it
  }
  end();
}

void TcpSession::end() {
  ended_ = true;
  if (reading_proxy_ && proxy_) proxy_->stop_reading();
  reading_proxy_ = false;
  if (app_) app_->set_handler(nullptr);
  relay_.retire(this, request_.id);
}

}  // namespace t2s::relay
