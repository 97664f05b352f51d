// HttpServer: accept, read one request head, write one response, close; with a deadline and a
// cap on clients. Handles are owned by a Client until both are closed; the Client is freed in
// the last close callback.
#include "stats/http_server.h"

namespace t2s::stats {
namespace {
constexpr size_t kReadBufferSize = 4096;
constexpr int kListenBacklog = 128;
}  // namespace

// A connected client. Outlives its entry in the server's list until libuv has closed both of
// its handles; `server` is cleared when the server goes first.
struct HttpServer::Client {
  HttpServer* server = nullptr;
  std::list<std::unique_ptr<Client>>::iterator position;
  uv_tcp_t tcp{};
  uv_timer_t deadline{};
  uv_write_t write{};
  uv_shutdown_t shutdown{};
  RequestParser parser;
  std::string response;
  bool answered = false;
  int open_handles = 0;

  explicit Client(size_t max_head) : parser(max_head) {}

  static void use_read_buffer(uv_handle_t* handle, size_t, uv_buf_t* buf) {
    auto* self = static_cast<Client*>(handle->data);
    *buf = uv_buf_init(self->server->read_buffer_.get(), kReadBufferSize);
  }

  // Closes both handles; the last close callback frees the Client.
  static void close(std::unique_ptr<Client> client) {
    Client* raw = client.release();
    auto closed = [](uv_handle_t* handle) {
      auto* self = static_cast<Client*>(handle->data);
      if (--self->open_handles == 0) delete self;
    };
    uv_close(reinterpret_cast<uv_handle_t*>(&raw->tcp), closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&raw->deadline), closed);
  }
};

std::unique_ptr<HttpServer> HttpServer::start(uv_loop_t* loop, ServerOptions options,
                                              StatsSource& source, std::string& error) {
  sockaddr_storage address{};
  const bool v6 = options.host.find(':') != std::string::npos;
  int rc = v6 ? uv_ip6_addr(options.host.c_str(), options.port,
                            reinterpret_cast<sockaddr_in6*>(&address))
              : uv_ip4_addr(options.host.c_str(), options.port,
                            reinterpret_cast<sockaddr_in*>(&address));
  const std::string where =
      (v6 ? "[" + options.host + "]" : options.host) + ":" + std::to_string(options.port);
  if (rc != 0) {
    error = "--stats-listen " + where + ": not a numeric address";
    return nullptr;
  }
  std::unique_ptr<HttpServer> server(new HttpServer(loop, std::move(options), source));
  rc = uv_tcp_bind(server->listener_, reinterpret_cast<const sockaddr*>(&address), 0);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(server->listener_), kListenBacklog,
                   [](uv_stream_t* stream, int status) {
                     static_cast<HttpServer*>(stream->data)->on_connection(status);
                   });
  }
  if (rc != 0) {
    error = "--stats-listen " + where + ": cannot listen: " + uv_strerror(rc);
    return nullptr;
  }
  return server;
}

HttpServer::HttpServer(uv_loop_t* loop, ServerOptions options, StatsSource& source)
    : loop_(loop),
      options_(std::move(options)),
      source_(source),
      listener_(new uv_tcp_t{}),
      read_buffer_(new char[kReadBufferSize]) {
  uv_tcp_init(loop_, listener_);
  listener_->data = this;
}

HttpServer::~HttpServer() {
  uv_close(reinterpret_cast<uv_handle_t*>(listener_),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_tcp_t*>(handle); });
  while (!clients_.empty()) close_client(*clients_.front());
}

void HttpServer::on_connection(int status) {
  if (status != 0) return;
  auto client = std::make_unique<Client>(options_.max_request_head);
  Client& c = *client;
  c.tcp.data = &c;
  c.deadline.data = &c;
  uv_tcp_init(loop_, &c.tcp);
  uv_timer_init(loop_, &c.deadline);
  c.open_handles = 2;
  if (uv_accept(reinterpret_cast<uv_stream_t*>(listener_),
                reinterpret_cast<uv_stream_t*>(&c.tcp)) != 0) {
    Client::close(std::move(client));
    return;
  }
  if (clients_.size() >= options_.max_clients) {
    ++counters_.clients_refused;
    Client::close(std::move(client));
    return;
  }
  c.server = this;
  clients_.push_back(std::move(client));
  c.position = std::prev(clients_.end());
  uv_timer_start(
      &c.deadline,
      [](uv_timer_t* timer) {
        auto* self = static_cast<Client*>(timer->data);
        if (!self->answered) ++self->server->counters_.clients_timed_out;
        self->server->close_client(*self);
      },
      options_.client_timeout_ms, 0);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c.tcp), Client::use_read_buffer,
                [](uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
                  auto* self = static_cast<Client*>(stream->data);
                  self->server->on_read(*self, nread);
                });
}

void HttpServer::on_read(Client& client, ssize_t nread) {
  if (nread == 0) return;
  if (nread < 0) {  // gone before its request ended
    close_client(client);
    return;
  }
  const auto* bytes = reinterpret_cast<const uint8_t*>(read_buffer_.get());
  if (client.parser.feed({bytes, static_cast<size_t>(nread)}) !=
      RequestParser::State::kIncomplete) {
    answer(client);
  }
}

void HttpServer::answer(Client& client) {
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&client.tcp));
  HttpResponse response = respond(client.parser, options_.token, source_);
  ++counters_.requests;
  if (response.status == 400 || response.status == 413) ++counters_.bad_requests;
  if (response.status == 401) ++counters_.unauthorized;
  client.answered = true;
  client.response = serialize(response);
  uv_buf_t buffer =
      uv_buf_init(client.response.data(), static_cast<unsigned>(client.response.size()));
  client.write.data = &client;
  int rc = uv_write(&client.write, reinterpret_cast<uv_stream_t*>(&client.tcp), &buffer, 1,
                    [](uv_write_t* request, int status) {
                      auto* self = static_cast<Client*>(request->data);
                      // Cancelled writes report after the client was closed.
                      if (self->server != nullptr) self->server->finish(*self, status);
                    });
  if (rc != 0) close_client(client);
}

// Closing with unread request bytes would send a reset, which can make the client drop the
// response before reading it: send FIN instead and discard what still comes until the client
// closes (or the deadline).
void HttpServer::finish(Client& client, int write_status) {
  if (write_status != 0) {
    close_client(client);
    return;
  }
  client.shutdown.data = &client;
  auto* stream = reinterpret_cast<uv_stream_t*>(&client.tcp);
  if (uv_shutdown(&client.shutdown, stream, [](uv_shutdown_t*, int) {}) != 0 ||
      uv_read_start(stream, Client::use_read_buffer,
                    [](uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
                      auto* self = static_cast<Client*>(s->data);
                      if (nread < 0) self->server->close_client(*self);
                    }) != 0) {
    close_client(client);
  }
}

void HttpServer::close_client(Client& client) {
  if (client.server == nullptr) return;
  client.server = nullptr;
  std::unique_ptr<Client> owned = std::move(*client.position);
  clients_.erase(client.position);
  Client::close(std::move(owned));
}

}  // namespace t2s::stats
