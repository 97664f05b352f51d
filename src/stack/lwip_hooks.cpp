// lwIP's input hooks: they take every TCP segment from the TUN device, whatever its
// destination address and port, into tcp_input, where one listening pcb bound to the
// any-address accepts it. Everything else goes on through lwIP's normal input path.
#include <random>

#include "lwip/inet_chksum.h"
#include "lwip/ip.h"
#include "lwip/ip4_frag.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/ip4.h"
#include "lwip/prot/ip6.h"
#include "lwip/prot/tcp.h"
#include "lwip/sys.h"
#include "stack/stack_internal.h"
#include "t2s_lwip_hooks.h"

namespace t2s::stack::internal {
namespace {

constexpr uint8_t kProtocolTcp = 6;

void drop_malformed(LwipState& state, pbuf* packet) {
  ++state.counters.packets_malformed;
  pbuf_free(packet);
}

// Delivers one TCP segment whose ip_data is filled in and whose IP header is already removed.
void deliver_tcp(LwipState& state, pbuf* segment, netif* input) {
  uint8_t ports[4];
  if (pbuf_copy_partial(segment, ports, sizeof ports, 0) != sizeof ports) {
    ++state.counters.packets_malformed;
    pbuf_free(segment);
  } else {
    // The listener stands for every port: a SYN to any port finds it (see stack.cpp).
    state.listener->local_port = static_cast<u16_t>((ports[2] << 8) | ports[3]);
    tcp_input(segment, input);
  }
  ip_data.current_netif = nullptr;
  ip_data.current_input_netif = nullptr;
  ip_data.current_ip4_header = nullptr;
  ip_data.current_ip6_header = nullptr;
  ip_data.current_ip_header_tot_len = 0;
  ip_addr_set_zero(&ip_data.current_iphdr_src);
  ip_addr_set_zero(&ip_data.current_iphdr_dest);
}

int take_ipv4(LwipState& state, pbuf* packet, netif* input) {
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
  if (IPH_PROTO(header) != kProtocolTcp) {
    ++state.counters.packets_not_handled;
    return 0;
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
  if (ip4_addr_ismulticast(&destination) || ip4_addr_isbroadcast(&destination, input)) {
    drop_malformed(state, packet);
    return 1;
  }
  ip_data.current_netif = input;
  ip_data.current_input_netif = input;
  ip_data.current_ip4_header = header;
  ip_data.current_ip_header_tot_len = header_length;
  ip_addr_copy_from_ip4(ip_data.current_iphdr_src, header->src);
  ip_addr_copy_from_ip4(ip_data.current_iphdr_dest, header->dest);
  if (pbuf_remove_header(packet, header_length) != 0) {
    drop_malformed(state, packet);
    return 1;
  }
  deliver_tcp(state, packet, input);
  return 1;
}

int take_ipv6(LwipState& state, pbuf* packet, netif* input) {
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
  // Extension headers and fragments take lwIP's own path for now (not relayed).
  if (IP6H_NEXTH(header) != kProtocolTcp) {
    ++state.counters.packets_not_handled;
    return 0;
  }
  if (total_length < packet->tot_len) pbuf_realloc(packet, static_cast<u16_t>(total_length));
  ip_data.current_netif = input;
  ip_data.current_input_netif = input;
  ip_data.current_ip6_header = header;
  ip_data.current_ip_header_tot_len = IP6_HLEN;
  ip_addr_copy_from_ip6_packed(ip_data.current_iphdr_src, header->src);
  ip_addr_copy_from_ip6_packed(ip_data.current_iphdr_dest, header->dest);
  if (ip6_addr_ismulticast(ip_2_ip6(&ip_data.current_iphdr_dest)) ||
      pbuf_remove_header(packet, IP6_HLEN) != 0) {
    ip_addr_set_zero(&ip_data.current_iphdr_src);
    ip_addr_set_zero(&ip_data.current_iphdr_dest);
    ip_data.current_ip6_header = nullptr;
    drop_malformed(state, packet);
    return 1;
  }
  deliver_tcp(state, packet, input);
  return 1;
}

std::mt19937_64& random_engine() {
  static std::mt19937_64 engine{std::random_device{}()};
  return engine;
}

}  // namespace
}  // namespace t2s::stack::internal

using t2s::stack::internal::current;

extern "C" int t2s_ip4_input_hook(pbuf* p, netif* input_netif) {
  auto* state = current();
  return state == nullptr ? 0 : t2s::stack::internal::take_ipv4(*state, p, input_netif);
}

extern "C" int t2s_ip6_input_hook(pbuf* p, netif* input_netif) {
  auto* state = current();
  return state == nullptr ? 0 : t2s::stack::internal::take_ipv6(*state, p, input_netif);
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
