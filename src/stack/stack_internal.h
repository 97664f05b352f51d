// Shared between the stack's own files (never included outside stack/): lwIP state of the one
// running Stack, reached by lwIP's C hooks, and conversions between lwIP and net:: addresses.
#pragma once

#include <unordered_map>
#include <vector>

#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/tcp.h"
#include "net/address.h"
#include "stack/stack.h"

namespace t2s::stack::internal {

struct FlowKey {
  net::Endpoint app;
  net::Endpoint destination;
  friend bool operator==(const FlowKey&, const FlowKey&) = default;
};

struct FlowKeyHash {
  size_t operator()(const FlowKey& key) const;
};

// A SYN waiting for the acceptor's decision: the whole IP packet, kept for tcp_input later.
struct HeldSyn {
  pbuf* packet = nullptr;
  uint16_t header_length = 0;
  bool is_v6 = false;
  uint32_t sequence = 0;  // the app's initial sequence number, for a refusing RST
  FlowKey key;
  bool checksum_trusted = false;
};

struct LwipState {
  netif interface {};
  tcp_pcb* listener = nullptr;
  PacketSink sink;
  SegmentSink segment_sink;  // empty where the device cannot cut packets up
  TcpAcceptor* acceptor = nullptr;
  UdpReceiver* udp = nullptr;
  IcmpEcho icmp_echo = IcmpEcho::kReply;
  bool checksum_trusted = false;  // for the packet being input (see Stack::input)
  // The caller's buffer while a packet input from it is lent to lwIP (see Stack::input).
  InboundPacket* lent_from = nullptr;
  StackCounters counters;
  std::vector<uint8_t> scratch;  // flattens chained (reassembled) packets for UDP and ICMP
  uint64_t next_request_id = 1;
  std::unordered_map<uint64_t, HeldSyn> held_syns;
  std::unordered_map<FlowKey, uint64_t, FlowKeyHash> held_by_flow;
};

// Bound on undecided connection attempts: a SYN flood cannot grow memory past this.
inline constexpr size_t kMaxHeldSyns = 16384;

// Runs tcp_input for a validated IP packet whose TCP segment follows `header_length` bytes.
// `request_id` tags the connection a held SYN opens, so the accept can be matched to it.
// lwIP skips the TCP checksum when `checksum_trusted`.
void input_tcp(LwipState& state, pbuf* packet, uint16_t header_length, bool is_v6,
               uint64_t request_id, bool checksum_trusted);
// Writes a packet given as one buffer to the sink, counting it.
void emit_flat(LwipState& state, std::span<const uint8_t> packet);
void emit_parts(LwipState& state, std::span<const std::span<const uint8_t>> parts);
// Cuts the TIME-WAIT list back to Stack::kMaxTimeWaitPcbs; the oldest go, without sending
// anything.
void bound_time_wait();
// Frees every held SYN (at stack shutdown).
void drop_held_syns(LwipState& state);

// The running stack's state, or nullptr when none runs.
LwipState* current();
void set_current(LwipState* state);

net::IpAddress to_ip_address(const ip_addr_t& address);
ip_addr_t to_lwip_address(const net::IpAddress& address);

}  // namespace t2s::stack::internal
