// Pipelining: the probe that decides whether SOCKS5 handshakes may pipeline (see pipelining.h).
#include "socks5/pipelining.h"

#include "log/log.h"

namespace t2s::socks5 {
namespace {

// The probe's destination reaches nothing, so its reply comes from the proxy itself: a server
// that read the request answers within a few round trips.
constexpr uint64_t kProbeTimeoutMs = 5'000;
// A probe that did not get as far as the method reply says nothing about pipelining.
constexpr uint64_t kRetryPauseMs = 10'000;
constexpr int kMaxFailuresAfterGreeting = 3;
// A failed handshake reopens the verdict only this long after it was reached: failures in a
// burst lead to one new probe.
constexpr uint64_t kReprobePauseMs = 2'000;

}  // namespace

Pipelining::Pipelining(uv_loop_t* loop, const ProxyConfig& proxy, bool enabled)
    : loop_(loop),
      proxy_(proxy),
      state_(enabled && !proxy.credentials ? State::kUnknown : State::kOff),
      timeout_(new uv_timer_t{}) {
  uv_timer_init(loop_, timeout_);
  timeout_->data = this;
}

Pipelining::~Pipelining() {
  probe_.reset();
  uv_close(reinterpret_cast<uv_handle_t*>(timeout_),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
}

bool Pipelining::usable() {
  if (state_ == State::kUnknown && uv_now(loop_) >= next_probe_ms_) start_probe();
  return state_ == State::kAllowed;
}

void Pipelining::stop() {
  probe_.reset();
  uv_timer_stop(timeout_);
  state_ = State::kOff;
}

void Pipelining::handshake_failed() {
  // Only pipelining can have made a handshake fail; without it, failures are the proxy's own.
  if (state_ != State::kAllowed || uv_now(loop_) < verdict_ms_ + kReprobePauseMs) return;
  log::debug("a handshake with proxy {} failed: probing pipelining again", proxy_.display_name);
  state_ = State::kUnknown;
  next_probe_ms_ = 0;
  failed_after_greeting_ = 0;
}

void Pipelining::start_probe() {
  state_ = State::kProbing;
  log::debug("probing whether proxy {} reads a request sent behind the greeting",
             proxy_.display_name);
  probe_ = std::make_unique<Connector>(
      loop_, proxy_, Command::kConnect, net::Endpoint{},
      [this](const ConnectOutcome& outcome) { on_probe_done(outcome); }, true);
  uv_timer_start(
      timeout_,
      [](uv_timer_t* timer) {
        static_cast<Pipelining*>(timer->data)
            ->conclude(false, "no reply to a request sent behind the greeting within 5 s");
      },
      kProbeTimeoutMs, 0);
}

void Pipelining::on_probe_done(const ConnectOutcome& outcome) {
  switch (outcome.status) {
    case ConnectStatus::kOk:
    case ConnectStatus::kRequestRejected:
      conclude(true, nullptr);
      return;
    case ConnectStatus::kProxyUnreachable:
      // Before the method reply, the proxy is just not there (yet). After it, this may be a
      // server that closes on the extra bytes, or one that failed for its own reasons: a few
      // more probes tell. Handshakes wait for every reply meanwhile.
      if (!outcome.greeted || ++failed_after_greeting_ < kMaxFailuresAfterGreeting) {
        log::debug("pipelining probe: {}; retrying later", outcome.detail);
        probe_.reset();
        uv_timer_stop(timeout_);
        state_ = State::kUnknown;
        next_probe_ms_ = uv_now(loop_) + kRetryPauseMs;
        return;
      }
      conclude(false, outcome.detail.c_str());
      return;
    case ConnectStatus::kNoAcceptableMethod:
    case ConnectStatus::kAuthFailed:
    case ConnectStatus::kProtocolError:
      conclude(false, outcome.detail.c_str());
      return;
  }
}

void Pipelining::conclude(bool allowed, const char* why) {
  uv_timer_stop(timeout_);
  state_ = allowed ? State::kAllowed : State::kRefused;
  verdict_ms_ = uv_now(loop_);
  const bool repeated = state_ == last_verdict_;
  last_verdict_ = state_;
  if (repeated) {
    log::debug("proxy {}: pipelining verdict unchanged ({})", proxy_.display_name,
               allowed ? "reads requests sent behind the greeting" : why);
  } else if (allowed) {
    log::info(
        "proxy {} reads a request sent behind the greeting: new connections save one "
        "round trip",
        proxy_.display_name);
  } else {
    log::info(
        "proxy {} does not take a request sent behind the greeting ({}): each handshake "
        "waits for every reply",
        proxy_.display_name, why);
  }
  probe_.reset();  // may be the caller's own Connector: it allows that
}

}  // namespace t2s::socks5
