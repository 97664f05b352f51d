// One relayed TCP connection: a SOCKS5 CONNECT stream on one side and, once the proxy has
// connected, the app's connection inside lwIP on the other. The app's SYN is answered only
// after the proxy succeeded (or refused with a reset when it failed), so the app sees what a
// direct connection would have shown. Backpressure both ways: the app's receive window opens
// only as the proxy socket accepts the bytes, and proxy reads pause while lwIP's send buffer
// is full. Half-close is carried both ways; a reset on either side resets the other.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "io/tcp_socket.h"
#include "relay/relay.h"
#include "socks5/connector.h"
#include "stack/stack.h"

namespace t2s::relay {

class Relay;

class TcpSession final : public stack::TcpConnectionHandler {
 public:
  // `destination` is what the proxy is asked for: the address the app dialled, or the name
  // behind it when that was a fake-IP pool address.
  TcpSession(Relay& relay, const stack::TcpRequest& request, socks5::Destination destination);
  ~TcpSession();
  TcpSession(const TcpSession&) = delete;
  TcpSession& operator=(const TcpSession&) = delete;

  void start();
  // The app completed the handshake that admit() allowed.
  void on_accepted(std::unique_ptr<stack::TcpConnection> app);
  // Called by the relay's sweep: ends the session if its connect or idle deadline passed.
  void check_deadline(uint64_t now_ms);
  // Resets both sides (shutdown of the whole tunnel).
  void abort();
  // Writes everything received from the app since the last flush to the proxy in one go;
  // the relay calls it once per loop turn for sessions that received data.
  void flush_to_proxy();
  // What the live view shows of this connection.
  ConnectionView view() const;

  // stack::TcpConnectionHandler
  void on_tcp_data(stack::ReceivedData data) override;
  void on_tcp_fin() override;
  void on_tcp_sent() override;
  void on_tcp_error(stack::TcpError error) override;

 private:
  void on_proxy_ready(const socks5::ConnectOutcome& outcome);
  void on_proxy_write_done(size_t bytes, int status);
  void maybe_shutdown_proxy();
  void start_proxy_reads();
  void on_proxy_read(ssize_t nread, const uv_buf_t* buf);
  void drain_pending_down();
  void maybe_finish();
  void end_with_reset(const char* why);
  void end();
  uint64_t now() const;

  static void alloc_callback(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void read_callback(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);

  Relay& relay_;
  stack::TcpRequest request_;
  socks5::Destination proxy_destination_;
  std::unique_ptr<socks5::Connector> connector_;  // while asking the proxy
  std::unique_ptr<io::TcpSocket> proxy_;          // once the proxy has connected
  std::unique_ptr<stack::TcpConnection> app_;     // once the app has completed its handshake
  uint64_t started_ms_ = 0;
  uint64_t last_activity_ms_ = 0;
  uint64_t bytes_up_ = 0;  // for the live view; the relay's counters sum all sessions
  uint64_t bytes_down_ = 0;

  // App -> proxy.
  std::vector<stack::ReceivedData> outgoing_;  // received this loop turn, not yet written
  size_t bytes_in_flight_ = 0;
  bool app_fin_ = false;
  bool proxy_shutdown_requested_ = false;

  // Proxy -> app: bytes read from the proxy that lwIP's send buffer could not take yet
  // (including any the proxy sent right after its reply, before the app was accepted).
  std::vector<uint8_t> pending_down_;
  size_t pending_down_offset_ = 0;
  bool reading_proxy_ = false;
  bool proxy_eof_ = false;
  bool app_fin_sent_ = false;

  bool ended_ = false;
};

}  // namespace t2s::relay
