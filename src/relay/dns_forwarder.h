// DNS over TCP through the proxy: queries that arrived over UDP are sent, with a two-byte
// length prefix (RFC 7766), over a few SOCKS5 CONNECT streams to an upstream resolver, several
// in flight on each (pipelined, matched by a rewritten ID), and each answer goes back to the
// app over UDP. Works with proxies that have no UDP at all.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "io/tcp_socket.h"
#include "net/address.h"
#include "socks5/connector.h"

namespace t2s::relay {

class Relay;

class DnsForwarder {
 public:
  // Receives each answer (ID restored) for the query that `tag` identified.
  struct Pending {
    uint16_t original_id = 0;
    net::Endpoint app;       // where the answer goes
    net::Endpoint resolver;  // the address the app asked (the answer's source)
    uint16_t max_udp_size = 512;
    uint64_t deadline_ms = 0;
  };
  using AnswerSink = std::function<void(const Pending& pending, std::vector<uint8_t> answer)>;

  DnsForwarder(Relay& relay, net::Endpoint upstream, AnswerSink sink);
  ~DnsForwarder();
  DnsForwarder(const DnsForwarder&) = delete;
  DnsForwarder& operator=(const DnsForwarder&) = delete;

  // Sends `query` (a whole DNS message) upstream. Drops it (counted by the caller) when too
  // many queries are in flight already.
  bool forward(std::span<const uint8_t> query, const Pending& pending);
  // Forgets queries past their deadline and closes idle connections; called by the sweep.
  void sweep(uint64_t now_ms);

  const net::Endpoint& upstream() const { return upstream_; }

 private:
  class Stream;
  friend class Stream;
  Stream* pick_stream();
  void on_answer(std::span<uint8_t> answer);
  void on_stream_closed(Stream* stream);

  Relay& relay_;
  net::Endpoint upstream_;
  AnswerSink sink_;
  std::vector<std::unique_ptr<Stream>> streams_;
  std::vector<std::unique_ptr<Stream>> closed_;    // destroyed on the next sweep
  std::unordered_map<uint16_t, Pending> pending_;  // by the ID used upstream
  uint16_t next_id_ = 1;
};

}  // namespace t2s::relay
