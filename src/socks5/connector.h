// The asynchronous SOCKS5 client: connects to the proxy, negotiates a method, authenticates
// with username/password when asked, sends one request and reads the reply, on a libuv loop.
// On success the connected socket is handed over, with any bytes the server sent after its
// reply (server-first protocols such as SSH may have sent a banner already).
#pragma once

#include <uv.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/tcp_socket.h"
#include "socks5/codec.h"

namespace t2s::socks5 {

struct ProxyConfig {
  sockaddr_storage address{};  // the proxy server, already resolved
  std::optional<Credentials> credentials;
  std::string display_name;  // for logs; never contains the password
  // Runs on every new socket to the proxy (TCP and UDP) before it connects; returns an empty
  // string or why the socket cannot be used (e.g. marking it failed).
  std::function<std::string(uv_os_sock_t socket)> prepare_socket;

  // Runs prepare_socket, if set, on the socket of `handle` (a TCP or UDP handle that has one).
  std::string prepare(const uv_handle_t* handle) const;
  // A new socket, prepared and connecting to the proxy (io::TcpSocket::start_connect), with
  // TCP_NODELAY; or nullptr, with why in `problem`.
  std::unique_ptr<io::TcpSocket> start_connection(uv_loop_t* loop, std::string& problem) const;
};

enum class ConnectStatus {
  kOk,
  kProxyUnreachable,    // TCP connection to the proxy failed or was cut during the handshake
  kNoAcceptableMethod,  // the proxy wants an authentication method we did not offer
  kAuthFailed,          // username/password rejected
  kRequestRejected,     // reply code != 0 (see reply_code)
  kProtocolError,       // malformed or unexpected bytes from the proxy
};

struct ConnectOutcome {
  ConnectStatus status = ConnectStatus::kOk;
  uint8_t reply_code = 0;
  std::string detail;    // human-readable reason for any failure
  Destination bound;     // BND.ADDR/BND.PORT on success
  bool greeted = false;  // the proxy answered the greeting (picked a method)
};

// A connection to the proxy opened ahead of need (see SpareConnections): connected, and with
// `greeted` also past the method selection (and authentication).
struct OpenConnection {
  std::unique_ptr<io::TcpSocket> socket;
  bool greeted = false;
};

class Connector {
 public:
  using Callback = std::function<void(const ConnectOutcome&)>;

  // Starts at once; `done` runs exactly once, later on the loop, unless the Connector is
  // destroyed first (which cancels everything). `pipelined`: send the request right behind the
  // greeting, without waiting for the method reply (only without credentials; see
  // pipelining.h for when a proxy allows it). With `spare`, the handshake runs on that
  // connection: only the request if it is greeted, else the greeting as usual. If it turns out
  // closed before any answer (a proxy may drop connections that sit idle), the Connector starts
  // over on a new one: nothing was relayed yet, so nothing is lost.
  Connector(uv_loop_t* loop, const ProxyConfig& proxy, Command command,
            const Destination& destination, Callback done, bool pipelined = false,
            OpenConnection spare = {});
  // Greeting only: method selection and, when asked, authentication. A kOk outcome leaves a
  // socket that waits for a request (see SpareConnections).
  Connector(uv_loop_t* loop, const ProxyConfig& proxy, Callback done);
  ~Connector();
  Connector(const Connector&) = delete;
  Connector& operator=(const Connector&) = delete;

  // After a kOk outcome: the connected socket (reading stopped) and early data.
  std::unique_ptr<io::TcpSocket> take_socket();
  std::vector<uint8_t> take_early_data() { return std::move(early_data_); }

 private:
  enum class Phase { kMethod, kAuth, kReply, kDone };

  void start();
  // Sends the greeting (and a pipelined request) on socket_ and reads the answer.
  void greet();
  void start_on_spare(OpenConnection spare);
  // The connection failed or closed before the handshake ended.
  void connection_lost(std::string detail);
  // Method selected (and authenticated, if asked): sends the request, or ends a greeting-only
  // handshake. False when the Connector is finished (it may be destroyed then).
  bool greeted(size_t consumed);
  void on_read(ssize_t nread, const uv_buf_t* buf);
  void process();
  // False if the write could not even be queued (a failure is then reported later).
  bool send(std::vector<uint8_t> bytes);
  std::string failure_text(const char* once_connected, int code) const;
  void send_request();
  void set_receive_low_water(int bytes);
  void finish(ConnectStatus status, std::string detail, uint8_t reply_code = 0);
  // Reports a failure on a later loop turn: `done` may destroy this Connector, so it must not
  // run inside a call chain that goes on afterwards.
  void fail_later(std::string detail, ConnectStatus status = ConnectStatus::kProxyUnreachable);
  // connection_lost on a later loop turn, unless the connection's loss is reported first.
  void lose_later(std::string detail);
  void start_deferred();

  static void read_callback(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void alloc_callback(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);

  uv_loop_t* loop_;
  const ProxyConfig& proxy_;
  Callback done_;
  std::vector<uint8_t> request_;  // encoded once; empty for a greeting-only Connector
  std::unique_ptr<io::TcpSocket> socket_;
  Phase phase_ = Phase::kMethod;
  bool connected_ = false;  // a write completed or bytes arrived: the connection is up
  bool pipelined_;
  bool on_spare_ = false;          // the handshake runs on a connection opened ahead of time
  bool low_water_raised_ = false;  // SO_RCVLOWAT is above 1 on the socket
  // Large enough for the longest reply (4 + 1 + 255 + 2 bytes) plus early data in one read.
  std::array<uint8_t, 2048> buffer_{};
  size_t buffered_ = 0;
  std::vector<uint8_t> early_data_;
  ConnectOutcome outcome_;
  uv_timer_t* deferred_ = nullptr;  // freed in its close callback
  bool lose_deferred_ = false;      // deferred_ is to call connection_lost, not finish
};

}  // namespace t2s::socks5
