// libFuzzer target: arbitrary bytes as one packet from the TUN device, through the real lwIP
// input path and our hooks (TCP for any destination, held SYNs, UDP, ICMP, reassembly).
// Connection requests are admitted or refused alternately and accepted connections are kept
// for a while, so later inputs meet live pcbs; some UDP read buffers are kept likewise.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <span>
#include <vector>

#include "net/packet.h"
#include "stack/stack.h"

namespace {

using namespace t2s;

class Harness final : public stack::TcpAcceptor, public stack::UdpReceiver {
 public:
  void on_tcp_request(const stack::TcpRequest& request) override { requests.push_back(request.id); }
  bool on_tcp_accept(uint64_t, std::unique_ptr<stack::TcpConnection>& connection) override {
    connections.push_back(std::move(connection));
    if (connections.size() > 32) connections.pop_front();  // resets the oldest
    return true;
  }
  // Like the relay, sometimes keeps the read buffer a datagram arrived in (lent packets), so
  // the stack must read the next packet into a fresh one.
  void on_udp_packet(std::span<const uint8_t> packet, bool checksum_trusted,
                     stack::InboundPacket& buffer) override {
    (void)net::parse_udp_packet(packet, checksum_trusted);
    if (buffer.empty() || packet.empty() || packet.back() % 2 == 0) return;
    held.push_back(std::move(buffer));
    if (held.size() > 8) held.pop_front();
  }

  std::vector<uint64_t> requests;
  std::deque<std::unique_ptr<stack::TcpConnection>> connections;
  std::deque<stack::InboundPacket> held;
};

struct World {
  Harness harness;
  std::unique_ptr<stack::Stack> stack;
  uint64_t decisions = 0;

  World() {
    stack::StackOptions options;
    options.mtu = 1500;
    options.ipv4 = net::Cidr::parse("198.18.0.1/15").value();
    options.ipv6 = net::Cidr::parse("fdfe:dcba:9876::1/64").value();
    std::string error;
    stack = stack::Stack::create(
        options, [](std::span<const std::span<const uint8_t>>) { return true; }, harness, harness,
        error);
    if (!stack) __builtin_trap();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  stack::InboundPacket packet = world.stack->allocate_packet();
  std::span<uint8_t> buffer = packet.writable();
  size_t length = size < buffer.size() ? size : buffer.size();
  std::memcpy(buffer.data(), data, length);
  // Both paths: checksums checked, and vouched for by the device (odd lengths).
  world.stack->input(packet, length, length % 2 == 1);
  std::vector<uint64_t> requests;
  requests.swap(world.harness.requests);
  for (uint64_t id : requests) {
    if (world.decisions++ % 2 == 0) {
      world.stack->admit(id);
    } else {
      world.stack->refuse(id);
    }
  }
  for (auto& connection : world.harness.connections) {
    if (connection->is_open() && size > 0 && data[0] % 3 == 0) {
      connection->write(std::span<const uint8_t>(data, size));
      connection->flush();
    }
  }
  world.stack->check_timeouts();
  return 0;
}
