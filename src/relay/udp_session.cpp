// UdpSession: the UDP ASSOCIATE handshake, the datagram socket to the proxy's relay address,
// SOCKS5 UDP encapsulation both ways, and ICMP port-unreachable when the proxy refuses.
#include "relay/udp_session.h"

#include <algorithm>
#include <array>

#include "log/log.h"
#include "net/packet.h"
#include "relay/relay.h"
#include "socks5/udp_codec.h"

namespace t2s::relay {
namespace {

// The longest datagram the proxy can send (an IPv4/IPv6 UDP payload is shorter); a longer one
// would arrive truncated and is dropped as malformed.
constexpr size_t kMaxProxyDatagram = 65535;
// While the association is being set up, datagrams wait here; beyond this they are dropped.
constexpr size_t kMaxQueuedDatagrams = 64;
constexpr size_t kMaxQueuedBytes = 256 * 1024;
// Datagrams to the proxy gathered in one loop turn before they are sent anyway (the TUN device
// is read in batches of as many packets).
constexpr size_t kMaxOutgoing = 64;

void close_udp(uv_udp_t* handle) {
  handle->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(handle),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_udp_t*>(h); });
}

}  // namespace

UdpSession::UdpSession(Relay& relay, const net::Endpoint& app,
                       const net::Endpoint& first_destination)
    : relay_(relay), app_(app), first_destination_(first_destination) {}

ConnectionView UdpSession::view() const {
  ConnectionView view;
  view.udp = true;
  view.app = app_;
  view.destination = first_destination_;
  view.bytes_up = bytes_up_;
  view.bytes_down = bytes_down_;
  view.started_ms = started_ms_;
  view.state = ended_            ? ConnectionView::State::kClosing
               : udp_ == nullptr ? ConnectionView::State::kConnecting
                                 : ConnectionView::State::kEstablished;
  return view;
}

UdpSession::~UdpSession() {
  reader_.reset();
  if (udp_ != nullptr) close_udp(udp_);
  for (const auto& address : held_fake_) relay_.dns().release(address);
}

void UdpSession::touch() {
  last_activity_ms_ = uv_now(relay_.loop());
  relay_.touch_udp(this);
}

void UdpSession::start() {
  started_ms_ = last_activity_ms_ = uv_now(relay_.loop());
  // DST.ADDR/DST.PORT of zero: the address we will send from is not known in advance.
  net::Endpoint unspecified{};
  connector_ = relay_.connect_proxy(
      socks5::Command::kUdpAssociate, unspecified,
      [this](const socks5::ConnectOutcome& outcome) { on_associated(outcome); });
}

void UdpSession::send(const net::Endpoint& destination, std::span<const uint8_t> payload,
                      std::span<const uint8_t> packet, stack::InboundPacket& buffer) {
  if (ended_) return;
  touch();
  if (udp_ != nullptr) {
    const bool held = !buffer.empty();
    transmit(destination, payload, std::move(buffer));
    if (!held) flush_to_proxy();  // the bytes are valid during this call only
    return;
  }
  if (queue_.size() >= kMaxQueuedDatagrams || queued_bytes_ + payload.size() > kMaxQueuedBytes) {
    ++relay_.mutable_counters().udp_dropped_queue_full;
    return;
  }
  queue_.push_back({destination, {payload.begin(), payload.end()}, {packet.begin(), packet.end()}});
  queued_bytes_ += payload.size() + packet.size();
}

void UdpSession::on_associated(const socks5::ConnectOutcome& outcome) {
  if (ended_) return;
  if (outcome.status != socks5::ConnectStatus::kOk) {
    fail(outcome);
    return;
  }
  control_ = connector_->take_socket();
  connector_.reset();
  control_->set_owner(this);
  // The association ends when the proxy closes the control connection: watch it.
  control_->read_with(
      [](uv_handle_t* handle, size_t, uv_buf_t* buf) {
        *buf = io::TcpSocket::owner_of<UdpSession>(handle)->relay_.read_buffer_for_libuv();
      },
      on_control_read);

  // A relay address of 0.0.0.0 or :: (or a name) means "the proxy's own address".
  net::Endpoint relay_endpoint{net::address_of(relay_.options().proxy.address), 0};
  if (const auto* bound = std::get_if<net::Endpoint>(&outcome.bound)) {
    relay_endpoint.port = bound->port;
    if (!bound->address.is_unspecified()) relay_endpoint.address = bound->address;
  } else {
    relay_endpoint.port = std::get<socks5::DomainEndpoint>(outcome.bound).port;
  }
  if (!open_udp_socket(relay_endpoint)) {
    ++relay_.mutable_counters().udp_flows_failed;
    end();
    return;
  }
  log::debug("udp {}: associated, proxy relay at {}", app_, relay_endpoint);
  std::vector<Queued> queued = std::move(queue_);
  queue_.clear();
  queued_bytes_ = 0;
  for (const Queued& datagram : queued) transmit(datagram.destination, datagram.payload, {});
  flush_to_proxy();  // before `queued` goes
}

bool UdpSession::open_udp_socket(const net::Endpoint& relay_endpoint) {
  udp_ = new uv_udp_t{};
  sockaddr_storage local{};
  local.ss_family = relay_endpoint.address.is_v4() ? AF_INET : AF_INET6;
  int rc = uv_udp_init_ex(relay_.loop(), udp_, local.ss_family);
  if (rc != 0) {
    log::warn("udp {}: cannot create a socket: {}", app_, uv_strerror(rc));
    delete udp_;
    udp_ = nullptr;
    return false;
  }
  if (std::string problem =
          relay_.options().proxy.prepare(reinterpret_cast<const uv_handle_t*>(udp_));
      !problem.empty()) {
    log::warn("udp {}: {}", app_, problem);
    close_udp(udp_);
    udp_ = nullptr;
    return false;
  }
  sockaddr_storage remote = net::to_sockaddr(relay_endpoint);
  rc = uv_udp_bind(udp_, reinterpret_cast<const sockaddr*>(&local), 0);
  if (rc == 0) rc = uv_udp_connect(udp_, reinterpret_cast<const sockaddr*>(&remote));
  if (rc == 0) {
    reader_ = io::DatagramReader::start(udp_, kMaxProxyDatagram, on_proxy_batch, this, rc);
  }
  if (rc == 0) writer_ = std::make_unique<io::DatagramWriter>(udp_);
  if (rc != 0) {
    log::warn("udp {}: cannot open a socket to the proxy's relay {}: {}", app_, relay_endpoint,
              uv_strerror(rc));
    close_udp(udp_);
    udp_ = nullptr;
    return false;
  }
  return true;
}

void UdpSession::transmit(const net::Endpoint& destination, std::span<const uint8_t> payload,
                          stack::InboundPacket buffer) {
  // A fake-IP destination goes to the proxy by name.
  socks5::Destination target = destination;
  bool unknown = false;
  if (auto name = relay_.dns().resolve(destination, unknown)) {
    target = *name;
    last_fake_destination_ = destination;
    if (std::find(held_fake_.begin(), held_fake_.end(), destination.address) == held_fake_.end()) {
      held_fake_.push_back(destination.address);
      relay_.dns().hold(destination.address);
    }
  } else if (unknown) {
    ++relay_.mutable_counters().udp_dropped_unroutable;
    return;
  }
  if (outgoing_.size() == kMaxOutgoing) flush_to_proxy();
  Outgoing& datagram = outgoing_.emplace_back();
  datagram.header_size = socks5::write_udp_header(target, datagram.header);
  if (datagram.header_size == 0) {
    outgoing_.pop_back();
    ++relay_.mutable_counters().udp_dropped_malformed;
    return;
  }
  datagram.payload = payload;
  datagram.buffer = std::move(buffer);
  if (outgoing_.size() == 1) relay_.schedule_flush(this);
}

// The header goes out in front of the payload as a gather list: the payload is not copied.
void UdpSession::flush_to_proxy() {
  if (outgoing_.empty()) return;
  std::array<io::DatagramWriter::Datagram, kMaxOutgoing> datagrams;
  size_t bytes = 0;
  for (size_t i = 0; i < outgoing_.size(); ++i) {
    datagrams[i] = {{outgoing_[i].header.data(), outgoing_[i].header_size}, outgoing_[i].payload};
  }
  const io::DatagramWriter::Sent sent = writer_->send({datagrams.data(), outgoing_.size()});
  // The bytes of the first datagrams: exact unless the kernel refused one in the middle.
  for (size_t i = 0; i < sent.datagrams; ++i) bytes += outgoing_[i].payload.size();
  RelayCounters& counters = relay_.mutable_counters();
  counters.udp_dropped_send_failed += outgoing_.size() - sent.datagrams;  // UDP may drop
  counters.udp_datagrams_up += sent.datagrams;
  counters.udp_proxy_send_calls += sent.system_calls;
  counters.udp_bytes_up += bytes;
  bytes_up_ += bytes;
  outgoing_.clear();  // lets go of the packets' buffers
}

void UdpSession::on_proxy_batch(void* context,
                                std::span<const io::DatagramReader::Datagram> batch) {
  static_cast<UdpSession*>(context)->receive(batch);
}

void UdpSession::receive(std::span<const io::DatagramReader::Datagram> batch) {
  if (ended_) return;
  Run run;
  for (const auto& datagram : batch) {
    if (datagram.truncated) {
      ++relay_.mutable_counters().udp_dropped_malformed;
      continue;
    }
    net::Endpoint remote;
    std::span<const uint8_t> payload;
    if (!unwrap(datagram.bytes, remote, payload)) continue;
    touch();
    if (extend(run, remote, payload)) continue;
    deliver(run);
    run.remote = remote;
    run.payloads[0] = payload;
    run.count = 1;
    run.bytes = payload.size();
  }
  deliver(run);
}

bool UdpSession::unwrap(std::span<const uint8_t> datagram, net::Endpoint& remote,
                        std::span<const uint8_t>& payload) {
  RelayCounters& counters = relay_.mutable_counters();
  auto header = socks5::decode_udp_header(datagram);
  if (header.status != socks5::DecodeStatus::kOk) {
    ++counters.udp_dropped_malformed;
    return false;
  }
  if (header.value.fragment != 0) {
    ++counters.udp_dropped_fragmented;
    return false;
  }
  const auto* from = std::get_if<net::Endpoint>(&header.value.address);
  // Answers to a name we sent by fake IP come from its real address: show the fake one.
  if (last_fake_destination_ && (from == nullptr || (from->port == last_fake_destination_->port &&
                                                     !relay_.dns().is_fake(from->address)))) {
    from = &*last_fake_destination_;
  }
  if (from == nullptr || from->address.family != app_.address.family) {
    ++counters.udp_dropped_unroutable;  // a name, or another IP family than the app's
    return false;
  }
  remote = *from;
  payload = datagram.subspan(header.consumed);
  return true;
}

// Whether `payload` from `remote` can join `run`: same remote, the run's size (or shorter, but
// not empty, to end it), and the whole still one IP packet whose datagrams each fit the MTU.
bool UdpSession::extend(Run& run, const net::Endpoint& remote,
                        std::span<const uint8_t> payload) const {
  if (run.count == 0 || run.count == run.payloads.size() || !(remote == run.remote)) return false;
  const size_t segment = run.payloads[0].size();
  const size_t headers = net::udp_headers_size(remote.address.is_v4());
  if (run.payloads[run.count - 1].size() != segment || payload.size() > segment ||
      payload.empty() || headers + segment > static_cast<size_t>(relay_.stack().mtu()) ||
      headers + run.bytes + payload.size() > 65535) {
    return false;
  }
  run.payloads[run.count++] = payload;
  run.bytes += payload.size();
  return true;
}

// Writes a run to the app: a single datagram as its own packet; several as one packet the
// device cuts up, or one by one where it cannot. Payloads are sent from where the proxy's
// datagrams were read (no copy).
void UdpSession::deliver(const Run& run) {
  if (run.count == 0) return;
  if (run.count > 1) {
    std::array<uint8_t, net::kMaxUdpHeadersSize> headers;
    const size_t size =
        net::write_udp_segment_headers(run.remote, app_, run.bytes, next_packet_id_, headers);
    std::array<std::span<const uint8_t>, io::kMaxDatagramBatch + 1> parts;
    parts[0] = {headers.data(), size};
    for (size_t i = 0; i < run.count; ++i) parts[i + 1] = run.payloads[i];
    if (size != 0 && relay_.stack().send_udp_segments(
                         {parts.data(), run.count + 1}, static_cast<uint16_t>(size),
                         static_cast<uint16_t>(run.payloads[0].size()), run.count)) {
      next_packet_id_ += static_cast<uint32_t>(run.count);
      RelayCounters& counters = relay_.mutable_counters();
      counters.udp_datagrams_down += run.count;
      counters.udp_bytes_down += run.bytes;
      bytes_down_ += run.bytes;
      return;
    }
  }
  for (size_t i = 0; i < run.count; ++i) deliver_one(run.remote, run.payloads[i]);
}

// Writes one payload to the app as an IP packet, fragmented at the MTU if it must be.
void UdpSession::deliver_one(const net::Endpoint& remote, std::span<const uint8_t> payload) {
  RelayCounters& counters = relay_.mutable_counters();
  const auto mtu = static_cast<size_t>(relay_.stack().mtu());
  std::array<uint8_t, net::kMaxUdpHeadersSize> headers;
  if (size_t size = net::write_udp_headers(remote, app_, payload, mtu, next_packet_id_, headers);
      size != 0) {
    const std::span<const uint8_t> parts[2] = {{headers.data(), size}, payload};
    relay_.stack().send_packet_parts(parts);
  } else {
    auto packets = net::build_udp_packets(remote, app_, payload, mtu, next_packet_id_);
    if (packets.empty()) {
      ++counters.udp_dropped_malformed;
      return;
    }
    for (const auto& packet : packets) relay_.stack().send_packet(packet);
  }
  ++next_packet_id_;
  ++counters.udp_datagrams_down;
  counters.udp_bytes_down += payload.size();
  bytes_down_ += payload.size();
}

void UdpSession::on_control_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
  auto* self = io::TcpSocket::owner_of<UdpSession>(stream);
  if (self == nullptr || nread >= 0) return;  // the proxy has nothing to say on it: ignore
  log::debug("udp {}: proxy closed the association", self->app_);
  self->end();
}

void UdpSession::fail(const socks5::ConnectOutcome& outcome) {
  ++relay_.mutable_counters().udp_flows_failed;
  bool unsupported =
      outcome.status == socks5::ConnectStatus::kRequestRejected &&
      outcome.reply_code == static_cast<uint8_t>(socks5::ReplyCode::kCommandNotSupported);
  relay_.udp_unavailable(unsupported
                             ? "proxy does not support UDP ASSOCIATE (" + outcome.detail + ")"
                             : "UDP ASSOCIATE failed: " + outcome.detail,
                         unsupported);
  // Tell the app at once instead of leaving it to time out.
  for (const Queued& datagram : queue_) {
    auto error = net::build_port_unreachable(datagram.packet);
    if (!error.empty()) relay_.stack().send_packet(error);
  }
  queue_.clear();
  end();
}

void UdpSession::close() {
  if (!ended_) end();
}

void UdpSession::check_deadline(uint64_t now_ms) {
  const uint64_t limit_ms = relay_.options().connect_timeout_ms;
  if (ended_ || !connector_ || now_ms - started_ms_ < limit_ms) return;
  relay_.handshake_failed();
  fail({socks5::ConnectStatus::kProxyUnreachable,
        0,
        "no answer within " + std::to_string(limit_ms / 1000) + " s",
        {},
        false});
}

void UdpSession::end() {
  ended_ = true;
  outgoing_.clear();
  reader_.reset();
  if (control_) control_->stop_reading();
  relay_.retire_udp(this);
}

}  // namespace t2s::relay
