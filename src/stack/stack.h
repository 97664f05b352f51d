// The userspace TCP/IP stack: owns lwIP (one instance per process, on one thread), takes raw
// IP packets from the TUN device, hands accepted TCP connections to a TcpAcceptor, and emits
// outbound packets through a PacketSink. No lwIP type appears in this header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "net/address.h"
#include "stack/tcp_connection.h"

struct pbuf;

namespace t2s::stack {

// A connection attempt (SYN) from an app. The stack holds the SYN unanswered until the
// acceptor decides, so the app sees exactly what the proxy saw: a handshake only once the proxy
// has connected, a reset (connection refused) when it could not.
struct TcpRequest {
  uint64_t id = 0;
  net::Endpoint app;          // the app's address
  net::Endpoint destination;  // what the app dialled
};

class TcpAcceptor {
 public:
  // Answer later with Stack::admit or Stack::refuse. Retransmitted SYNs wait meanwhile.
  virtual void on_tcp_request(const TcpRequest& request) = 0;
  // An admitted request finished its handshake. The acceptor takes ownership by moving from
  // `connection` and returns true; returning false (request unknown by now) resets it. If the
  // app gives up before the handshake completes, no call comes (the acceptor's own timeout
  // covers that).
  virtual bool on_tcp_accept(uint64_t request_id, std::unique_ptr<TcpConnection>& connection) = 0;

 protected:
  ~TcpAcceptor() = default;
};

class InboundPacket;

// Receives the UDP packets that enter the device, whole (fragments already reassembled).
// `checksum_trusted`: see Stack::input. `buffer` holds `packet`'s bytes; a receiver that moves
// it away may use them until it lets go of it. Empty when the bytes are a temporary copy (a
// reassembled packet), valid during the call only.
class UdpReceiver {
 public:
  virtual void on_udp_packet(std::span<const uint8_t> packet, bool checksum_trusted,
                             InboundPacket& buffer) = 0;

 protected:
  ~UdpReceiver() = default;
};

enum class IcmpEcho { kReply, kDrop };

struct StackOptions {
  IcmpEcho icmp_echo = IcmpEcho::kReply;  // answer pings to any address locally, or drop them
  int mtu = 8500;
  net::Cidr ipv4;                 // the device's IPv4 address; lwIP's netif uses it for routing
  std::optional<net::Cidr> ipv6;  // likewise for IPv6
};

struct StackCounters {
  uint64_t packets_in = 0;
  uint64_t packets_out = 0;
  uint64_t packets_out_dropped = 0;         // the device refused a write (full or error)
  uint64_t packets_malformed = 0;           // bad lengths, versions or header checksums
  uint64_t packets_checksum_offloaded = 0;  // TCP/UDP checksums the device vouched for
  uint64_t packets_out_segmented = 0;       // of packets_out: UDP datagrams the device cut up
  uint64_t packets_not_handled = 0;         // protocols the tunnel does not relay (dropped)
  uint64_t syns_refused = 0;                // no room for another undecided connection attempt
  uint64_t icmp_echo_replies = 0;           // pings answered locally
  uint64_t icmp_dropped = 0;                // other ICMP, or echo requests with --icmp drop
};

// Writes one outbound packet given as consecutive parts. Returns false if it was dropped.
using PacketSink = std::function<bool(std::span<const std::span<const uint8_t>> parts)>;

// Writes several UDP datagrams of one flow as one packet that the device cuts up (see
// Stack::send_udp_segments): the parts start with `headers_size` bytes of IP and UDP headers.
enum class SegmentWrite { kWritten, kDropped, kUnsupported };
using SegmentSink = std::function<SegmentWrite(std::span<const std::span<const uint8_t>> parts,
                                               uint16_t headers_size, uint16_t segment_size)>;

// A buffer for one inbound packet, filled by the caller (e.g. read from the TUN device).
class InboundPacket {
 public:
  InboundPacket() = default;
  explicit InboundPacket(pbuf* buffer) : buffer_(buffer) {}
  InboundPacket(InboundPacket&& other) noexcept : buffer_(other.buffer_) {
    other.buffer_ = nullptr;
  }
  InboundPacket& operator=(InboundPacket&& other) noexcept;
  ~InboundPacket();

  bool empty() const { return buffer_ == nullptr; }
  std::span<uint8_t> writable();
  pbuf* release() {
    pbuf* buffer = buffer_;
    buffer_ = nullptr;
    return buffer;
  }

 private:
  pbuf* buffer_ = nullptr;
};

class Stack {
 public:
  // lwIP keeps global state, so at most one Stack exists at a time.
  static std::unique_ptr<Stack> create(const StackOptions& options, PacketSink sink,
                                       TcpAcceptor& acceptor, UdpReceiver& udp, std::string& error);
  ~Stack();
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  // A buffer large enough for one packet of the configured MTU.
  InboundPacket allocate_packet();
  // Processes the first `length` bytes of `packet` as one IPv4 or IPv6 packet. A packet much
  // smaller than its buffer is copied out, and `packet` stays usable for the next read, so
  // queued data never pins MTU-sized buffers; otherwise the buffer is consumed. A small whole
  // UDP packet is lent to the UdpReceiver instead, which may keep `packet` until it has sent
  // the datagram on (within the loop turn). A consumed or kept `packet` comes back empty.
  // `checksum_trusted`: the device vouched for the TCP/UDP checksum, which is then not checked
  // (it may hold only a partial sum; see platform::ReadResult).
  void input(InboundPacket& packet, size_t length, bool checksum_trusted = false);
  // Answers a held SYN: lwIP completes the handshake, then on_tcp_accept follows.
  void admit(uint64_t request_id);
  // Answers a held SYN with a reset, so the app's connect() fails at once.
  void refuse(uint64_t request_id);

  // Writes a packet built outside lwIP (UDP replies, ICMP errors) into the device.
  void send_packet(std::span<const uint8_t> packet);
  // The same for a packet given as consecutive parts (headers, then a payload left where it
  // was received), written with one gather write and no copy.
  void send_packet_parts(std::span<const std::span<const uint8_t>> parts);
  // Where the device can cut packets up: the sink for send_udp_segments (none by default).
  void set_segment_sink(SegmentSink sink);
  // Writes `count` UDP datagrams of one flow as one packet: headers from
  // net::write_udp_segment_headers (`headers_size` bytes, the first part), then the payloads,
  // every one `segment_size` bytes but the last, which may be shorter but not empty. False, with
  // nothing written or counted, when the device cannot: the caller sends them one by one.
  bool send_udp_segments(std::span<const std::span<const uint8_t>> parts, uint16_t headers_size,
                         uint16_t segment_size, size_t count);
  int mtu() const;

  // Runs lwIP's timers (retransmission, delayed ACK, TIME-WAIT, reassembly); call every
  // kTimerIntervalMs.
  void check_timeouts();
  static constexpr uint64_t kTimerIntervalMs = 250;
  // Connections kept in TIME-WAIT at most (checked at every SYN and every timer tick).
  static constexpr size_t kMaxTimeWaitPcbs = 64;

  const StackCounters& counters() const;

 private:
  struct State;
  explicit Stack(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace t2s::stack
