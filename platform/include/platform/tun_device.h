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

enum class IoStatus { kOk, kWouldBlock, kError };

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
};

}  // namespace t2s::platform
