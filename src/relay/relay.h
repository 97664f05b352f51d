// The relay: where connections from the stack meet the SOCKS5 proxy. Owns every TCP session,
// retires finished ones on a later loop turn (never inside a stack or libuv callback),
// enforces connect and idle timeouts with one sweep timer, and keeps the counters.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "relay/dns_service.h"
#include "socks5/connector.h"
#include "socks5/handshake_times.h"
#include "socks5/pipelining.h"
#include "socks5/spare_connections.h"
#include "stack/stack.h"

namespace t2s::relay {

class TcpSession;
class UdpSession;

struct RelayOptions {
  socks5::ProxyConfig proxy;
  bool proxy_pipelining = true;  // pipeline handshakes once a probe shows the proxy allows it
  size_t proxy_spares = 0;       // proxy connections kept ready while flows arrive
  uint64_t connect_timeout_ms = 10'000;
  uint64_t idle_timeout_ms = 7'440'000;
  uint64_t udp_timeout_ms = 60'000;
  size_t max_udp_flows = 1024;
  size_t max_connections = 0;  // TCP sessions at once; 0 = no limit
  DnsOptions dns;
};

struct RelayCounters {
  uint64_t tcp_opened = 0;  // connection attempts (SYNs) from apps
  uint64_t tcp_active = 0;
  uint64_t tcp_failed = 0;      // the proxy could not give us the connection
  uint64_t tcp_reset = 0;       // ended by a reset or timeout after being established
  uint64_t tcp_over_limit = 0;  // refused because --max-connections sessions were open
  uint64_t bytes_up = 0;        // app -> proxy
  uint64_t bytes_down = 0;      // proxy -> app

  uint64_t udp_flows_opened = 0;
  uint64_t udp_flows_active = 0;
  uint64_t udp_flows_failed = 0;   // the proxy refused or failed the association
  uint64_t udp_flows_expired = 0;  // idle past --udp-timeout
  uint64_t udp_flows_evicted = 0;  // the oldest idle flow, to stay within --max-udp-flows
  uint64_t udp_datagrams_up = 0;
  uint64_t udp_datagrams_down = 0;
  uint64_t udp_bytes_up = 0;
  uint64_t udp_proxy_send_calls = 0;  // system calls that sent udp_datagrams_up
  uint64_t udp_bytes_down = 0;
  uint64_t udp_dropped_malformed = 0;    // bad packets from the app or headers from the proxy
  uint64_t udp_dropped_fragmented = 0;   // SOCKS5 FRAG != 0 from the proxy
  uint64_t udp_dropped_unroutable = 0;   // remote is a name or of the other IP family
  uint64_t udp_dropped_queue_full = 0;   // too many datagrams while the association is set up
  uint64_t udp_dropped_send_failed = 0;  // the proxy-side socket refused the datagram
  uint64_t udp_refused = 0;              // answered with ICMP port unreachable: proxy has no UDP
};

// One relayed TCP connection or UDP flow, as the live view lists it (read-only, on demand).
struct ConnectionView {
  enum class State { kConnecting, kEstablished, kClosing };
  bool udp = false;
  net::Endpoint app;
  // TCP: what the proxy is asked for (a name for fake-IP addresses); UDP: the flow's first
  // destination (later datagrams may go elsewhere).
  socks5::Destination destination;
  uint64_t bytes_up = 0;
  uint64_t bytes_down = 0;
  uint64_t started_ms = 0;  // loop time
  State state = State::kConnecting;
};

class Relay final : public stack::TcpAcceptor, public stack::UdpReceiver {
 public:
  Relay(uv_loop_t* loop, RelayOptions options);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // The stack to answer connection requests through; set once, right after it is created.
  void attach_stack(stack::Stack& stack) { stack_ = &stack; }
  stack::Stack& stack() { return *stack_; }

  void on_tcp_request(const stack::TcpRequest& request) override;
  bool on_tcp_accept(uint64_t request_id,
                     std::unique_ptr<stack::TcpConnection>& connection) override;
  void on_udp_packet(std::span<const uint8_t> packet, bool checksum_trusted,
                     stack::InboundPacket& buffer) override;

  // Resets every session and stops the sweep timer; the loop can then run out.
  void shutdown();

  const RelayCounters& counters() const { return counters_; }
  const socks5::SpareCounters& spare_counters() const { return spares_.counters(); }
  size_t spares_open() const { return spares_.open_count(); }
  DnsService& dns() { return *dns_; }
  const DnsService& dns() const { return *dns_; }
  // Successful proxy handshakes (TCP CONNECT and UDP ASSOCIATE) by duration.
  const socks5::HandshakeTimes& handshake_times() const { return handshake_times_; }
  size_t connection_count() const { return sessions_.size() + udp_flows_.size(); }
  // Calls `visit` for at most `limit` connections, skipping the first `offset`: TCP sessions,
  // then UDP flows, in no particular order. Costs O(offset + limit), copies nothing else.
  void visit_connections(size_t offset, size_t limit,
                         const std::function<void(const ConnectionView&)>& visit) const;
  RelayCounters& mutable_counters() { return counters_; }
  uv_loop_t* loop() const { return loop_; }
  const RelayOptions& options() const { return options_; }
  // One buffer for all proxy reads: a read is passed on to lwIP before the next one starts.
  std::span<uint8_t> read_buffer() { return read_buffer_; }
  uv_buf_t read_buffer_for_libuv() {
    return uv_buf_init(reinterpret_cast<char*>(read_buffer_.data()),
                       static_cast<unsigned>(read_buffer_.size()));
  }

  // Starts a handshake with the proxy, on a spare connection when one is ready, and pipelined
  // where the proxy is known to allow it.
  std::unique_ptr<socks5::Connector> connect_proxy(socks5::Command command,
                                                   socks5::Destination destination,
                                                   socks5::Connector::Callback done);
  // A handshake with the proxy failed or timed out (see socks5::Pipelining::handshake_failed).
  void handshake_failed();

  // A session received data from the app: flush it to the proxy once this loop turn's input
  // is processed (one write for many segments).
  void schedule_flush(TcpSession* session);
  // Likewise for a UDP flow's datagrams to the proxy (one system call for many).
  void schedule_flush(UdpSession* session);

  // Called by a session that has ended; it is destroyed on a later loop turn.
  void retire(TcpSession* session, uint64_t request_id);
  // Logs a proxy failure; repeats of the same reason within a few seconds go to debug level.
  void report_proxy_failure(const std::string& reason);
  // Logs a warning; the same message again within a few seconds goes to debug level.
  void warn_rate_limited(const std::string& message);

  // UDP flows: retire like TCP sessions; keep the least-recently-used order for eviction.
  void retire_udp(UdpSession* session);
  void touch_udp(UdpSession* session);
  // A UDP association failed. New flows are answered with ICMP port unreachable, without
  // asking the proxy, for a while: long when the proxy has no UDP at all, short otherwise.
  void udp_unavailable(const std::string& reason, bool unsupported);

 private:
  void sweep();
  void schedule_reap();
  void reap();
  void start_flush_check();
  void flush();

  uv_loop_t* loop_;
  stack::Stack* stack_ = nullptr;
  RelayOptions options_;
  socks5::Pipelining pipelining_;
  socks5::SpareConnections spares_;
  RelayCounters counters_;
  socks5::HandshakeTimes handshake_times_;
  // By request id: the stack's accept names the request a connection belongs to.
  std::unordered_map<uint64_t, std::unique_ptr<TcpSession>> sessions_;
  std::vector<std::unique_ptr<TcpSession>> retired_;
  std::vector<uint8_t> read_buffer_;
  uv_timer_t* sweep_timer_;  // handles are freed in their close callbacks
  uv_timer_t* reap_timer_;
  uv_check_t* flush_check_;  // runs after each loop turn's I/O while sessions wait
  std::vector<TcpSession*> to_flush_;
  std::vector<UdpSession*> udp_to_flush_;
  std::vector<UdpSession*> udp_flushing_;  // swapped with udp_to_flush_, keeps its capacity
  std::unordered_map<net::Endpoint, std::unique_ptr<UdpSession>, net::EndpointHash> udp_flows_;
  std::list<UdpSession*> udp_lru_;  // front = least recently active
  std::vector<std::unique_ptr<UdpSession>> retired_udp_;
  std::unique_ptr<DnsService> dns_;
  uint64_t udp_unavailable_until_ms_ = 0;
  std::string last_failure_;
  uint64_t last_failure_ms_ = 0;
  uint64_t suppressed_failures_ = 0;
};

}  // namespace t2s::relay
