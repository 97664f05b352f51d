// LiveView: reads the relay's and the stack's counters into a stats::Snapshot, pages through
// the relay's connections, and runs the HTTP server when asked to.
#include "app/live_view.h"

namespace t2s::app {
namespace {

using stats::MetricKind;

std::string_view state_text(const relay::ConnectionView& view) {
  switch (view.state) {
    case relay::ConnectionView::State::kConnecting:
      return view.udp ? "associating" : "connecting";
    case relay::ConnectionView::State::kEstablished:
      return view.udp ? "open" : "established";
    case relay::ConnectionView::State::kClosing:
      return "closing";
  }
  return "";
}

}  // namespace

LiveView::LiveView(uv_loop_t* loop, const relay::Relay& relay, const stack::Stack& stack)
    : loop_(loop), relay_(relay), stack_(stack), started_ms_(uv_now(loop)) {}

bool LiveView::serve(const Config& config, std::string& error) {
  if (!config.stats_listen) return true;
  stats::ServerOptions options;
  options.host = config.stats_listen->address.to_string();
  options.port = config.stats_listen->port;
  options.token = config.stats_token;
  server_ = stats::HttpServer::start(loop_, std::move(options), *this, error);
  return server_ != nullptr;
}

stats::Snapshot LiveView::snapshot() {
  const relay::RelayCounters& r = relay_.counters();
  const stack::StackCounters& s = stack_.counters();
  const relay::DnsCounters& d = relay_.dns().counters();
  const socks5::SpareCounters& sp = relay_.spare_counters();
  constexpr MetricKind kCounter = MetricKind::kCounter;
  constexpr MetricKind kGauge = MetricKind::kGauge;
  stats::Snapshot snapshot;
  snapshot.uptime_ms = uv_now(loop_) - started_ms_;
  // The order and names of the SIGUSR1 log line, which scripts parse.
  snapshot.metrics = {
      {"tcp_opened", "TCP connection attempts (SYNs) from apps", kCounter, r.tcp_opened},
      {"tcp_active", "TCP connections being relayed", kGauge, r.tcp_active},
      {"tcp_failed", "TCP connections the proxy could not make", kCounter, r.tcp_failed},
      {"tcp_reset", "TCP connections ended by a reset or timeout", kCounter, r.tcp_reset},
      {"tcp_over_limit", "TCP connections refused by --max-connections", kCounter,
       r.tcp_over_limit},
      {"bytes_up", "TCP bytes from apps to the proxy", kCounter, r.bytes_up},
      {"bytes_down", "TCP bytes from the proxy to apps", kCounter, r.bytes_down},
      {"udp_flows_opened", "UDP flows started", kCounter, r.udp_flows_opened},
      {"udp_flows_active", "UDP flows being relayed", kGauge, r.udp_flows_active},
      {"udp_flows_failed", "UDP associations the proxy refused or failed", kCounter,
       r.udp_flows_failed},
      {"udp_flows_expired", "UDP flows closed after --udp-timeout", kCounter, r.udp_flows_expired},
      {"udp_flows_evicted", "UDP flows closed to stay within --max-udp-flows", kCounter,
       r.udp_flows_evicted},
      {"udp_datagrams_up", "UDP datagrams from apps to the proxy", kCounter, r.udp_datagrams_up},
      {"udp_datagrams_down", "UDP datagrams from the proxy to apps", kCounter,
       r.udp_datagrams_down},
      {"udp_bytes_up", "UDP payload bytes from apps to the proxy", kCounter, r.udp_bytes_up},
      {"udp_proxy_send_calls", "System calls that sent UDP datagrams to the proxy", kCounter,
       r.udp_proxy_send_calls},
      {"udp_bytes_down", "UDP payload bytes from the proxy to apps", kCounter, r.udp_bytes_down},
      {"udp_refused", "UDP datagrams answered with port unreachable (proxy without UDP)", kCounter,
       r.udp_refused},
      {"udp_dropped_malformed", "UDP datagrams dropped as malformed", kCounter,
       r.udp_dropped_malformed},
      {"udp_dropped_fragmented", "UDP datagrams from the proxy dropped for FRAG != 0", kCounter,
       r.udp_dropped_fragmented},
      {"udp_dropped_unroutable", "UDP datagrams from the proxy with no route to the app", kCounter,
       r.udp_dropped_unroutable},
      {"udp_dropped_queue_full", "UDP datagrams dropped while the association was set up", kCounter,
       r.udp_dropped_queue_full},
      {"udp_dropped_send_failed", "UDP datagrams the proxy-side socket refused", kCounter,
       r.udp_dropped_send_failed},
      {"icmp_echo_replies", "Pings answered locally", kCounter, s.icmp_echo_replies},
      {"icmp_dropped", "ICMP messages dropped", kCounter, s.icmp_dropped},
      {"packets_in", "Packets read from the device", kCounter, s.packets_in},
      {"packets_out", "Packets written to the device", kCounter, s.packets_out},
      {"packets_malformed", "Packets dropped as malformed", kCounter, s.packets_malformed},
      {"packets_not_handled", "Packets of protocols the tunnel does not relay", kCounter,
       s.packets_not_handled},
      {"packets_out_dropped", "Packets the device refused", kCounter, s.packets_out_dropped},
      {"packets_checksum_offloaded", "Packets whose checksums the device vouched for", kCounter,
       s.packets_checksum_offloaded},
      {"packets_out_segmented", "UDP datagrams to the apps written in runs the device cut up",
       kCounter, s.packets_out_segmented},
      {"syns_refused", "SYNs refused: too many undecided connection attempts", kCounter,
       s.syns_refused},
      {"dns_answered_from_pool", "DNS queries answered from the fake-IP pool", kCounter,
       d.answered_from_pool},
      {"dns_forwarded", "DNS queries forwarded over TCP", kCounter, d.forwarded},
      {"dns_answered_upstream", "DNS answers relayed from upstream", kCounter, d.answered_upstream},
      {"dns_failed", "DNS queries that failed", kCounter, d.failed},
      {"dns_pool_size", "Names mapped to fake-IP addresses", kGauge, relay_.dns().pool_size()},
      {"proxy_spares_used", "Connections that started on a spare proxy connection", kCounter,
       sp.used},
      {"proxy_spares_unused", "Spare proxy connections closed unused", kCounter, sp.unused},
      {"proxy_spares_failed", "Spare proxy connections that failed", kCounter, sp.failed},
      {"proxy_spares_open", "Spare proxy connections open now", kGauge, relay_.spares_open()},
  };
  if (server_) {
    const stats::ServerCounters& h = server_->counters();
    snapshot.metrics.insert(
        snapshot.metrics.end(),
        {{"stats_requests", "Live view HTTP responses sent", kCounter, h.requests},
         {"stats_bad_requests", "Live view requests answered 400 or 413", kCounter, h.bad_requests},
         {"stats_unauthorized", "Live view requests answered 401", kCounter, h.unauthorized},
         {"stats_clients_refused", "Live view clients closed at once: too many connected", kCounter,
          h.clients_refused},
         {"stats_clients_timed_out", "Live view clients closed at the deadline", kCounter,
          h.clients_timed_out},
         {"stats_clients", "Live view clients connected now", kGauge, server_->clients()}});
  }
  const socks5::HandshakeTimes& times = relay_.handshake_times();
  stats::Histogram handshakes;
  handshakes.name = "proxy_handshake_seconds";
  handshakes.help = "Time from the start of a proxy handshake to the proxy's success reply";
  handshakes.bounds_ms.assign(times.kBoundsMs.begin(), times.kBoundsMs.end());
  handshakes.counts.assign(times.counts.begin(), times.counts.end());
  handshakes.sum_ms = times.sum_ms;
  snapshot.histograms.push_back(std::move(handshakes));
  return snapshot;
}

stats::ConnectionPage LiveView::connections(size_t offset, size_t limit) {
  stats::ConnectionPage page;
  page.total = relay_.connection_count();
  page.offset = offset;
  page.limit = limit;
  page.rows.reserve(std::min(limit, page.total));
  const uint64_t now = uv_now(loop_);
  relay_.visit_connections(offset, limit, [&](const relay::ConnectionView& view) {
    stats::ConnectionRow row;
    row.protocol = view.udp ? "udp" : "tcp";
    row.source = view.app.to_string();
    row.destination = socks5::to_string(view.destination);
    row.bytes_up = view.bytes_up;
    row.bytes_down = view.bytes_down;
    row.age_ms = now - view.started_ms;
    row.state = state_text(view);
    page.rows.push_back(std::move(row));
  });
  return page;
}

std::string LiveView::counters_line() {
  std::string line;
  for (const stats::Metric& metric : snapshot().metrics) {
    if (!line.empty()) line += ' ';
    line += std::string(metric.name) + "=" + std::to_string(metric.value);
  }
  return line;
}

}  // namespace t2s::app
