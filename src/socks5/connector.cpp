// Connector: the SOCKS5 client handshake as a small state machine driven by libuv callbacks.
#include "socks5/connector.h"

#include <cstring>
#include <span>

namespace t2s::socks5 {
namespace {

// The fewest bytes a whole pipelined answer can take: the method selection (2) and the
// shortest reply (4-byte head, a domain length byte, an empty name, a port).
constexpr int kPipelinedAnswerMinimum = 2 + 4 + 1 + 2;

struct WriteRequest {
  uv_write_t request{};
  std::vector<uint8_t> bytes;
};

std::string uv_text(int code) {
  return uv_strerror(code);
}

}  // namespace

std::string ProxyConfig::prepare(const uv_handle_t* handle) const {
  if (!prepare_socket) return {};
  uv_os_sock_t fd{};
  if (int rc = io::socket_of(handle, fd); rc != 0) {
    return "cannot get the socket of a handle: " + uv_text(rc);
  }
  return prepare_socket(fd);
}

std::unique_ptr<io::TcpSocket> ProxyConfig::start_connection(uv_loop_t* loop,
                                                             std::string& problem) const {
  auto socket = io::TcpSocket::create(loop, address.ss_family);
  if (!socket) {
    problem = "cannot create a socket (out of file descriptors?)";
    return nullptr;
  }
  problem = prepare(reinterpret_cast<const uv_handle_t*>(socket->handle()));
  if (!problem.empty()) return nullptr;
  if (int rc = socket->start_connect(reinterpret_cast<const sockaddr*>(&address)); rc != 0) {
    problem = "cannot connect to proxy: " + uv_text(rc);
    return nullptr;
  }
  // After the connect: uv_tcp_open applies a TCP_NODELAY asked for earlier once more.
  uv_tcp_nodelay(socket->handle(), 1);
  return socket;
}

Connector::Connector(uv_loop_t* loop, const ProxyConfig& proxy, Command command,
                     const Destination& destination, Callback done, bool pipelined,
                     OpenConnection spare)
    : loop_(loop),
      proxy_(proxy),
      done_(std::move(done)),
      request_(encode_request(command, destination)),
      pipelined_(pipelined && !proxy.credentials) {
  if (request_.empty()) {
    fail_later("destination cannot be encoded", ConnectStatus::kProtocolError);
  } else if (spare.socket) {
    start_on_spare(std::move(spare));
  } else {
    start();
  }
}

Connector::Connector(uv_loop_t* loop, const ProxyConfig& proxy, Callback done)
    : loop_(loop), proxy_(proxy), done_(std::move(done)), pipelined_(false) {
  start();
}

Connector::~Connector() {
  if (socket_) socket_->reset_on_close();
  if (deferred_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(deferred_),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
  }
}

void Connector::start() {
  std::string problem;
  socket_ = proxy_.start_connection(loop_, problem);
  if (!socket_) {
    fail_later(problem);
    return;
  }
  socket_->set_owner(this);
  // The greeting goes out as soon as the connection is up, without a loop turn in between.
  greet();
}

void Connector::greet() {
  std::vector<uint8_t> greeting = encode_greeting(proxy_.credentials.has_value());
  if (pipelined_) {
    // Only "no authentication" is offered, so the request can follow in the same segment.
    greeting.insert(greeting.end(), request_.begin(), request_.end());
  }
  if (!send(std::move(greeting))) return;
  // The method selection usually arrives long before the reply (the proxy connects to the
  // destination in between); a low-water mark lets both wake the loop once, not twice.
  if (pipelined_) set_receive_low_water(kPipelinedAnswerMinimum);
  int rc = socket_->read_with(alloc_callback, read_callback);
  if (rc != 0) fail_later("cannot read from proxy: " + uv_text(rc));
}

void Connector::start_on_spare(OpenConnection spare) {
  socket_ = std::move(spare.socket);
  socket_->set_owner(this);
  on_spare_ = true;
  // A connected spare's handshake may still be under way: its first write or read tells.
  connected_ = spare.greeted;
  if (!spare.greeted) {
    greet();
    return;
  }
  outcome_.greeted = true;
  phase_ = Phase::kReply;
  if (!send(request_)) return;
  int rc = socket_->read_with(alloc_callback, read_callback);
  if (rc != 0) fail_later("cannot read from proxy: " + uv_text(rc));
}

void Connector::connection_lost(std::string detail) {
  if (lose_deferred_) {
    // A failed write was waiting to report this; one report is enough.
    lose_deferred_ = false;
    uv_timer_stop(deferred_);
  }
  if (on_spare_ && buffered_ == 0) {
    // Closed before it answered: most likely the proxy dropped the idle connection as our
    // request arrived. It did not act on the request, so a new connection may ask again.
    on_spare_ = false;
    connected_ = false;
    outcome_.greeted = false;
    phase_ = Phase::kMethod;
    socket_.reset();
    start();
    return;
  }
  finish(ConnectStatus::kProxyUnreachable, std::move(detail));
}

void Connector::fail_later(std::string detail, ConnectStatus status) {
  outcome_ = {status, 0, std::move(detail), {}};
  start_deferred();
}

void Connector::lose_later(std::string detail) {
  outcome_.detail = std::move(detail);
  lose_deferred_ = true;
  start_deferred();
}

void Connector::start_deferred() {
  if (deferred_ == nullptr) {
    deferred_ = new uv_timer_t{};
    uv_timer_init(loop_, deferred_);
    deferred_->data = this;
  }
  uv_timer_start(
      deferred_,
      [](uv_timer_t* timer) {
        auto* self = static_cast<Connector*>(timer->data);
        if (self->lose_deferred_) {
          self->connection_lost(self->outcome_.detail);
        } else {
          self->finish(self->outcome_.status, self->outcome_.detail);
        }
      },
      0, 0);
}

std::unique_ptr<io::TcpSocket> Connector::take_socket() {
  // finish() paused the reads: the next owner reads on without a system call.
  if (socket_) socket_->set_owner(nullptr);
  return std::move(socket_);
}

void Connector::set_receive_low_water(int bytes) {
  uv_os_sock_t fd{};
  if (io::socket_of(reinterpret_cast<const uv_handle_t*>(socket_->handle()), fd) != 0) return;
  // Best effort: without it the answer just takes one more wake-up. EOF and errors wake the
  // loop whatever the mark.
  if (io::set_receive_low_water(fd, bytes)) {
    low_water_raised_ = bytes > 1;
  }
}

bool Connector::send(std::vector<uint8_t> bytes) {
  uv_buf_t whole =
      uv_buf_init(reinterpret_cast<char*>(bytes.data()), static_cast<unsigned>(bytes.size()));
  std::span<uv_buf_t> left(&whole, 1);
  ssize_t written = socket_->write_now(left);
  if (written < 0) {
    // Through connection_lost like a failed write request: a spare the proxy closed gets one
    // more try on a new connection.
    lose_later(failure_text("write to proxy failed", static_cast<int>(written)));
    return false;
  }
  if (written > 0) connected_ = true;
  if (left.empty()) return true;
  auto* request = new WriteRequest{};
  request->bytes.assign(left[0].base, left[0].base + left[0].len);
  uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(request->bytes.data()),
                             static_cast<unsigned>(request->bytes.size()));
  int rc = socket_->write(&request->request, &buf, 1, [](uv_write_t* req, int status) {
    auto* owner = io::TcpSocket::owner_of<Connector>(req->handle);
    delete reinterpret_cast<WriteRequest*>(req);
    if (owner == nullptr || status == UV_ECANCELED) return;
    if (status == 0) {
      owner->connected_ = true;
    } else {
      owner->connection_lost(owner->failure_text("write to proxy failed", status));
    }
  });
  if (rc != 0) {
    // Not finished here: the callback may destroy this Connector, and callers go on after send.
    delete request;
    fail_later(failure_text("write to proxy failed", rc));
    return false;
  }
  return true;
}

std::string Connector::failure_text(const char* once_connected, int code) const {
  // Before anything went through, an error is the connection attempt's own (refused,
  // unreachable); the first write or read reports it.
  return std::string(connected_ ? once_connected : "cannot connect to proxy") + ": " +
         uv_text(code);
}

void Connector::alloc_callback(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = io::TcpSocket::owner_of<Connector>(handle);
  if (self == nullptr || self->buffered_ >= self->buffer_.size()) {
    *buf = uv_buf_init(nullptr, 0);
    return;
  }
  *buf = uv_buf_init(reinterpret_cast<char*>(self->buffer_.data() + self->buffered_),
                     static_cast<unsigned>(self->buffer_.size() - self->buffered_));
}

void Connector::read_callback(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = io::TcpSocket::owner_of<Connector>(stream);
  if (self != nullptr) self->on_read(nread, buf);
}

void Connector::on_read(ssize_t nread, const uv_buf_t*) {
  if (phase_ == Phase::kDone) return;
  if (nread == UV_ENOBUFS) {
    finish(ConnectStatus::kProtocolError, "proxy sent more than a handshake reply can hold");
    return;
  }
  if (nread < 0) {
    connection_lost(nread == UV_EOF
                        ? "proxy closed the connection during the handshake"
                        : failure_text("proxy connection failed", static_cast<int>(nread)));
    return;
  }
  if (nread > 0) connected_ = true;
  buffered_ += static_cast<size_t>(nread);
  // Back to waking on every byte: the rest of a reply, and the relay afterwards, may be short.
  if (low_water_raised_ && nread > 0) set_receive_low_water(1);
  process();
}

void Connector::process() {
  while (phase_ != Phase::kDone) {
    std::span<const uint8_t> pending(buffer_.data(), buffered_);
    size_t consumed = 0;
    switch (phase_) {
      case Phase::kMethod: {
        auto selection = decode_method_selection(pending);
        if (selection.status == DecodeStatus::kNeedMore) return;
        if (selection.status == DecodeStatus::kMalformed) {
          finish(ConnectStatus::kProtocolError, "bad method selection: " + selection.error);
          return;
        }
        consumed = selection.consumed;
        outcome_.greeted = true;
        if (selection.value == Method::kNoAuth && pipelined_) {
          phase_ = Phase::kReply;  // the request went out with the greeting
        } else if (selection.value == Method::kNoAuth) {
          if (!greeted(consumed)) return;
        } else if (selection.value == Method::kUserPass && proxy_.credentials) {
          auto auth = encode_user_pass(*proxy_.credentials);
          if (auth.empty()) {
            finish(ConnectStatus::kAuthFailed, "username or password longer than 255 bytes");
            return;
          }
          phase_ = Phase::kAuth;
          send(std::move(auth));
        } else if (selection.value == Method::kUserPass) {
          finish(ConnectStatus::kNoAcceptableMethod,
                 "proxy requires username/password authentication; add user:password@ to --proxy");
          return;
        } else {
          finish(ConnectStatus::kNoAcceptableMethod,
                 "proxy accepts none of the offered authentication methods");
          return;
        }
        break;
      }
      case Phase::kAuth: {
        auto reply = decode_user_pass_reply(pending);
        if (reply.status == DecodeStatus::kNeedMore) return;
        if (reply.status == DecodeStatus::kMalformed) {
          finish(ConnectStatus::kProtocolError, "bad authentication reply: " + reply.error);
          return;
        }
        if (!reply.value) {
          finish(ConnectStatus::kAuthFailed,
                 "proxy authentication failed: username/password rejected");
          return;
        }
        consumed = reply.consumed;
        if (!greeted(consumed)) return;
        break;
      }
      case Phase::kReply: {
        auto reply = decode_reply(pending);
        if (reply.status == DecodeStatus::kNeedMore) return;
        if (reply.status == DecodeStatus::kMalformed) {
          finish(ConnectStatus::kProtocolError, "bad reply: " + reply.error);
          return;
        }
        if (reply.value.code != 0) {
          finish(ConnectStatus::kRequestRejected, reply_code_message(reply.value.code),
                 reply.value.code);
          return;
        }
        early_data_.assign(buffer_.begin() + static_cast<ptrdiff_t>(reply.consumed),
                           buffer_.begin() + static_cast<ptrdiff_t>(buffered_));
        buffered_ = 0;
        outcome_.bound = reply.value.bound;
        finish(ConnectStatus::kOk, {});
        return;
      }
      case Phase::kDone:
        return;
    }
    std::memmove(buffer_.data(), buffer_.data() + consumed, buffered_ - consumed);
    buffered_ -= consumed;
  }
}

bool Connector::greeted(size_t consumed) {
  if (!request_.empty()) {
    send_request();
    return true;
  }
  if (buffered_ > consumed) {
    finish(ConnectStatus::kProtocolError, "proxy sent bytes before any request");
  } else {
    buffered_ = 0;
    finish(ConnectStatus::kOk, {});
  }
  return false;
}

void Connector::send_request() {
  phase_ = Phase::kReply;
  send(request_);  // a failure is reported on a later loop turn
}

void Connector::finish(ConnectStatus status, std::string detail, uint8_t reply_code) {
  if (phase_ == Phase::kDone) return;
  if (deferred_ != nullptr) uv_timer_stop(deferred_);
  phase_ = Phase::kDone;
  outcome_.status = status;
  outcome_.detail = std::move(detail);
  outcome_.reply_code = reply_code;
  if (socket_) socket_->pause_reading();
  // The callback may destroy this Connector: it gets copies of the callback and outcome.
  Callback done = done_;
  ConnectOutcome outcome = outcome_;
  done(outcome);
}

}  // namespace t2s::socks5
