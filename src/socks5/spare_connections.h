// SpareConnections: proxy connections opened ahead of need, so that a new flow skips the TCP
// handshake with the proxy and its accept. Where the proxy takes a request pipelined behind the
// greeting, a spare is only connected: the flow sends both in one segment, one round trip in
// all. Otherwise (and with authentication) a spare is greeted too, so the flow sends only its
// request: one round trip instead of two, or of four with a password.
//
// Spares exist only while flows keep arriving: each one taken is replaced, and the first flow
// after a quiet spell opens none. A spare that waits a lifetime unused is closed, not replaced,
// so an idle tunnel holds no connection to the proxy, and a proxy sees at most `count` unused
// connections per burst. A spare the proxy closes while it waits is dropped at once.
#pragma once

#include <uv.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "io/tcp_socket.h"
#include "socks5/connector.h"

namespace t2s::socks5 {

struct SpareCounters {
  uint64_t used = 0;    // flows that started on a spare
  uint64_t unused = 0;  // spares closed without a flow: expired, or closed by the proxy
  uint64_t failed = 0;  // connections or greetings that failed (the next flow reports why)
};

class SpareConnections {
 public:
  // `count` 0 turns spares off: take() then always returns nullptr. A greeting that takes
  // longer than `greeting_timeout_ms` counts as failed.
  SpareConnections(uv_loop_t* loop, const ProxyConfig& proxy, size_t count,
                   uint64_t greeting_timeout_ms, uint64_t lifetime_ms = kDefaultLifetimeMs);
  ~SpareConnections();
  SpareConnections(const SpareConnections&) = delete;
  SpareConnections& operator=(const SpareConnections&) = delete;

  // Call once for each new flow. Returns a connection (reads paused; greeted or not) or none.
  // When the previous flow was recent, spares are opened up to `count` once this loop turn's
  // I/O is done: after the requests of every flow that started in it went out. Spares opened
  // from then on are greeted if `greet`.
  OpenConnection take(bool greet);
  // Closes every spare and opens no more.
  void stop();

  const SpareCounters& counters() const { return counters_; }
  // Spares open now (connecting, greeting or ready).
  size_t open_count() const { return spares_.size(); }

  // Under common proxies' negotiation timeouts (dante: 30 s).
  static constexpr uint64_t kDefaultLifetimeMs = 10'000;

 private:
  struct Spare {
    SpareConnections* pool = nullptr;
    std::unique_ptr<Connector> greeting;  // while the greeting runs
    // Set once a flow may take it: once greeted, or from the connect on if not greeting.
    std::unique_ptr<io::TcpSocket> socket;
    bool greeted = false;
    uint64_t opened_ms = 0;
  };

  void open_spares();
  void connect(Spare* spare);
  void on_greeted(Spare* spare, const ConnectOutcome& outcome);
  void watch(Spare* spare);
  void spare_failed(uint64_t now);
  void discard(Spare* spare);
  void expire();

  static void idle_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void idle_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);

  uv_loop_t* loop_;
  const ProxyConfig& proxy_;
  size_t count_;
  uint64_t greeting_timeout_ms_;
  uint64_t lifetime_ms_;
  std::vector<std::unique_ptr<Spare>> spares_;  // oldest first
  bool stopped_ = false;
  bool greet_ = true;  // whether spares opened now are greeted (as the latest take asked)
  std::optional<uint64_t> last_demand_ms_;  // when the previous flow started
  // After failed connections or greetings no spares are opened for a while, longer after each
  // (flows go the usual way and report why); a spare greeted or taken by a flow ends the pause.
  uint64_t paused_until_ms_ = 0;
  uint64_t pause_ms_ = 0;
  std::array<uint8_t, 64> idle_buffer_{};  // bytes from the proxy while idle end the spare
  uv_timer_t* expiry_timer_;               // handles are freed in their close callbacks
  uv_check_t* refill_check_;
  SpareCounters counters_;
};

}  // namespace t2s::socks5
