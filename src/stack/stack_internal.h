// Shared between the stack's own files (never included outside stack/): lwIP state of the one
// running Stack, reached by lwIP's C hooks, and conversions between lwIP and net:: addresses.
#pragma once

#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/tcp.h"
#include "net/address.h"
#include "stack/stack.h"

namespace t2s::stack::internal {

struct LwipState {
  netif interface {};
  tcp_pcb* listener = nullptr;
  PacketSink sink;
  TcpAcceptor* acceptor = nullptr;
  StackCounters counters;
};

// The running stack's state, or nullptr when none runs.
LwipState* current();
void set_current(LwipState* state);

net::IpAddress to_ip_address(const ip_addr_t& address);
ip_addr_t to_lwip_address(const net::IpAddress& address);

}  // namespace t2s::stack::internal
