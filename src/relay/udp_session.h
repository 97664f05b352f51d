// One UDP flow: every datagram an app sends from one address and port, to any destination,
// travels through one SOCKS5 UDP association (a TCP control connection plus a UDP socket to the
// relay address the proxy names). Full-cone: whatever the proxy relays back for the flow, from
// any remote, is delivered to the app with that remote as its source.
#pragma once

#include <uv.h>

#include <array>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <vector>

#include "io/datagram_reader.h"
#include "io/datagram_writer.h"
#include "io/tcp_socket.h"
#include "net/address.h"
#include "relay/relay.h"
#include "socks5/connector.h"
#include "socks5/udp_codec.h"
#include "stack/stack.h"

namespace t2s::relay {

class Relay;

class UdpSession {
 public:
  // `first_destination`: where the flow's first datagram goes (shown by the live view).
  UdpSession(Relay& relay, const net::Endpoint& app, const net::Endpoint& first_destination);
  ~UdpSession();
  UdpSession(const UdpSession&) = delete;
  UdpSession& operator=(const UdpSession&) = delete;

  void start();
  // A datagram from the app to `destination`; `packet` is the whole IP packet it came in
  // (kept while the association is being set up, to answer with ICMP if that fails).
  // `buffer` holds the packet; the session keeps it while the datagram waits for the loop
  // turn's flush (an empty buffer: the datagram is sent at once).
  void send(const net::Endpoint& destination, std::span<const uint8_t> payload,
            std::span<const uint8_t> packet, stack::InboundPacket& buffer);
  // Sends the datagrams this loop turn gathered for the proxy (see Relay::schedule_flush).
  void flush_to_proxy();
  // Ends the flow (idle, evicted, or tunnel shutdown); the relay destroys it later.
  void close();
  // Fails the flow if the proxy has not answered its UDP ASSOCIATE within the connect timeout.
  void check_deadline(uint64_t now_ms);

  const net::Endpoint& app() const { return app_; }
  uint64_t last_activity_ms() const { return last_activity_ms_; }
  bool ended() const { return ended_; }
  // What the live view shows of this flow.
  ConnectionView view() const;

  // Position in the relay's least-recently-used list.
  std::list<UdpSession*>::iterator lru_position;

 private:
  struct Queued {
    net::Endpoint destination;
    std::vector<uint8_t> payload;
    std::vector<uint8_t> packet;
  };

  void on_associated(const socks5::ConnectOutcome& outcome);
  void fail(const socks5::ConnectOutcome& outcome);
  bool open_udp_socket(const net::Endpoint& relay_endpoint);
  // Adds a datagram to those waiting for flush_to_proxy; `buffer` keeps `payload`'s bytes.
  void transmit(const net::Endpoint& destination, std::span<const uint8_t> payload,
                stack::InboundPacket buffer);
  // Consecutive datagrams from the proxy for one remote, all of one payload size but the last,
  // which may be shorter: written to the app as one packet that the device cuts up.
  struct Run {
    net::Endpoint remote;
    std::array<std::span<const uint8_t>, io::kMaxDatagramBatch> payloads;
    size_t count = 0;
    size_t bytes = 0;
  };

  void receive(std::span<const io::DatagramReader::Datagram> batch);
  // The remote a datagram from the proxy comes from and its payload; false (counted) if it is
  // dropped.
  bool unwrap(std::span<const uint8_t> datagram, net::Endpoint& remote,
              std::span<const uint8_t>& payload);
  bool extend(Run& run, const net::Endpoint& remote, std::span<const uint8_t> payload) const;
  void deliver(const Run& run);
  void deliver_one(const net::Endpoint& remote, std::span<const uint8_t> payload);
  void touch();
  void end();

  static void on_control_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_proxy_batch(void* context, std::span<const io::DatagramReader::Datagram> batch);

  Relay& relay_;
  net::Endpoint app_;
  net::Endpoint first_destination_;
  uint64_t bytes_up_ = 0;  // payload bytes, for the live view
  uint64_t bytes_down_ = 0;
  std::unique_ptr<socks5::Connector> connector_;
  std::unique_ptr<io::TcpSocket> control_;      // the association lives as long as this does
  uv_udp_t* udp_ = nullptr;                     // freed in its close callback
  std::unique_ptr<io::DatagramReader> reader_;  // reads udp_; destroyed before udp_ closes
  std::vector<Queued> queue_;
  // A datagram for the proxy, waiting for the end of the loop turn.
  struct Outgoing {
    std::array<uint8_t, socks5::kMaxUdpHeaderSize> header;
    size_t header_size = 0;
    std::span<const uint8_t> payload;
    stack::InboundPacket buffer;  // holds payload's bytes (empty: they are the caller's)
  };
  std::vector<Outgoing> outgoing_;
  std::unique_ptr<io::DatagramWriter> writer_;  // writes udp_
  size_t queued_bytes_ = 0;
  uint64_t last_activity_ms_ = 0;
  uint64_t started_ms_ = 0;
  uint32_t next_packet_id_ = 0;
  // Fake-IP destinations this flow sent to (held in the pool while the flow lives), and the
  // last one: the proxy answers from the real address, which the app never saw.
  std::vector<net::IpAddress> held_fake_;
  std::optional<net::Endpoint> last_fake_destination_;
  bool ended_ = false;
};

}  // namespace t2s::relay
