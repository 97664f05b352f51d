// Stack set-up and packet plumbing: lwIP initialisation, the one netif standing for the TUN
// device, the listening pcb that accepts connections to any address and port, outbound
// packets to the sink, and lwIP timers.
#include "stack/stack.h"

#include <cstring>
#include <vector>

#include "log/log.h"
#include "lwip/init.h"
#include "lwip/ip.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/ip4.h"
#include "lwip/prot/ip6.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "stack/stack_internal.h"

namespace t2s::stack {
namespace internal {
namespace {
LwipState* g_current = nullptr;
}  // namespace

LwipState* current() {
  return g_current;
}
void set_current(LwipState* state) {
  g_current = state;
}

net::IpAddress to_ip_address(const ip_addr_t& address) {
  if (IP_IS_V6_VAL(address)) {
    std::array<uint8_t, 16> bytes{};
    std::memcpy(bytes.data(), ip_2_ip6(&address)->addr, 16);
    return net::IpAddress::v6(bytes);
  }
  std::array<uint8_t, 4> bytes{};
  std::memcpy(bytes.data(), &ip_2_ip4(&address)->addr, 4);
  return net::IpAddress::v4(bytes);
}

ip_addr_t to_lwip_address(const net::IpAddress& address) {
  ip_addr_t result{};
  if (address.is_v4()) {
    IP_SET_TYPE_VAL(result, IPADDR_TYPE_V4);
    std::memcpy(&ip_2_ip4(&result)->addr, address.bytes.data(), 4);
  } else {
    IP_SET_TYPE_VAL(result, IPADDR_TYPE_V6);
    std::memcpy(ip_2_ip6(&result)->addr, address.bytes.data(), 16);
  }
  return result;
}

}  // namespace internal

namespace {

// Sends one lwIP packet chain to the sink as a gather list, without copying.
err_t emit_packet(pbuf* packet) {
  auto* state = internal::current();
  if (state == nullptr) return ERR_IF;
  constexpr size_t kMaxParts = 64;
  std::span<const uint8_t> parts[kMaxParts];
  size_t count = 0;
  for (pbuf* part = packet; part != nullptr && count < kMaxParts; part = part->next) {
    if (part->len == 0) continue;
    parts[count++] = {static_cast<const uint8_t*>(part->payload), part->len};
  }
  std::vector<uint8_t> flat;
  if (count == kMaxParts) {  // an unusually long chain: flatten it
    flat.resize(packet->tot_len);
    pbuf_copy_partial(packet, flat.data(), packet->tot_len, 0);
    parts[0] = flat;
    count = 1;
  }
  if (state->sink({parts, count})) {
    ++state->counters.packets_out;
  } else {
    ++state->counters.packets_out_dropped;
  }
  return ERR_OK;  // a dropped packet is like one lost on the wire: TCP retransmits
}

}  // namespace

void internal::emit_parts(internal::LwipState& state,
                          std::span<const std::span<const uint8_t>> parts) {
  if (state.sink(parts)) {
    ++state.counters.packets_out;
  } else {
    ++state.counters.packets_out_dropped;
  }
}

void internal::emit_flat(internal::LwipState& state, std::span<const uint8_t> packet) {
  std::span<const uint8_t> parts[1] = {packet};
  emit_parts(state, parts);
}

namespace {

err_t output_ipv4(netif*, pbuf* packet, const ip4_addr_t*) {
  return emit_packet(packet);
}
err_t output_ipv6(netif*, pbuf* packet, const ip6_addr_t*) {
  return emit_packet(packet);
}

err_t netif_init_callback(netif* interface) {
  interface->name[0] = 't';
  interface->name[1] = 'n';
  interface->output = output_ipv4;
  interface->output_ip6 = output_ipv6;
  interface->flags = NETIF_FLAG_LINK_UP;
  return ERR_OK;
}

// `arg` is the request id that input_tcp gave the listener when it passed the admitted SYN.
err_t on_accept(void* arg, tcp_pcb* pcb, err_t err) {
  auto* state = internal::current();
  if (err != ERR_OK || pcb == nullptr || state == nullptr) return ERR_VAL;
  auto request_id = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(arg));
  tcp_nagle_disable(pcb);  // data is relayed as it arrives; the proxy side batches already
  auto connection = std::make_unique<TcpConnection>(pcb);
  TcpConnection* accepted = connection.get();
  accepted->begin_callback();
  if (!state->acceptor->on_tcp_accept(request_id, connection)) {
    connection->reset();
    return ERR_ABRT;
  }
  // Sessions are destroyed on a later loop turn, so `accepted` is still alive here.
  return accepted->end_callback() ? ERR_ABRT : ERR_OK;
}

// Removes a held SYN from both indexes; returns it (packet == nullptr when unknown).
internal::HeldSyn take_held_syn(internal::LwipState& state, uint64_t request_id) {
  auto found = state.held_syns.find(request_id);
  if (found == state.held_syns.end()) return {};
  internal::HeldSyn held = found->second;
  state.held_syns.erase(found);
  state.held_by_flow.erase(held.key);
  return held;
}

bool g_lwip_initialised = false;

// An IPv4 packet with protocol UDP that is not a fragment, or an IPv6 packet whose first next
// header is UDP (so no fragment header): the hooks deliver it at once and keep nothing.
bool whole_udp_packet(std::span<const uint8_t> packet) {
  constexpr uint8_t kProtocolUdp = 17;
  if (packet.size() < 20) return false;
  if (packet[0] >> 4 == 4) {
    const bool fragment = (packet[6] & 0x3F) != 0 || packet[7] != 0;  // MF or an offset
    return packet[9] == kProtocolUdp && !fragment;
  }
  return packet[0] >> 4 == 6 && packet.size() >= 40 && packet[6] == kProtocolUdp;
}

}  // namespace

struct Stack::State {
  internal::LwipState lwip;
  int mtu = 0;
};

InboundPacket& InboundPacket::operator=(InboundPacket&& other) noexcept {
  if (this != &other) {
    if (buffer_ != nullptr) pbuf_free(buffer_);
    buffer_ = other.buffer_;
    other.buffer_ = nullptr;
  }
  return *this;
}

InboundPacket::~InboundPacket() {
  if (buffer_ != nullptr) pbuf_free(buffer_);
}

std::span<uint8_t> InboundPacket::writable() {
  if (buffer_ == nullptr) return {};
  return {static_cast<uint8_t*>(buffer_->payload), buffer_->len};
}

std::unique_ptr<Stack> Stack::create(const StackOptions& options, PacketSink sink,
                                     TcpAcceptor& acceptor, UdpReceiver& udp, std::string& error) {
  if (internal::current() != nullptr) {
    error = "only one stack can run per process";
    return nullptr;
  }
  if (!g_lwip_initialised) {
    lwip_init();
    g_lwip_initialised = true;
  }
  auto state = std::make_unique<State>();
  state->mtu = options.mtu;
  state->lwip.sink = std::move(sink);
  state->lwip.acceptor = &acceptor;
  state->lwip.udp = &udp;
  state->lwip.icmp_echo = options.icmp_echo;

  netif* interface = &state->lwip.interface;
  ip_addr_t address = internal::to_lwip_address(options.ipv4.address);
  ip4_addr_t netmask{};
  netmask.addr = options.ipv4.prefix_length == 0
                     ? 0
                     : lwip_htonl(~uint32_t{0} << (32 - options.ipv4.prefix_length));
  ip4_addr_t gateway{};
  if (netif_add(interface, ip_2_ip4(&address), &netmask, &gateway, nullptr, netif_init_callback,
                ip_input) == nullptr) {
    error = "lwIP refused the network interface";
    return nullptr;
  }
  interface->mtu = static_cast<u16_t>(options.mtu);
  if (options.ipv6) {
    ip_addr_t address6 = internal::to_lwip_address(options.ipv6->address);
    netif_ip6_addr_set(interface, 0, ip_2_ip6(&address6));
    netif_ip6_addr_set_state(interface, 0, IP6_ADDR_VALID);
  }
  netif_set_default(interface);
  netif_set_up(interface);

  tcp_pcb* listener = tcp_new_ip_type(IPADDR_TYPE_ANY);
  if (listener == nullptr || tcp_bind(listener, IP_ANY_TYPE, 0) != ERR_OK) {
    if (listener != nullptr) tcp_close(listener);
    netif_remove(interface);
    error = "lwIP could not create the listening TCP socket";
    return nullptr;
  }
  // The port bound here does not matter: the input hook sets it to each segment's port.
  tcp_pcb* listening = tcp_listen(listener);
  if (listening == nullptr) {
    tcp_close(listener);
    netif_remove(interface);
    error = "lwIP could not listen";
    return nullptr;
  }
  tcp_accept(listening, on_accept);
  state->lwip.listener = listening;
  internal::set_current(&state->lwip);
  return std::unique_ptr<Stack>(new Stack(std::move(state)));
}

Stack::Stack(std::unique_ptr<State> state) : state_(std::move(state)) {}

Stack::~Stack() {
  // Connections are owned (and reset) by the relay before the stack goes; what remains are
  // pcbs lwIP finishes on its own (FIN-WAIT, TIME-WAIT). Drop them without sending anything.
  internal::drop_held_syns(state_->lwip);
  tcp_close(state_->lwip.listener);
  netif_remove(&state_->lwip.interface);
  internal::set_current(nullptr);
}

InboundPacket Stack::allocate_packet() {
  return InboundPacket(pbuf_alloc(PBUF_RAW, static_cast<u16_t>(state_->mtu), PBUF_RAM));
}

void Stack::input(InboundPacket& packet, size_t length, bool checksum_trusted) {
  if (packet.empty()) return;
  ++state_->lwip.counters.packets_in;
  if (checksum_trusted) ++state_->lwip.counters.packets_checksum_offloaded;
  pbuf* buffer = nullptr;
  std::span<uint8_t> filled = packet.writable();
  if (length == 0 || length > filled.size()) {
    ++state_->lwip.counters.packets_malformed;
    return;
  }
  if (length <= filled.size() / 4 && whole_udp_packet(filled.first(length))) {
    // The hooks hand UDP to the relay within this call (lwip_hooks.cpp, deliver_udp): lend it
    // the packet where it was read instead of copying it; the relay may keep `packet` itself.
    // Fragments are kept for reassembly, so they take the copying path below.
    buffer = pbuf_alloc(PBUF_RAW, static_cast<u16_t>(length), PBUF_REF);
    if (buffer == nullptr) return;
    buffer->payload = filled.data();
    state_->lwip.lent_from = &packet;
  } else if (length <= filled.size() / 4) {
    // A small packet gets a buffer of its size: lwIP may keep it (TCP out of order, fragments).
    buffer = pbuf_alloc(PBUF_RAW, static_cast<u16_t>(length), PBUF_RAM);
    if (buffer == nullptr) return;  // out of memory: like a packet lost on the wire
    std::memcpy(buffer->payload, filled.data(), length);
  } else {
    buffer = packet.release();
    pbuf_realloc(buffer, static_cast<u16_t>(length));
  }
  // ip_input drops wrong versions; our hooks (lwip_hooks.cpp) take TCP for any destination.
  // They run within this call, and read the flag for this packet.
  state_->lwip.checksum_trusted = checksum_trusted;
  state_->lwip.interface.input(buffer, &state_->lwip.interface);
  state_->lwip.checksum_trusted = false;
  state_->lwip.lent_from = nullptr;
}

void Stack::admit(uint64_t request_id) {
  internal::HeldSyn held = take_held_syn(state_->lwip, request_id);
  if (held.packet == nullptr) return;
  internal::input_tcp(state_->lwip, held.packet, held.header_length, held.is_v6, request_id,
                      held.checksum_trusted);
}

void Stack::refuse(uint64_t request_id) {
  internal::HeldSyn held = take_held_syn(state_->lwip, request_id);
  if (held.packet == nullptr) return;
  pbuf_free(held.packet);
  ip_addr_t app = internal::to_lwip_address(held.key.app.address);
  ip_addr_t destination = internal::to_lwip_address(held.key.destination.address);
  // RST+ACK of the SYN: the app's connect() fails with "connection refused".
  tcp_rst(nullptr, 0, held.sequence + 1, &destination, &app, held.key.destination.port,
          held.key.app.port);
}

void Stack::send_packet(std::span<const uint8_t> packet) {
  internal::emit_flat(state_->lwip, packet);
}

void Stack::send_packet_parts(std::span<const std::span<const uint8_t>> parts) {
  internal::emit_parts(state_->lwip, parts);
}

void Stack::set_segment_sink(SegmentSink sink) {
  state_->lwip.segment_sink = std::move(sink);
}

bool Stack::send_udp_segments(std::span<const std::span<const uint8_t>> parts,
                              uint16_t headers_size, uint16_t segment_size, size_t count) {
  internal::LwipState& state = state_->lwip;
  if (!state.segment_sink) return false;
  switch (state.segment_sink(parts, headers_size, segment_size)) {
    case SegmentWrite::kWritten:
      state.counters.packets_out += count;
      state.counters.packets_out_segmented += count;
      return true;
    case SegmentWrite::kDropped:
      state.counters.packets_out_dropped += count;
      return true;
    case SegmentWrite::kUnsupported:
      break;
  }
  state.segment_sink = nullptr;  // the device said it cannot: do not ask again
  return false;
}

int Stack::mtu() const {
  return state_->mtu;
}

void Stack::check_timeouts() {
  sys_check_timeouts();
  // Bound TIME-WAIT like Linux's tcp_max_tw_buckets: lwIP walks the whole list for every SYN
  // (and so do we), which at 1000 connections/s made up a sixth of the tunnel's CPU. Every SYN
  // keeps the bound too (dispatch_tcp); this covers a tunnel that gets no new connections.
  internal::bound_time_wait();
}

const StackCounters& Stack::counters() const {
  return state_->lwip.counters;
}

}  // namespace t2s::stack
