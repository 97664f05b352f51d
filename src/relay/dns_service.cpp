// DnsService: interception of port-53 queries, fake-IP answers, and forwarding over TCP.
#include "relay/dns_service.h"

#include <algorithm>

#include "dns/message.h"
#include "log/log.h"
#include "relay/relay.h"

namespace t2s::relay {
namespace {

constexpr uint16_t kDnsPort = 53;
constexpr uint64_t kForwardTimeoutMs = 5'000;
// Resolvers kept (each with its own streams) when queries go to the address the app asked.
constexpr size_t kMaxForwarders = 8;

}  // namespace

DnsService::DnsService(Relay& relay, DnsOptions options)
    : relay_(relay), options_(std::move(options)) {
  if (options_.mode == DnsMode::kFake) {
    pool_ = std::make_unique<dns::FakePool>(options_.fake_ipv4, options_.fake_ipv6,
                                            options_.fake_capacity);
  }
}

DnsService::~DnsService() = default;

bool DnsService::handle(const net::UdpPacketView& datagram) {
  if (options_.mode == DnsMode::kUdp || datagram.destination.port != kDnsPort) return false;
  if (!options_.intercept.empty() &&
      std::find(options_.intercept.begin(), options_.intercept.end(),
                datagram.destination.address) == options_.intercept.end()) {
    return false;
  }
  auto query = dns::parse_query(datagram.payload);
  if (!query) {
    ++counters_.failed;
    log::debug("dns: malformed query from {}: {}", datagram.source, query.error());
    if (auto id = dns::message_id(datagram.payload)) {
      dns::Query partial;
      partial.id = *id;
      answer_locally(datagram, dns::build_error_answer(partial, dns::ResponseCode::kFormatError));
    }
    return true;
  }
  if (options_.mode == DnsMode::kFake) {
    uint16_t type = query->question.type;
    if (type == static_cast<uint16_t>(dns::RecordType::kA) ||
        type == static_cast<uint16_t>(dns::RecordType::kAaaa)) {
      net::Family family = type == static_cast<uint16_t>(dns::RecordType::kA) ? net::Family::kIpv4
                                                                              : net::Family::kIpv6;
      auto address = pool_->address_for(query->question.name, family);
      if (!address) {
        ++counters_.failed;
        answer_locally(datagram,
                       dns::build_error_answer(query.value(), dns::ResponseCode::kServerFailure));
        return true;
      }
      ++counters_.answered_from_pool;
      log::trace("dns: {} {} -> {}", query->question.name,
                 family == net::Family::kIpv4 ? "A" : "AAAA", address->to_string());
      std::vector<net::IpAddress> addresses{*address};
      answer_locally(datagram,
                     dns::build_address_answer(query.value(), addresses, options_.fake_ttl_s));
      return true;
    }
    if (type == static_cast<uint16_t>(dns::RecordType::kHttps) ||
        type == static_cast<uint16_t>(dns::RecordType::kSvcb)) {
      // No service binding: clients fall back to A/AAAA, which we answer.
      ++counters_.answered_from_pool;
      answer_locally(datagram, dns::build_address_answer(query.value(), {}, options_.fake_ttl_s));
      return true;
    }
  }
  forward(datagram, query->id, query->max_udp_size);
  return true;
}

void DnsService::answer_locally(const net::UdpPacketView& datagram, std::vector<uint8_t> answer) {
  auto packets =
      net::build_udp_packets(datagram.destination, datagram.source, answer,
                             static_cast<size_t>(relay_.stack().mtu()), next_packet_id_++);
  for (const auto& packet : packets) relay_.stack().send_packet(packet);
}

DnsForwarder& DnsService::forwarder_for(const net::Endpoint& resolver) {
  for (auto& forwarder : forwarders_) {
    if (forwarder->upstream() == resolver) return *forwarder;
  }
  if (forwarders_.size() >= kMaxForwarders) forwarders_.erase(forwarders_.begin());
  forwarders_.push_back(std::make_unique<DnsForwarder>(
      relay_, resolver, [this](const DnsForwarder::Pending& pending, std::vector<uint8_t> answer) {
        ++counters_.answered_upstream;
        auto packets =
            net::build_udp_packets(pending.resolver, pending.app, answer,
                                   static_cast<size_t>(relay_.stack().mtu()), next_packet_id_++);
        for (const auto& packet : packets) relay_.stack().send_packet(packet);
      }));
  return *forwarders_.back();
}

void DnsService::forward(const net::UdpPacketView& datagram, uint16_t id, uint16_t max_udp_size) {
  net::Endpoint resolver = options_.upstream
                               ? *options_.upstream
                               : net::Endpoint{datagram.destination.address, kDnsPort};
  DnsForwarder::Pending pending;
  pending.original_id = id;
  pending.app = datagram.source;
  pending.resolver = datagram.destination;
  pending.max_udp_size = max_udp_size;
  pending.deadline_ms = uv_now(relay_.loop()) + kForwardTimeoutMs;
  if (forwarder_for(resolver).forward(datagram.payload, pending)) {
    ++counters_.forwarded;
  } else {
    ++counters_.failed;
  }
}

std::optional<socks5::DomainEndpoint> DnsService::resolve(const net::Endpoint& destination,
                                                          bool& unknown) {
  unknown = false;
  if (!pool_ || !pool_->contains(destination.address)) return std::nullopt;
  auto name = pool_->name_for(destination.address);
  if (!name) {
    unknown = true;
    return std::nullopt;
  }
  return socks5::DomainEndpoint{*name, destination.port};
}

bool DnsService::is_fake(const net::IpAddress& address) const {
  return pool_ && pool_->contains(address);
}

void DnsService::hold(const net::IpAddress& address) {
  if (pool_) pool_->hold(address);
}

void DnsService::release(const net::IpAddress& address) {
  if (pool_) pool_->release(address);
}

void DnsService::sweep(uint64_t now_ms) {
  for (auto& forwarder : forwarders_) forwarder->sweep(now_ms);
}

}  // namespace t2s::relay
