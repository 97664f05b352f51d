// The tunnel's counters, gauges and connections as the stats layer's plain snapshot: what the
// live view's HTTP server (--stats-listen) serves and what SIGUSR1 logs.
#pragma once

#include <uv.h>

#include <memory>
#include <string>

#include "app/config.h"
#include "relay/relay.h"
#include "stack/stack.h"
#include "stats/http_server.h"
#include "stats/snapshot.h"

namespace t2s::app {

class LiveView final : public stats::StatsSource {
 public:
  LiveView(uv_loop_t* loop, const relay::Relay& relay, const stack::Stack& stack);

  // Starts serving at config.stats_listen (if set). False, with `error`, if it cannot.
  bool serve(const Config& config, std::string& error);
  // Closes the server and its clients (their handles close on the next loop run).
  void stop() { server_.reset(); }

  stats::Snapshot snapshot() override;
  stats::ConnectionPage connections(size_t offset, size_t limit) override;
  // Every counter and gauge as one "name=value name=value ..." line.
  std::string counters_line();

 private:
  uv_loop_t* loop_;
  const relay::Relay& relay_;
  const stack::Stack& stack_;
  uint64_t started_ms_;
  std::unique_ptr<stats::HttpServer> server_;
};

}  // namespace t2s::app
