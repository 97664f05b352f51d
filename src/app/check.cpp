// --check: each step runs the socks5 layer's own Connector or Pipelining probe on a private
// loop, bounded by --tcp-connect-timeout.
#include "app/check.h"

#include <uv.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "app/proxy_address.h"
#include "socks5/connector.h"
#include "socks5/pipelining.h"

namespace t2s::app {
namespace {

// Runs `loop` until `finished()` or `timeout_ms` has passed; false on timeout.
template <typename Predicate>
bool run_until(uv_loop_t* loop, Predicate finished, uint64_t timeout_ms) {
  auto* timer = new uv_timer_t{};
  bool timed_out = false;
  uv_timer_init(loop, timer);
  timer->data = &timed_out;
  uv_timer_start(
      timer, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; }, timeout_ms, 0);
  while (!finished() && !timed_out) uv_run(loop, UV_RUN_ONCE);
  uv_close(reinterpret_cast<uv_handle_t*>(timer),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
  uv_run(loop, UV_RUN_NOWAIT);  // the close callback
  return !timed_out;
}

struct StepResult {
  std::optional<socks5::ConnectOutcome> outcome;  // none: no answer in time
  double milliseconds = 0;
};

// One handshake: greeting only when `request` is empty, else that command and destination.
StepResult handshake(uv_loop_t* loop, const socks5::ProxyConfig& proxy,
                     std::optional<std::pair<socks5::Command, socks5::Destination>> request,
                     uint64_t timeout_ms) {
  StepResult result;
  const uint64_t started = uv_hrtime();
  auto done = [&](const socks5::ConnectOutcome& outcome) {
    result.outcome = outcome;
    result.milliseconds = static_cast<double>(uv_hrtime() - started) / 1e6;
  };
  std::unique_ptr<socks5::Connector> connector =
      request
          ? std::make_unique<socks5::Connector>(loop, proxy, request->first, request->second, done)
          : std::make_unique<socks5::Connector>(loop, proxy, done);
  run_until(
      loop, [&] { return result.outcome.has_value(); }, timeout_ms);
  connector.reset();
  uv_run(loop, UV_RUN_NOWAIT);
  return result;
}

// "OK, <success> (1.2 ms)" or "FAILED: <why>".
std::string verdict(const StepResult& step, const std::string& success) {
  char time[32];
  std::snprintf(time, sizeof time, " (%.1f ms)", step.milliseconds);
  if (!step.outcome) return "FAILED: no answer within --tcp-connect-timeout";
  if (step.outcome->status != socks5::ConnectStatus::kOk) return "FAILED: " + step.outcome->detail;
  return "OK, " + success + time;
}

}  // namespace

int run_check(const Config& config) {
  socks5::ProxyConfig proxy;
  std::string error;
  if (!resolve_proxy(config.proxy, proxy.address, error)) {
    std::fprintf(stderr, "error: %s\n", error.c_str());
    return 1;
  }
  proxy.credentials = config.proxy.credentials;
  proxy.display_name = config.proxy.redacted();
  const auto timeout_ms = static_cast<uint64_t>(config.tcp_connect_timeout_s * 1000);
  uv_loop_t loop{};
  uv_loop_init(&loop);
  std::printf("proxy %s\n", proxy.display_name.c_str());

  StepResult greeting = handshake(&loop, proxy, std::nullopt, timeout_ms);
  std::printf("greeting: %s\n", verdict(greeting, proxy.credentials ? "username/password accepted"
                                                                    : "no authentication needed")
                                    .c_str());
  const bool greeted = greeting.outcome && greeting.outcome->status == socks5::ConnectStatus::kOk;

  StepResult connect = handshake(
      &loop, proxy, std::make_pair(socks5::Command::kConnect, config.check_target), timeout_ms);
  std::string bound;
  if (connect.outcome) bound = "bound " + socks5::to_string(connect.outcome->bound);
  std::printf("CONNECT %s: %s\n", socks5::to_string(config.check_target).c_str(),
              verdict(connect, bound).c_str());
  const bool connected = connect.outcome && connect.outcome->status == socks5::ConnectStatus::kOk;

  StepResult associate = handshake(
      &loop, proxy, std::make_pair(socks5::Command::kUdpAssociate, net::Endpoint{}), timeout_ms);
  std::string relay;
  if (associate.outcome) relay = "relay at " + socks5::to_string(associate.outcome->bound);
  std::printf("UDP ASSOCIATE: %s%s\n", verdict(associate, relay).c_str(),
              associate.outcome && associate.outcome->status != socks5::ConnectStatus::kOk
                  ? " (UDP flows will get ICMP port unreachable; --dns fake or tcp still work)"
                  : "");

  if (proxy.credentials) {
    std::printf("pipelining: not used with username/password\n");
  } else {
    socks5::Pipelining pipelining(&loop, proxy, true);
    pipelining.usable();  // starts the probe
    run_until(
        &loop, [&] { return pipelining.verdict().has_value(); }, timeout_ms);
    std::optional<bool> allowed = pipelining.verdict();
    std::printf("pipelining: %s\n", !allowed ? "unknown (the probe got no verdict in time)"
                                    : *allowed
                                        ? "yes, the proxy reads a request sent behind the greeting"
                                        : "no, each request waits for the greeting's reply");
    pipelining.stop();
  }
  uv_run(&loop, UV_RUN_NOWAIT);
  uv_loop_close(&loop);
  const bool ok = greeted && connected;
  std::printf("check: %s\n", ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}

}  // namespace t2s::app
