// One TCP connection inside lwIP, seen from the app's side: data received from the app,
// a bounded send buffer towards it, half-close and reset. Wraps lwIP's tcp_pcb and keeps its
// rules inside (the pcb is already freed when the error callback runs; abort inside a
// callback must be reported back to lwIP).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "net/address.h"

struct pbuf;
struct tcp_pcb;

namespace t2s::stack {

// Bytes received from the app, still owned by lwIP's buffer chain until destroyed. Receiving
// does not open the TCP window: call TcpConnection::acknowledge once the bytes are passed on.
class ReceivedData {
 public:
  ReceivedData() = default;
  explicit ReceivedData(pbuf* chain) : chain_(chain) {}
  ReceivedData(ReceivedData&& other) noexcept : chain_(other.chain_) { other.chain_ = nullptr; }
  ReceivedData& operator=(ReceivedData&& other) noexcept;
  ReceivedData(const ReceivedData&) = delete;
  ReceivedData& operator=(const ReceivedData&) = delete;
  ~ReceivedData();

  size_t size() const;
  // Fills `out` with views of the chain's consecutive parts; returns how many were written.
  // A chain longer than `out` reports only its first out.size() parts.
  size_t parts(std::span<std::span<const uint8_t>> out) const;
  size_t part_count() const;

 private:
  pbuf* chain_ = nullptr;
};

enum class TcpError { kReset, kAborted, kTimeout, kOther };
const char* to_string(TcpError error);

class TcpConnectionHandler {
 public:
  virtual void on_tcp_data(ReceivedData data) = 0;
  // The app shut down its sending side (FIN). No more data follows.
  virtual void on_tcp_fin() = 0;
  // The app acknowledged data: send space is free again.
  virtual void on_tcp_sent() = 0;
  // The connection is gone (reset by the app, or given up by lwIP). No further calls follow.
  virtual void on_tcp_error(TcpError error) = 0;

 protected:
  ~TcpConnectionHandler() = default;
};

class TcpConnection {
 public:
  explicit TcpConnection(tcp_pcb* pcb);
  // Resets the connection if it is still open and not closed gracefully.
  ~TcpConnection();
  TcpConnection(const TcpConnection&) = delete;
  TcpConnection& operator=(const TcpConnection&) = delete;

  void set_handler(TcpConnectionHandler* handler) { handler_ = handler; }

  const net::Endpoint& app() const { return app_; }                  // the app's address
  const net::Endpoint& destination() const { return destination_; }  // what the app dialled
  bool is_open() const { return pcb_ != nullptr; }

  // Bytes that write() will accept now.
  size_t send_space() const;
  // Copies as much of `data` as fits into the send buffer; returns the bytes taken.
  size_t write(std::span<const uint8_t> data);
  // Sends what write() queued. Call once per batch of writes.
  void flush();
  // Opens the receive window by `bytes` after received data has been passed on.
  void acknowledge(size_t bytes);
  // Sends FIN after the queued data; receiving continues.
  void shutdown_send();
  // Graceful close after both directions are done: lwIP finishes the FIN exchange alone.
  void close();
  // Sends RST and forgets the connection.
  void reset();

  // Brackets a call into the handler from one of lwIP's callbacks; end_callback() tells
  // whether the connection was reset meanwhile (lwIP must then be told ERR_ABRT).
  void begin_callback() {
    in_callback_ = true;
    reset_in_callback_ = false;
  }
  bool end_callback() {
    in_callback_ = false;
    return reset_in_callback_;
  }

 private:
  static int8_t on_recv(void* arg, tcp_pcb* pcb, pbuf* data, int8_t err);
  static int8_t on_sent(void* arg, tcp_pcb* pcb, uint16_t length);
  static void on_error(void* arg, int8_t err);
  void detach();

  tcp_pcb* pcb_;
  TcpConnectionHandler* handler_ = nullptr;
  net::Endpoint app_;
  net::Endpoint destination_;
  bool in_callback_ = false;
  bool reset_in_callback_ = false;
};

}  // namespace t2s::stack
