// The live view's data, as plain values: counters, gauges, one histogram and the connection
// rows of one page. The app fills it from the relay; the renderers and the HTTP server only
// read it, so this layer knows nothing of the relay (and builds on any OS libuv runs on).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace t2s::stats {

enum class MetricKind { kCounter, kGauge };

// `name` is short and snake_case ("tcp_opened"): JSON uses it as is, Prometheus prefixes it
// with "tun2socks_" (and a counter gets "_total").
struct Metric {
  std::string_view name;
  std::string_view help;
  MetricKind kind = MetricKind::kCounter;
  uint64_t value = 0;
};

// A histogram of durations in milliseconds. `counts[i]` are the observations in
// (bounds_ms[i-1], bounds_ms[i]]; the last element of `counts` is everything above the last
// bound, so counts.size() == bounds_ms.size() + 1.
struct Histogram {
  std::string_view name;  // in seconds, as Prometheus has it: "proxy_handshake_seconds"
  std::string_view help;
  std::vector<uint64_t> bounds_ms;
  std::vector<uint64_t> counts;
  uint64_t sum_ms = 0;
};

struct Snapshot {
  uint64_t uptime_ms = 0;
  std::vector<Metric> metrics;
  std::vector<Histogram> histograms;
};

struct ConnectionRow {
  std::string_view protocol;  // "tcp" or "udp"
  std::string source;         // the app's address and port
  std::string destination;    // address and port, or the name behind a fake-IP address
  uint64_t bytes_up = 0;      // app -> proxy
  uint64_t bytes_down = 0;    // proxy -> app
  uint64_t age_ms = 0;
  std::string_view state;  // "connecting", "established", "closing" (TCP); "associating", "open"
};

// One page of the connection list: `rows` are at most `limit` rows from position `offset` of
// `total` connections.
struct ConnectionPage {
  size_t total = 0;
  size_t offset = 0;
  size_t limit = 0;
  std::vector<ConnectionRow> rows;
};

// What the HTTP server asks for on each request. Called on the loop's thread.
class StatsSource {
 public:
  virtual ~StatsSource() = default;
  virtual Snapshot snapshot() = 0;
  // Must cost in proportion to offset + limit, not to the number of connections.
  virtual ConnectionPage connections(size_t offset, size_t limit) = 0;
};

}  // namespace t2s::stats
