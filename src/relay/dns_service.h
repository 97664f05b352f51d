// The tunnel's own DNS handling, on by choice (--dns fake|tcp). It takes the UDP queries sent
// to port 53 (of any address, or of the --dns-address ones), and either answers A/AAAA itself
// from the fake-IP pool (fake) or forwards the query as DNS over TCP through the proxy (tcp,
// and fake for other record types). With fake, connections to pool addresses are then sent to
// the proxy by name, so no query leaves the machine in the clear.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "dns/fake_pool.h"
#include "net/address.h"
#include "net/packet.h"
#include "relay/dns_forwarder.h"
#include "socks5/codec.h"

namespace t2s::relay {

class Relay;

enum class DnsMode { kUdp, kFake, kTcp };

struct DnsOptions {
  DnsMode mode = DnsMode::kUdp;
  std::vector<net::IpAddress> intercept;  // empty: any address
  std::optional<net::Endpoint> upstream;  // empty: the address the app asked
  net::Cidr fake_ipv4;
  net::Cidr fake_ipv6;
  size_t fake_capacity = 16384;
  uint32_t fake_ttl_s = 1;
};

struct DnsCounters {
  uint64_t answered_from_pool = 0;  // A/AAAA (and empty HTTPS/SVCB) answered locally
  uint64_t forwarded = 0;           // sent upstream over TCP
  uint64_t answered_upstream = 0;   // answers relayed back from upstream
  uint64_t failed = 0;              // malformed (FORMERR or dropped), overload, no pool room
};

class DnsService {
 public:
  DnsService(Relay& relay, DnsOptions options);
  ~DnsService();

  // True if the datagram was a DNS query for us (and is now handled).
  bool handle(const net::UdpPacketView& datagram);
  // With --dns fake: the name to send to the proxy instead of a pool address (nullopt: not a
  // pool address). Sets `unknown` for a pool address with no mapping (e.g. after a restart).
  std::optional<socks5::DomainEndpoint> resolve(const net::Endpoint& destination, bool& unknown);
  bool is_fake(const net::IpAddress& address) const;
  void hold(const net::IpAddress& address);
  void release(const net::IpAddress& address);

  void sweep(uint64_t now_ms);
  const DnsCounters& counters() const { return counters_; }
  size_t pool_size() const { return pool_ ? pool_->size() : 0; }

 private:
  void answer_locally(const net::UdpPacketView& datagram, std::vector<uint8_t> answer);
  void forward(const net::UdpPacketView& datagram, uint16_t id, uint16_t max_udp_size);
  DnsForwarder& forwarder_for(const net::Endpoint& resolver);

  Relay& relay_;
  DnsOptions options_;
  std::unique_ptr<dns::FakePool> pool_;
  std::vector<std::unique_ptr<DnsForwarder>> forwarders_;  // one per upstream resolver
  DnsCounters counters_;
  uint32_t next_packet_id_ = 0;
};

}  // namespace t2s::relay
