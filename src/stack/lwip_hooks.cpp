// lwIP's input hooks: they take every TCP segment from the TUN device, whatever its
// destination address and port, into tcp_input, where one listening pcb bound to the
// any-address accepts it. A SYN that would open a new connection is held back until the relay
// has asked the proxy (see TcpAcceptor). UDP goes to the relay whole (after reassembly), ICMP
// echo requests are answered here, and everything else is dropped and counted.
#include <cstring>
#include <functional>
#include <random>

#include "lwip/inet_chksum.h"
#include "lwip/ip.h"
#include "lwip/ip4_frag.h"
#include "lwip/ip6_frag.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/ip4.h"
#include "lwip/prot/ip6.h"
#include "lwip/prot/tcp.h"
#include "lwip/sys.h"
#include "net/packet.h"
#include "stack/stack_internal.h"
#include "t2s_lwip_hooks.h"

namespace t2s::stack::internal {

size_t FlowKeyHash::operator()(const FlowKey& key) const {
  net::EndpointHash hash;
  return hash(key.app) * 31 + hash(key.destination);
}

namespace {

constexpr uint8_t kProtocolTcp = 6;

void drop_malformed(LwipState& state, pbuf* packet) {
  ++state.counters.packets_malformed;
  pbuf_free(packet);
}

void clear_ip_data() {
  ip_data.current_netif = nullptr;
  ip_data.current_input_netif = nullptr;
  ip_data.current_ip4_header = nullptr;
  ip_data.current_ip6_header = nullptr;
  ip_data.current_ip_header_tot_len = 0;
  ip_addr_set_zero(&ip_data.current_iphdr_src);
  ip_addr_set_zero(&ip_data.current_iphdr_dest);
}

// The fields of a TCP header the hook needs before lwIP sees the segment.
struct TcpPeek {
  uint16_t source_port = 0;
  uint16_t destination_port = 0;
  uint32_t sequence = 0;
  uint8_t flags = 0;
};

bool peek_tcp(const pbuf* packet, uint16_t offset, TcpPeek& peek) {
  uint8_t header[14];
  if (pbuf_copy_partial(packet, header, sizeof header, offset) != sizeof header) return false;
  peek.source_port = static_cast<uint16_t>(header[0] << 8 | header[1]);
  peek.destination_port = static_cast<uint16_t>(header[2] << 8 | header[3]);
  peek.sequence =
      uint32_t{header[4]} << 24 | uint32_t{header[5]} << 16 | uint32_t{header[6]} << 8 | header[7];
  peek.flags = header[13];
  return true;
}

FlowKey flow_key(const ip_addr_t& source, const ip_addr_t& destination, const TcpPeek& peek) {
  return {{to_ip_address(source), peek.source_port},
          {to_ip_address(destination), peek.destination_port}};
}

bool matches(const tcp_pcb* pcb, const ip_addr_t& source, const ip_addr_t& destination,
             const TcpPeek& peek) {
  return pcb->remote_port == peek.source_port && pcb->local_port == peek.destination_port &&
         ip_addr_cmp(&pcb->remote_ip, &source) && ip_addr_cmp(&pcb->local_ip, &destination);
}

tcp_pcb* find_pcb(tcp_pcb* list, const ip_addr_t& source, const ip_addr_t& destination,
                  const TcpPeek& peek) {
  for (tcp_pcb* pcb = list; pcb != nullptr; pcb = pcb->next) {
    if (matches(pcb, source, destination, peek)) return pcb;
  }
  return nullptr;
}

// Frees the TIME-WAIT pcbs after `last_kept`, each in constant time: tcp_abort would search
// the whole list for every one of them.
void drop_time_wait_after(tcp_pcb* last_kept) {
  tcp_pcb* dropped = last_kept->next;
  last_kept->next = nullptr;
  while (dropped != nullptr) {
    tcp_pcb* pcb = dropped;
    // What tcp_abort does to a TIME-WAIT pcb, with the pcb at the head of its (detached) list.
    tcp_pcb_remove(&dropped, pcb);
    tcp_free(pcb);
  }
}

// Walks the TIME-WAIT list (newest first), cuts it back to Stack::kMaxTimeWaitPcbs on the way,
// and returns the first kept pcb `wanted` accepts, if any (a match among the dropped pcbs is
// gone with them).
template <typename Wanted>
tcp_pcb* walk_bounded_time_wait(Wanted wanted) {
  tcp_pcb* found = nullptr;
  size_t count = 0;
  for (tcp_pcb* pcb = tcp_tw_pcbs; pcb != nullptr; pcb = pcb->next) {
    if (found == nullptr && wanted(*pcb)) found = pcb;
    if (++count == Stack::kMaxTimeWaitPcbs) {
      drop_time_wait_after(pcb);
      break;
    }
  }
  return found;
}

void source_and_destination(const pbuf* packet, bool is_v6, ip_addr_t& source,
                            ip_addr_t& destination) {
  if (is_v6) {
    const auto* header = static_cast<const ip6_hdr*>(packet->payload);
    ip_addr_copy_from_ip6_packed(source, header->src);
    ip_addr_copy_from_ip6_packed(destination, header->dest);
  } else {
    const auto* header = static_cast<const ip_hdr*>(packet->payload);
    ip_addr_copy_from_ip4(source, header->src);
    ip_addr_copy_from_ip4(destination, header->dest);
  }
}

// Header length and checksum of the TCP segment following `header_length` bytes of IP header.
bool valid_tcp_segment(pbuf* packet, uint16_t header_length, const ip_addr_t& source,
                       const ip_addr_t& destination, bool checksum_trusted) {
  if (packet->tot_len < header_length + TCP_HLEN) return false;
  auto segment_length = static_cast<uint16_t>(packet->tot_len - header_length);
  uint8_t offset_byte = 0;
  pbuf_copy_partial(packet, &offset_byte, 1, static_cast<u16_t>(header_length + 12));
  size_t tcp_header_length = static_cast<size_t>(offset_byte >> 4) * 4;
  if (tcp_header_length < TCP_HLEN || tcp_header_length > segment_length) return false;
#if CHECKSUM_CHECK_TCP
  if (checksum_trusted) return true;
  pbuf_remove_header(packet, header_length);
  u16_t sum = ip_chksum_pseudo(packet, IP_PROTO_TCP, segment_length, &source, &destination);
  pbuf_add_header_force(packet, header_length);
  if (sum != 0) return false;
#endif
  return true;
}

// Either passes the segment to lwIP or, for a SYN opening a flow lwIP does not know, holds
// it and asks the acceptor.
void dispatch_tcp(LwipState& state, pbuf* packet, uint16_t header_length, bool is_v6) {
  TcpPeek peek;
  if (!peek_tcp(packet, header_length, peek)) {
    drop_malformed(state, packet);
    return;
  }
  constexpr uint8_t kControlFlags = TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN;
  if ((peek.flags & kControlFlags) != TCP_SYN) {
    input_tcp(state, packet, header_length, is_v6, 0, state.checksum_trusted);
    return;
  }
  ip_addr_t source;
  ip_addr_t destination;
  source_and_destination(packet, is_v6, source, destination);
  if (find_pcb(tcp_active_pcbs, source, destination, peek) != nullptr) {
    input_tcp(state, packet, header_length, is_v6, 0, state.checksum_trusted);
    return;
  }
  // A new connection on the ports of one in TIME-WAIT (our side closed first): lwIP would
  // answer with an ACK or RST and stall the app for seconds; let it in, as Linux does.
  // The walk also keeps the TIME-WAIT bound between timer ticks: at hundreds of connections
  // per second the list would otherwise grow, and both this walk and lwIP's own one grow with it.
  if (tcp_pcb* old = walk_bounded_time_wait(
          [&](const tcp_pcb& pcb) { return matches(&pcb, source, destination, peek); })) {
    tcp_abort(old);
  }
  // lwIP would validate the segment only once admitted: check it now, so a corrupt SYN never
  // costs a proxy connection.
  if (!valid_tcp_segment(packet, header_length, source, destination, state.checksum_trusted)) {
    drop_malformed(state, packet);
    return;
  }
  FlowKey key = flow_key(source, destination, peek);
  if (state.held_by_flow.contains(key)) {  // a retransmitted SYN while the proxy is asked
    pbuf_free(packet);
    return;
  }
  if (state.held_syns.size() >= kMaxHeldSyns) {
    ++state.counters.syns_refused;
    pbuf_free(packet);
    return;
  }
  uint64_t id = state.next_request_id++;
  state.held_syns.emplace(
      id, HeldSyn{packet, header_length, is_v6, peek.sequence, key, state.checksum_trusted});
  state.held_by_flow.emplace(key, id);
  state.acceptor->on_tcp_request({id, key.app, key.destination});
}

// A contiguous view of a whole packet: the pbuf itself when it is one piece, else a copy.
std::span<const uint8_t> flatten(LwipState& state, const pbuf* packet) {
  if (packet->next == nullptr) return {static_cast<const uint8_t*>(packet->payload), packet->len};
  state.scratch.resize(packet->tot_len);
  pbuf_copy_partial(packet, state.scratch.data(), packet->tot_len, 0);
  return state.scratch;
}

void deliver_udp(LwipState& state, pbuf* packet) {
  const std::span<const uint8_t> view = flatten(state, packet);
  if (packet->next != nullptr) {
    InboundPacket none;  // the view is a copy in scratch, valid during the call only
    state.udp->on_udp_packet(view, state.checksum_trusted, none);
  } else if (packet->type_internal == PBUF_REF && state.lent_from != nullptr) {
    // Lent from the caller's read buffer: the receiver may keep that buffer, and the caller
    // then reads the next packet into a new one.
    state.udp->on_udp_packet(view, state.checksum_trusted, *state.lent_from);
  } else {
    // One piece of its own: the receiver may keep it.
    InboundPacket buffer(packet);
    state.udp->on_udp_packet(view, state.checksum_trusted, buffer);
    return;
  }
  pbuf_free(packet);
}

void answer_icmp(LwipState& state, pbuf* packet) {
  std::span<const uint8_t> view = flatten(state, packet);
  if (state.icmp_echo == IcmpEcho::kReply &&
      net::classify_icmp(view) == net::IcmpKind::kEchoRequest) {
    std::vector<uint8_t> reply(view.begin(), view.end());
    if (net::make_echo_reply(reply)) {
      ++state.counters.icmp_echo_replies;
      emit_flat(state, reply);
      pbuf_free(packet);
      return;
    }
  }
  ++state.counters.icmp_dropped;
  pbuf_free(packet);
}

constexpr uint8_t kProtocolUdp = 17;
constexpr uint8_t kProtocolIcmp = 1;
constexpr uint8_t kProtocolIcmpV6 = 58;

int take_ipv4(LwipState& state, pbuf* packet) {
  if (packet->len < IP_HLEN) {
    drop_malformed(state, packet);
    return 1;
  }
  auto* header = static_cast<ip_hdr*>(packet->payload);
  uint16_t header_length = IPH_HL_BYTES(header);
  uint16_t total_length = lwip_ntohs(IPH_LEN(header));
  if (header_length < IP_HLEN || header_length > packet->len || total_length < header_length ||
      total_length > packet->tot_len) {
    drop_malformed(state, packet);
    return 1;
  }
  uint8_t protocol = IPH_PROTO(header);
  if (protocol != kProtocolTcp && protocol != kProtocolUdp && protocol != kProtocolIcmp) {
    ++state.counters.packets_not_handled;
    pbuf_free(packet);
    return 1;
  }
  if (total_length < packet->tot_len) pbuf_realloc(packet, total_length);
#if CHECKSUM_CHECK_IP
  if (inet_chksum(header, header_length) != 0) {
    drop_malformed(state, packet);
    return 1;
  }
#endif
  if ((IPH_OFFSET(header) & PP_HTONS(IP_OFFMASK | IP_MF)) != 0) {
    packet = ip4_reass(packet);  // takes the fragment; returns the whole datagram once complete
    if (packet == nullptr) return 1;
    header = static_cast<ip_hdr*>(packet->payload);
    header_length = IPH_HL_BYTES(header);
  }
  ip4_addr_t destination;
  ip4_addr_copy(destination, header->dest);
  if (ip4_addr_ismulticast(&destination) || ip4_addr_isbroadcast(&destination, &state.interface)) {
    ++state.counters.packets_not_handled;
    pbuf_free(packet);
    return 1;
  }
  if (protocol == kProtocolUdp) {
    deliver_udp(state, packet);
  } else if (protocol == kProtocolIcmp) {
    answer_icmp(state, packet);
  } else {
    dispatch_tcp(state, packet, header_length, false);
  }
  return 1;
}

// Hands an IPv6 fragment (its header found at `offset`) to lwIP's reassembly; returns the
// whole packet once complete, else nullptr.
pbuf* reassemble_ipv6(LwipState& state, pbuf* packet, uint16_t offset) {
  if (offset + 8u > packet->len) {
    drop_malformed(state, packet);
    return nullptr;
  }
  auto* header = static_cast<ip6_hdr*>(packet->payload);
  const auto* fragment = static_cast<const uint8_t*>(packet->payload) + offset;
  bool more_fragments = (fragment[3] & 1) != 0;
  if (more_fragments && (IP6H_PLEN(header) & 7) != 0) {
    drop_malformed(state, packet);
    return nullptr;
  }
  // lwIP keeps each fragment's link to the next in a packed helper that overlaps the fragment
  // header and the `borrow` bytes before it (IPV6_FRAG_COPYHEADER). Our buffers start 8-byte
  // aligned, so that pointer would sit 4 bytes off alignment, where LeakSanitizer does not see
  // it: fragments waiting for the rest looked leaked. Fragments are rare; such a one is copied
  // so that the pointer is aligned.
  constexpr size_t kBorrow = sizeof(pbuf*) + 2 * sizeof(u16_t) - 8;
  auto helper_address = reinterpret_cast<uintptr_t>(packet->payload) + offset - kBorrow;
  if (kBorrow != 0 && helper_address % alignof(pbuf*) != 0) {
    size_t shift = alignof(pbuf*) - helper_address % alignof(pbuf*);
    pbuf* copy = pbuf_alloc(PBUF_RAW, static_cast<u16_t>(packet->tot_len + shift), PBUF_RAM);
    if (copy == nullptr) {
      pbuf_free(packet);  // out of memory: like a fragment lost on the wire
      return nullptr;
    }
    pbuf_remove_header(copy, shift);
    pbuf_copy(copy, packet);
    pbuf_free(packet);
    packet = copy;
    header = static_cast<ip6_hdr*>(packet->payload);
  }
  ip_data.current_netif = &state.interface;
  ip_data.current_input_netif = &state.interface;
  ip_data.current_ip6_header = header;
  ip_data.current_ip_header_tot_len = static_cast<u16_t>(offset + 8);
  ip_addr_copy_from_ip6_packed(ip_data.current_iphdr_src, header->src);
  ip_addr_copy_from_ip6_packed(ip_data.current_iphdr_dest, header->dest);
  pbuf_remove_header(packet, offset);
  pbuf* whole = ip6_reass(packet);
  clear_ip_data();
  if (whole != nullptr) {
    // lwIP 2.1.3 on 64-bit hosts (IPV6_FRAG_COPYHEADER with IPV6_FRAG_REQROOM > 0) sets the
    // reassembled payload length 8 bytes short; the chain itself is complete, so take it.
    IP6H_PLEN_SET(static_cast<ip6_hdr*>(whole->payload),
                  static_cast<u16_t>(whole->tot_len - IP6_HLEN));
  }
  return whole;
}

int take_ipv6(LwipState& state, pbuf* packet) {
  for (int round = 0; round < 2; ++round) {  // a second round after reassembly
    if (packet->len < IP6_HLEN) {
      drop_malformed(state, packet);
      return 1;
    }
    auto* header = static_cast<ip6_hdr*>(packet->payload);
    size_t total_length = IP6_HLEN + size_t{IP6H_PLEN(header)};
    if (total_length > packet->tot_len) {
      drop_malformed(state, packet);
      return 1;
    }
    if (total_length < packet->tot_len) pbuf_realloc(packet, static_cast<u16_t>(total_length));
    ip6_addr_t destination;
    ip6_addr_copy_from_packed(destination, header->dest);
    if (ip6_addr_ismulticast(&destination)) {  // router solicitations, MLD reports...
      ++state.counters.packets_not_handled;
      pbuf_free(packet);
      return 1;
    }
    // Walk the extension headers to the upper-layer protocol.
    uint8_t next = IP6H_NEXTH(header);
    size_t offset = IP6_HLEN;
    while (next == IP6_NEXTH_HOPBYHOP || next == IP6_NEXTH_ROUTING || next == IP6_NEXTH_DESTOPTS) {
      uint8_t extension[2];
      if (pbuf_copy_partial(packet, extension, 2, static_cast<u16_t>(offset)) != 2) {
        drop_malformed(state, packet);
        return 1;
      }
      next = extension[0];
      offset += 8 * (size_t{extension[1]} + 1);
      if (offset > total_length) {
        drop_malformed(state, packet);
        return 1;
      }
    }
    if (next == IP6_NEXTH_FRAGMENT) {
      if (round == 1) {  // a fragment inside a reassembled packet
        drop_malformed(state, packet);
        return 1;
      }
      packet = reassemble_ipv6(state, packet, static_cast<uint16_t>(offset));
      if (packet == nullptr) return 1;
      continue;
    }
    if (next == kProtocolTcp) {
      dispatch_tcp(state, packet, static_cast<uint16_t>(offset), true);
    } else if (next == kProtocolUdp) {
      deliver_udp(state, packet);
    } else if (next == kProtocolIcmpV6) {
      answer_icmp(state, packet);
    } else {
      ++state.counters.packets_not_handled;
      pbuf_free(packet);
    }
    return 1;
  }
  return 1;
}

std::mt19937_64& random_engine() {
  static std::mt19937_64 engine{std::random_device{}()};
  return engine;
}

}  // namespace

void input_tcp(LwipState& state, pbuf* packet, uint16_t header_length, bool is_v6,
               uint64_t request_id, bool checksum_trusted) {
  netif* input = &state.interface;
  ip_data.current_netif = input;
  ip_data.current_input_netif = input;
  if (is_v6) {
    ip_data.current_ip6_header = static_cast<ip6_hdr*>(packet->payload);
  } else {
    ip_data.current_ip4_header = static_cast<const ip_hdr*>(packet->payload);
  }
  ip_data.current_ip_header_tot_len = header_length;
  source_and_destination(packet, is_v6, ip_data.current_iphdr_src, ip_data.current_iphdr_dest);
  TcpPeek peek;
  if (pbuf_remove_header(packet, header_length) != 0 || !peek_tcp(packet, 0, peek)) {
    clear_ip_data();
    drop_malformed(state, packet);
    return;
  }
  // The listener stands for every port; a new pcb inherits its port and its callback arg,
  // which carries the request id to the accept callback (stack.cpp).
  state.listener->local_port = peek.destination_port;
  state.listener->callback_arg = reinterpret_cast<void*>(static_cast<uintptr_t>(request_id));
  // lwIP checks checksums per interface; this packet's trust decides for this one call.
  NETIF_SET_CHECKSUM_CTRL(input, checksum_trusted
                                     ? NETIF_CHECKSUM_ENABLE_ALL & ~NETIF_CHECKSUM_CHECK_TCP
                                     : NETIF_CHECKSUM_ENABLE_ALL);
  tcp_input(packet, input);
  NETIF_SET_CHECKSUM_CTRL(input, NETIF_CHECKSUM_ENABLE_ALL);
  state.listener->callback_arg = nullptr;
  clear_ip_data();
}

void bound_time_wait() {
  walk_bounded_time_wait([](const tcp_pcb&) { return false; });
}

void drop_held_syns(LwipState& state) {
  for (auto& entry : state.held_syns) pbuf_free(entry.second.packet);
  state.held_syns.clear();
  state.held_by_flow.clear();
}

}  // namespace t2s::stack::internal

using t2s::stack::internal::current;

extern "C" int t2s_ip4_input_hook(pbuf* p, netif*) {
  auto* state = current();
  return state == nullptr ? 0 : t2s::stack::internal::take_ipv4(*state, p);
}

extern "C" int t2s_ip6_input_hook(pbuf* p, netif*) {
  auto* state = current();
  return state == nullptr ? 0 : t2s::stack::internal::take_ipv6(*state, p);
}

// RFC 6528: a secret-keyed hash of the connection's addresses plus a clock, so sequence
// numbers are neither shared between connections nor predictable.
extern "C" u32_t t2s_tcp_isn(const ip_addr_t* local_ip, u16_t local_port,
                             const ip_addr_t* remote_ip, u16_t remote_port) {
  static const uint64_t secret = t2s::stack::internal::random_engine()();
  uint64_t hash = secret ^ (uint64_t{local_port} << 16 | remote_port);
  auto mix = [&hash](const ip_addr_t* address) {
    const bool is_v6 = IP_IS_V6(address);
    const auto* bytes = is_v6 ? reinterpret_cast<const uint8_t*>(ip_2_ip6(address)->addr)
                              : reinterpret_cast<const uint8_t*>(&ip_2_ip4(address)->addr);
    for (size_t i = 0; i < (is_v6 ? 16u : 4u); ++i) {
      hash = (hash ^ bytes[i]) * 0x100000001b3ULL;  // FNV-1a step over the keyed state
    }
  };
  mix(local_ip);
  mix(remote_ip);
  hash ^= hash >> 29;
  hash *= 0xbf58476d1ce4e5b9ULL;
  hash ^= hash >> 32;
  return static_cast<u32_t>(hash) + static_cast<u32_t>(sys_now() * 250);  // 4 µs ticks
}

extern "C" u32_t t2s_lwip_random(void) {
  return static_cast<u32_t>(t2s::stack::internal::random_engine()());
}
