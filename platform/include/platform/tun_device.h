// The TUN device interface: everything above platform/ sees only this header, never the OS.
// One implementation per OS lives in its own folder (linux/, windows/; macos/ later).
#pragma once

#include <uv.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

namespace t2s::platform {

// An interface address with prefix, in network byte order (IPv4 uses the first 4 bytes).
struct InterfaceAddress {
  bool is_v6 = false;
  std::array<uint8_t, 16> bytes{};
  int prefix_length = 0;
};

struct TunOptions {
  // Device name to create or attach to; empty lets the OS pick.
  std::string name;
  // An already open TUN descriptor handed in by an embedding program (`--device fd://N`).
  // The device is then used as it is: no addresses, MTU or link state are changed.
  std::optional<int> inherited_fd;
  int mtu = 1500;
  std::optional<InterfaceAddress> ipv4;
  std::optional<InterfaceAddress> ipv6;
};

// kUnsupported: the device cannot do what was asked (see write_udp_segments); nothing was written.
enum class IoStatus { kOk, kWouldBlock, kError, kUnsupported };

// One write that the OS cuts into several UDP datagrams (segmentation offload): the parts make an
// IPv4 or IPv6 packet whose first `headers_size` bytes are the IP and UDP headers, with lengths
// for the whole payload and, in the UDP checksum field, only the pseudo-header's sum (not
// inverted); the payload follows. The OS sends it as datagrams of `segment_size` payload bytes
// each (the last may be shorter), each with its own lengths, IP ID and checksums.
struct UdpSegments {
  uint16_t headers_size = 0;
  uint16_t segment_size = 0;
};

struct ReadResult {
  IoStatus status = IoStatus::kOk;
  size_t size = 0;  // packet length when kOk
  int error = 0;    // libuv error code (negative, for uv_strerror) when kError
  // The OS vouches for the packet's TCP/UDP checksum: it comes from the local stack, which left
  // the checksum to the device (offload), or was verified on arrival. The field may then hold
  // only a partial sum, so it must not be checked.
  bool checksum_trusted = false;
};

// False when the system has IPv6 turned off, so a new device cannot get an IPv6 address
// (Docker's default for containers).
bool ipv6_enabled();

// Stops the device's wake-ups when destroyed; owns the libuv handles behind them.
class DeviceWatch {
 public:
  virtual ~DeviceWatch() = default;
};

class TunDevice {
 public:
  virtual ~TunDevice() = default;

  // Opens (creating if needed) and configures the device: MTU, addresses, link up.
  // On failure returns nullptr and sets `error` to a sentence naming the step that failed.
  static std::unique_ptr<TunDevice> open(const TunOptions& options, std::string& error);

  virtual const std::string& name() const = 0;
  virtual int mtu() const = 0;
  // True when this process created the device (it is removed again when the device closes).
  virtual bool created_by_us() const = 0;
  // Calls `on_ready(context, status)` on `loop` whenever packets may wait, until the returned
  // watch is destroyed; the callback then reads packets with read_packet until kWouldBlock (or
  // stops early: the device wakes it again while packets are left). `status` is 0, or a libuv
  // error code when the device failed. Linux polls the descriptor; Windows wakes the loop from
  // Wintun's read-wait event. Returns nullptr with `error` set on failure.
  using ReadyCallback = void (*)(void* context, int status);
  virtual std::unique_ptr<DeviceWatch> watch(uv_loop_t* loop, ReadyCallback on_ready, void* context,
                                             std::string& error) = 0;

  // Non-blocking: reads one raw IPv4/IPv6 packet into `buffer`.
  virtual ReadResult read_packet(std::span<uint8_t> buffer) = 0;
  // Non-blocking: writes one packet given as consecutive parts (gather write).
  virtual IoStatus write_packet(std::span<const std::span<const uint8_t>> parts) = 0;
  // Non-blocking: writes several UDP datagrams of one flow as one packet with segmentation
  // offload (see UdpSegments). kUnsupported, with nothing written, where the device cannot (no
  // virtio-net header, a kernel before 6.2, Windows); the caller then writes them one by one.
  virtual IoStatus write_udp_segments(std::span<const std::span<const uint8_t>> parts,
                                      const UdpSegments& segments) {
    (void)parts;
    (void)segments;
    return IoStatus::kUnsupported;
  }
};

}  // namespace t2s::platform
