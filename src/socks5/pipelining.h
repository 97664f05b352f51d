// Pipelining: learns whether the proxy reads a SOCKS5 request sent right behind the greeting,
// before its method reply. Where it does, every handshake takes one round trip less, which is
// what a distant proxy (ssh -D, Tor) makes each new connection wait for. Some servers read the
// greeting and drop whatever followed it in the same segment, then wait for a request that
// never comes (microsocks does), so handshakes pipeline only once a probe has seen such a
// request answered. The probe is a CONNECT to 0.0.0.0 port 0, which reaches nothing: any reply,
// success or refusal, shows the request was read. Only without credentials: with
// username/password the server's choice of method decides what may follow the greeting.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <optional>

#include "socks5/connector.h"

namespace t2s::socks5 {

class Pipelining {
 public:
  // With `enabled` false, or credentials in `proxy`, handshakes never pipeline and no probe runs.
  Pipelining(uv_loop_t* loop, const ProxyConfig& proxy, bool enabled);
  ~Pipelining();
  Pipelining(const Pipelining&) = delete;
  Pipelining& operator=(const Pipelining&) = delete;

  // Whether a handshake starting now may pipeline. While that is not known, starts a probe
  // (one at a time; after one that could not reach the proxy, not before a pause).
  bool usable();
  // The probe's verdict: true (pipeline), false (do not), or none yet (or turned off).
  std::optional<bool> verdict() const {
    if (state_ == State::kAllowed) return true;
    if (state_ == State::kRefused) return false;
    return std::nullopt;
  }
  // Cancels a running probe; handshakes no longer pipeline.
  void stop();
  // A handshake could not reach the proxy, was cut, or got no reply in time. If handshakes
  // pipeline, the proxy may have come back as another server, so a new probe decides again
  // (not sooner than a pause after the last verdict).
  void handshake_failed();

 private:
  enum class State { kOff, kUnknown, kProbing, kAllowed, kRefused };

  void start_probe();
  void on_probe_done(const ConnectOutcome& outcome);
  void conclude(bool allowed, const char* why);

  uv_loop_t* loop_;
  const ProxyConfig& proxy_;
  State state_;
  std::unique_ptr<Connector> probe_;
  uv_timer_t* timeout_;  // freed in its close callback
  uint64_t next_probe_ms_ = 0;
  uint64_t verdict_ms_ = 0;
  State last_verdict_ = State::kUnknown;  // a verdict repeated by a later probe is not logged
  int failed_after_greeting_ = 0;
};

}  // namespace t2s::socks5
