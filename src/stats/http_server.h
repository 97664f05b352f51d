// The live view's HTTP server on the tunnel's libuv loop. Each client sends one request and
// gets one response, then the connection closes. Bounded so that no client can hold up the
// loop or grow memory: request heads up to a size limit, a deadline for the whole exchange,
// and a cap on clients at once (those beyond it are closed at once and counted).
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>

#include "stats/http_request.h"
#include "stats/snapshot.h"

namespace t2s::stats {

struct ServerOptions {
  std::string host;  // numeric IPv4 or IPv6 address
  uint16_t port = 0;
  std::string token;  // empty: no authorization
  size_t max_clients = 64;
  size_t max_request_head = 8192;
  uint64_t client_timeout_ms = 10'000;
};

struct ServerCounters {
  uint64_t requests = 0;           // responses sent (any status)
  uint64_t bad_requests = 0;       // 400 and 413
  uint64_t unauthorized = 0;       // 401
  uint64_t clients_refused = 0;    // closed at once: max_clients were connected
  uint64_t clients_timed_out = 0;  // closed at the deadline before their response went out
};

class HttpServer {
 public:
  // Listens at once; nullptr with `error` set if the address cannot be used.
  static std::unique_ptr<HttpServer> start(uv_loop_t* loop, ServerOptions options,
                                           StatsSource& source, std::string& error);
  // Closes the listener and every client.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  const ServerCounters& counters() const { return counters_; }
  size_t clients() const { return clients_.size(); }

 private:
  struct Client;

  HttpServer(uv_loop_t* loop, ServerOptions options, StatsSource& source);
  void on_connection(int status);
  void on_read(Client& client, ssize_t nread);
  void answer(Client& client);
  void finish(Client& client, int write_status);
  void close_client(Client& client);

  uv_loop_t* loop_;
  ServerOptions options_;
  StatsSource& source_;
  uv_tcp_t* listener_ = nullptr;  // freed in its close callback
  std::list<std::unique_ptr<Client>> clients_;
  // Reads from all clients land here one at a time; each is parsed before the next arrives.
  std::unique_ptr<char[]> read_buffer_;
  ServerCounters counters_;
};

}  // namespace t2s::stats
