// The tunnel's main loop and its event sources: TUN readability, lwIP's timer, signals.
#include "app/tunnel.h"

#include <uv.h>

#include <cstring>
#include <memory>

#include "app/live_view.h"
#include "app/proxy_address.h"
#include "app/system_setup.h"
#include "log/log.h"
#include "platform/memory.h"
#include "platform/process.h"
#include "platform/tun_device.h"
#include "relay/relay.h"
#include "stack/stack.h"

namespace t2s::app {
namespace {

// Packets read per readiness wake-up before yielding to other events.
constexpr int kReadBatch = 64;

template <typename Handle>
void close_and_free(Handle* handle) {
  uv_close(reinterpret_cast<uv_handle_t*>(handle),
           [](uv_handle_t* h) { delete reinterpret_cast<Handle*>(h); });
}

class Tunnel {
 public:
  Tunnel(const Config& config, std::unique_ptr<platform::TunDevice> device)
      : config_(config), device_(std::move(device)) {
    uv_loop_init(&loop_);
  }

  ~Tunnel() {
    // After a failed start the device's watch is still open: close it, let its close callback
    // free it, then the loop can close.
    if (device_watch_) {
      device_watch_.reset();
      uv_run(&loop_, UV_RUN_NOWAIT);
    }
    uv_loop_close(&loop_);
  }

  bool start(relay::RelayOptions relay_options, std::string& error) {
    platform::keep_freed_memory_for_reuse();
    relay_ = std::make_unique<relay::Relay>(&loop_, std::move(relay_options));
    stack::StackOptions stack_options;
    stack_options.mtu = device_->mtu();
    stack_options.ipv4 = config_.ipv4;
    stack_options.ipv6 = config_.ipv6;
    stack_options.icmp_echo = config_.icmp_reply ? stack::IcmpEcho::kReply : stack::IcmpEcho::kDrop;
    stack_ = stack::Stack::create(
        stack_options,
        [this](std::span<const std::span<const uint8_t>> parts) {
          return device_->write_packet(parts) == platform::IoStatus::kOk;
        },
        *relay_, *relay_, error);
    if (!stack_) return false;
    stack_->set_segment_sink([this](std::span<const std::span<const uint8_t>> parts,
                                    uint16_t headers_size, uint16_t segment_size) {
      switch (device_->write_udp_segments(parts, {headers_size, segment_size})) {
        case platform::IoStatus::kOk:
          return stack::SegmentWrite::kWritten;
        case platform::IoStatus::kUnsupported:
          return stack::SegmentWrite::kUnsupported;
        case platform::IoStatus::kWouldBlock:
        case platform::IoStatus::kError:
          break;
      }
      return stack::SegmentWrite::kDropped;
    });
    relay_->attach_stack(*stack_);
    live_view_ = std::make_unique<LiveView>(&loop_, *relay_, *stack_);
    if (!live_view_->serve(config_, error)) return false;

    device_watch_ = device_->watch(
        &loop_,
        [](void* context, int status) {
          static_cast<Tunnel*>(context)->on_device_readable(status);
        },
        this, error);
    if (!device_watch_) return false;

    timer_ = new uv_timer_t{};
    uv_timer_init(&loop_, timer_);
    timer_->data = this;
    uv_timer_start(
        timer_, [](uv_timer_t* t) { static_cast<Tunnel*>(t->data)->on_timer(); },
        stack::Stack::kTimerIntervalMs, stack::Stack::kTimerIntervalMs);

    const platform::ProcessSignals signals = platform::process_signals();
    std::vector<int> handled = signals.stop;
    if (signals.log_counters) handled.push_back(*signals.log_counters);
    counter_signal_ = signals.log_counters;
    for (int signal_number : handled) {
      auto* handle = new uv_signal_t{};
      uv_signal_init(&loop_, handle);
      handle->data = this;
      uv_signal_start(
          handle,
          [](uv_signal_t* h, int number) { static_cast<Tunnel*>(h->data)->on_signal(number); },
          signal_number);
      signals_.push_back(handle);
    }
    return true;
  }

  void run() {
    uv_run(&loop_, UV_RUN_DEFAULT);
    // Stopped: reset every session, close our handles, let the close callbacks run.
    live_view_->stop();
    relay_->shutdown();
    log_counters();
    live_view_.reset();
    relay_.reset();
    device_watch_.reset();
    if (timer_ != nullptr) close_and_free(timer_);
    for (auto* handle : signals_) close_and_free(handle);
    signals_.clear();
    uv_run(&loop_, UV_RUN_DEFAULT);
    stack_.reset();
  }

 private:
  void on_device_readable(int status) {
    if (status != 0) {
      log::error("TUN device {} failed: {}", device_->name(), uv_strerror(status));
      uv_stop(&loop_);
      return;
    }
    for (int i = 0; i < kReadBatch; ++i) {
      if (spare_.empty()) spare_ = stack_->allocate_packet();
      if (spare_.empty()) return;  // out of memory: try again on the next wake-up
      platform::ReadResult result = device_->read_packet(spare_.writable());
      if (result.status == platform::IoStatus::kWouldBlock) return;
      if (result.status == platform::IoStatus::kError) {
        log::error("reading TUN device {} failed: {}", device_->name(), uv_strerror(result.error));
        uv_stop(&loop_);
        return;
      }
      stack_->input(spare_, result.size, result.checksum_trusted);
    }
  }

  void on_timer() {
    stack_->check_timeouts();
    // Freed memory is kept for reuse while traffic flows (keep_freed_memory_for_reuse). Once
    // it is quiet (under 1 MiB relayed in 10 s; idle connections may stay open), give what a
    // burst needed back to the system: otherwise RSS stays at its peak.
    constexpr int kTicksPerCheck = 40;  // 10 s
    constexpr uint64_t kQuietBytes = 1 << 20;
    if (++ticks_ % kTicksPerCheck != 0) return;
    const relay::RelayCounters& counters = relay_->counters();
    uint64_t bytes =
        counters.bytes_up + counters.bytes_down + counters.udp_bytes_up + counters.udp_bytes_down;
    uint64_t packets = stack_->counters().packets_in;
    bool quiet = bytes - bytes_at_last_check_ < kQuietBytes;
    bytes_at_last_check_ = bytes;
    if (quiet && packets != packets_at_last_release_) {
      packets_at_last_release_ = packets;
      platform::release_free_memory();
    }
  }

  void on_signal(int number) {
    if (number == counter_signal_) {
      log_counters();
      return;
    }
    log::info("received {}, shutting down", platform::signal_name(number));
    uv_stop(&loop_);
  }

  // One line, key=value, so scripts can pick any counter.
  void log_counters() { log::info("counters: {}", live_view_->counters_line()); }

  const Config& config_;
  std::unique_ptr<platform::TunDevice> device_;
  uv_loop_t loop_{};
  std::unique_ptr<relay::Relay> relay_;
  std::unique_ptr<stack::Stack> stack_;
  std::unique_ptr<LiveView> live_view_;  // reads relay_ and stack_
  stack::InboundPacket spare_;
  std::unique_ptr<platform::DeviceWatch> device_watch_;
  uv_timer_t* timer_ = nullptr;
  std::vector<uv_signal_t*> signals_;
  std::optional<int> counter_signal_;
  uint64_t ticks_ = 0;
  uint64_t packets_at_last_release_ = 0;
  uint64_t bytes_at_last_check_ = 0;
};

// Every relayed connection holds a socket, and every UDP flow two: lift the soft descriptor
// limit to the hard one (where the OS has one), and say so when even that is low.
void raise_descriptor_limit() {
  std::optional<platform::DescriptorLimit> limit = platform::raise_descriptor_limit();
  if (!limit) return;
  if (limit->current > limit->previous) {
    log::debug("file descriptor limit raised from {} to {}", limit->previous, limit->current);
  }
  constexpr uint64_t kComfortable = 8192;
  if (limit->current < kComfortable) {
    log::warn(
        "file descriptor limit is {}: at most about {} connections can be relayed at once; "
        "raise it (ulimit -n, or LimitNOFILE= for a service)",
        limit->current, limit->current / 2);
  }
}

}  // namespace

int run_tunnel(const Config& given) {
  log::set_level(given.log_level);
  Config config = given;
  if (config.ipv6 && config.ipv6_by_default && !platform::ipv6_enabled()) {
    log::warn("IPv6 is turned off on this system: running IPv4 only (--address6 none says so)");
    config.ipv6.reset();
  }
  if (config.cleanup_only) return SystemSetup::cleanup(config);
  raise_descriptor_limit();
  platform::ignore_broken_pipe();  // a proxy closing mid-write must not kill the process

  relay::RelayOptions relay_options;
  relay::DnsOptions& dns = relay_options.dns;
  dns.upstream = config.dns_upstream;
  std::string error;
  // Leftovers of a crashed run go first: a fail-closed one would block resolving the proxy.
  SystemSetup system(config);
  if (!system.prepare(dns.upstream, error)) {
    log::error("{}", error);
    return 1;
  }
  if (!resolve_proxy(config.proxy, relay_options.proxy.address, error)) {
    log::error("{}", error);
    return 1;
  }
  const sockaddr_storage proxy_address = relay_options.proxy.address;
  relay_options.proxy.credentials = config.proxy.credentials;
  relay_options.proxy.display_name = config.proxy.redacted();
  relay_options.proxy_pipelining = config.proxy_pipelining;
  relay_options.proxy_spares = static_cast<size_t>(config.proxy_spares);
  relay_options.connect_timeout_ms = static_cast<uint64_t>(config.tcp_connect_timeout_s * 1000);
  relay_options.idle_timeout_ms = static_cast<uint64_t>(config.tcp_idle_timeout_s * 1000);
  relay_options.udp_timeout_ms = static_cast<uint64_t>(config.udp_timeout_s * 1000);
  relay_options.max_udp_flows = static_cast<size_t>(config.max_udp_flows);
  relay_options.max_connections = static_cast<size_t>(config.max_connections);
  dns.mode = config.dns == Config::Dns::kFake  ? relay::DnsMode::kFake
             : config.dns == Config::Dns::kTcp ? relay::DnsMode::kTcp
                                               : relay::DnsMode::kUdp;
  dns.intercept = config.dns_addresses;
  dns.fake_ipv4 = config.fake_ip_range;
  dns.fake_ipv6 = config.fake_ip6_range;

  if (!system.socket_hook(proxy_address.ss_family, relay_options.proxy.prepare_socket, error)) {
    log::error("{}", error);
    return 1;
  }

  platform::TunOptions tun_options;
  tun_options.name = config.device_name;
  tun_options.inherited_fd = config.device_fd;
  tun_options.mtu = config.mtu;
  tun_options.ipv4 = to_interface_address(config.ipv4);
  if (config.ipv6) tun_options.ipv6 = to_interface_address(*config.ipv6);
  auto device = platform::TunDevice::open(tun_options, error);
  if (!device) {
    log::error("{}", error);
    return 1;
  }

  // Routes and resolver point at the device from here on; packets wait in its queue until the
  // loop runs. Any failure from here returns through `system`'s destructor, which undoes them.
  if (!system.apply(proxy_address, error)) {
    log::error("{}", error);
    return 1;
  }

  Tunnel tunnel(config, std::move(device));
  if (!tunnel.start(std::move(relay_options), error)) {
    log::error("{}", error);
    return 1;
  }
  log::info("ready: device {}, mtu {}, IPv4 {}, IPv6 {}, proxy {}",
            config.device_fd ? "fd://" + std::to_string(*config.device_fd) : config.device_name,
            config.mtu, config.ipv4, config.ipv6 ? config.ipv6->to_string() : "off",
            config.proxy.redacted());
  tunnel.run();
  system.teardown();  // before the device goes, so traffic never meets a half-removed set
  log::info("stopped");
  return 0;
}

}  // namespace t2s::app
