// Linux TUN device: /dev/net/tun with IFF_TUN | IFF_NO_PI, configured through ioctl on a
// helper socket. A device we create is non-persistent, so the kernel removes it when our
// descriptor closes, even after a crash. It also has IFF_VNET_HDR with checksum offload
// (TUN_F_CSUM): the apps' TCP and UDP leave their checksums to us instead of computing them
// (and segmenting in software with checksums), and a header on each packet says so; we then
// skip verifying them. No segmentation offload towards us: lwIP takes one MTU-sized packet at a
// time. Towards the apps, a run of same-sized UDP datagrams of one flow is written as one packet
// that the kernel cuts up (VIRTIO_NET_HDR_GSO_UDP_L4, Linux 6.2 and later): one system call
// instead of one per datagram.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "platform/tun_device.h"

namespace t2s::platform {
namespace {

// Packets the kernel queues for us while the loop is busy. 4096 overflowed while dante
// negotiated 10,000 connections at once (case_fault_10k on Linux 6.18: tens of thousands of
// drops, among them the apps' ACKs of our SYN-ACKs, so 2-5 % of the connections were lost);
// 16384 absorbed it. The queue only fills while the tunnel is behind.
constexpr int kTransmitQueueLength = 16384;
// Largest virtio-net header we take (the kernel's default is 10 bytes, 12 with num_buffers).
constexpr size_t kMaxHeaderSize = 32;

// The start of struct virtio_net_hdr (linux/virtio_net.h, a fixed ABI; the header itself does
// not compile as C++), in the device's byte order, which matters for none of the fields we use.
struct VirtioNetHeader {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t header_length;
  uint16_t gso_size;
  uint16_t checksum_start;
  uint16_t checksum_offset;
};
static_assert(sizeof(VirtioNetHeader) == 10);
constexpr uint8_t kHeaderNeedsChecksum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
constexpr uint8_t kHeaderDataValid = 2;      // VIRTIO_NET_HDR_F_DATA_VALID
constexpr uint8_t kHeaderGsoNone = 0;        // VIRTIO_NET_HDR_GSO_NONE
constexpr uint8_t kHeaderGsoUdpL4 = 5;       // VIRTIO_NET_HDR_GSO_UDP_L4
constexpr uint16_t kUdpChecksumOffset = 6;   // within the UDP header
constexpr size_t kUdpHeaderSize = 8;

std::string errno_text(int code) {
  return std::strerror(code);
}

// The kernel's struct in6_ifreq (linux/ipv6.h), which cannot be included next to glibc's headers.
struct Ipv6InterfaceRequest {
  in6_addr address;
  uint32_t prefix_length;
  int interface_index;
};

// Closes a descriptor on scope exit unless released.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

bool set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

// The descriptor's readability, polled by libuv (level-triggered: a callback that stops reading
// early is called again on the next loop turn).
class FdWatch final : public DeviceWatch {
 public:
  FdWatch(TunDevice::ReadyCallback on_ready, void* context)
      : on_ready_(on_ready), context_(context) {}
  ~FdWatch() override {
    if (poll_ == nullptr) return;
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(poll_),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); });
  }

  int start(uv_loop_t* loop, int fd) {
    auto* poll = new uv_poll_t{};
    if (int rc = uv_poll_init(loop, poll, fd); rc != 0) {
      delete poll;  // never initialised: nothing for libuv to close
      return rc;
    }
    poll_ = poll;
    poll_->data = this;
    return uv_poll_start(poll_, UV_READABLE, [](uv_poll_t* handle, int status, int) {
      auto* self = static_cast<FdWatch*>(handle->data);
      self->on_ready_(self->context_, status);
    });
  }

 private:
  TunDevice::ReadyCallback on_ready_;
  void* context_;
  uv_poll_t* poll_ = nullptr;
};

class LinuxTunDevice final : public TunDevice {
 public:
  // `header_size`: the virtio-net header before each packet (IFF_VNET_HDR), or 0.
  LinuxTunDevice(int fd, std::string name, int mtu, bool created, size_t header_size)
      : fd_(fd), name_(std::move(name)), mtu_(mtu), created_(created), header_size_(header_size) {}
  ~LinuxTunDevice() override { ::close(fd_); }

  const std::string& name() const override { return name_; }
  int mtu() const override { return mtu_; }
  bool created_by_us() const override { return created_; }
  std::unique_ptr<DeviceWatch> watch(uv_loop_t* loop, ReadyCallback on_ready, void* context,
                                     std::string& error) override {
    auto watch = std::make_unique<FdWatch>(on_ready, context);
    if (int rc = watch->start(loop, fd_); rc != 0) {
      error = "cannot watch the TUN device: " + std::string(uv_strerror(rc));
      return nullptr;
    }
    return watch;
  }

  ReadResult read_packet(std::span<uint8_t> buffer) override {
    // Without a header the first part is empty, and the zeroed header says: plain, unchecked.
    std::array<uint8_t, kMaxHeaderSize> raw{};
    iovec vec[2] = {{raw.data(), header_size_}, {buffer.data(), buffer.size()}};
    ssize_t n = ::readv(fd_, vec, 2);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return {IoStatus::kWouldBlock, 0, 0};
      return {IoStatus::kError, 0, uv_translate_sys_error(errno)};
    }
    VirtioNetHeader header{};
    std::memcpy(&header, raw.data(), sizeof header);
    // A short read or a segmentation-offload packet (never asked for) reads as an empty
    // packet, which the stack counts as malformed.
    if (static_cast<size_t>(n) < header_size_ || header.gso_type != kHeaderGsoNone) {
      return {IoStatus::kOk, 0, 0};
    }
    return {IoStatus::kOk, static_cast<size_t>(n) - header_size_, 0,
            (header.flags & (kHeaderNeedsChecksum | kHeaderDataValid)) != 0};
  }

  IoStatus write_packet(std::span<const std::span<const uint8_t>> parts) override {
    // Our packets carry complete checksums: an all-zero header (no flags, no GSO), or an empty
    // first part on a device without headers.
    static const std::array<uint8_t, kMaxHeaderSize> kPlainHeader{};
    return write_with_header(kPlainHeader.data(), parts);
  }

  IoStatus write_udp_segments(std::span<const std::span<const uint8_t>> parts,
                              const UdpSegments& segments) override {
    if (header_size_ == 0 || !udp_segmentation_ || segments.headers_size < kUdpHeaderSize) {
      return IoStatus::kUnsupported;
    }
    std::array<uint8_t, kMaxHeaderSize> raw{};
    VirtioNetHeader header{};
    header.flags = kHeaderNeedsChecksum;
    header.gso_type = kHeaderGsoUdpL4;
    header.header_length = segments.headers_size;
    header.gso_size = segments.segment_size;
    header.checksum_start = static_cast<uint16_t>(segments.headers_size - kUdpHeaderSize);
    header.checksum_offset = kUdpChecksumOffset;
    std::memcpy(raw.data(), &header, sizeof header);
    IoStatus status = write_with_header(raw.data(), parts);
    // A kernel without UDP segmentation refuses the header as a whole: stop asking.
    if (status == IoStatus::kError && errno == EINVAL) {
      udp_segmentation_ = false;
      return IoStatus::kUnsupported;
    }
    return status;
  }

 private:
  // `header`: header_size_ bytes of virtio-net header to put before the packet.
  IoStatus write_with_header(const uint8_t* header,
                             std::span<const std::span<const uint8_t>> parts) {
    constexpr size_t kMaxParts = 64;
    iovec vec[kMaxParts + 1];
    if (parts.size() > kMaxParts) return IoStatus::kError;
    size_t count = 0;
    vec[count++] = {const_cast<uint8_t*>(header), header_size_};
    for (const auto& part : parts) {
      vec[count++] = {const_cast<uint8_t*>(part.data()), part.size()};
    }
    ssize_t n = ::writev(fd_, vec, static_cast<int>(count));
    if (n >= 0) return IoStatus::kOk;
    return (errno == EAGAIN || errno == EINTR) ? IoStatus::kWouldBlock : IoStatus::kError;
  }

  int fd_;
  std::string name_;
  int mtu_;
  bool created_;
  size_t header_size_;
  bool udp_segmentation_ = true;  // until the kernel refuses it once
};

bool configure_ipv4(int sock, const std::string& name, const InterfaceAddress& address,
                    std::string& error) {
  ifreq request{};
  std::strncpy(request.ifr_name, name.c_str(), IFNAMSIZ - 1);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  std::memcpy(&sin.sin_addr, address.bytes.data(), 4);
  std::memcpy(&request.ifr_addr, &sin, sizeof sin);
  if (::ioctl(sock, SIOCSIFADDR, &request) != 0) {
    error = "cannot set IPv4 address on " + name + ": " + errno_text(errno);
    return false;
  }
  uint32_t mask = address.prefix_length == 0 ? 0 : ~uint32_t{0} << (32 - address.prefix_length);
  sin.sin_addr.s_addr = htonl(mask);
  std::memcpy(&request.ifr_netmask, &sin, sizeof sin);
  if (::ioctl(sock, SIOCSIFNETMASK, &request) != 0) {
    error = "cannot set IPv4 netmask on " + name + ": " + errno_text(errno);
    return false;
  }
  return true;
}

bool configure_ipv6(const std::string& name, const InterfaceAddress& address, std::string& error) {
  FdGuard sock(::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) {
    error = "cannot open an IPv6 socket to configure " + name + ": " + errno_text(errno);
    return false;
  }
  Ipv6InterfaceRequest request{};
  std::memcpy(&request.address, address.bytes.data(), 16);
  request.prefix_length = static_cast<uint32_t>(address.prefix_length);
  request.interface_index = static_cast<int>(::if_nametoindex(name.c_str()));
  if (::ioctl(sock.get(), SIOCSIFADDR, &request) != 0) {
    error = "cannot set IPv6 address on " + name + ": " + errno_text(errno) +
            (errno == EACCES || errno == EADDRNOTAVAIL ? " (is IPv6 disabled?)" : "");
    return false;
  }
  return true;
}

}  // namespace

bool ipv6_enabled() {
  // A new device takes its setting from "default"; without the file IPv6 is not built in.
  int fd = ::open("/proc/sys/net/ipv6/conf/default/disable_ipv6", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char value = '0';
  ssize_t n = ::read(fd, &value, 1);
  ::close(fd);
  return n == 1 && value == '0';
}

std::unique_ptr<TunDevice> TunDevice::open(const TunOptions& options, std::string& error) {
  if (options.inherited_fd) {
    int fd = *options.inherited_fd;
    ifreq request{};
    if (::ioctl(fd, TUNGETIFF, &request) != 0) {
      error = "descriptor " + std::to_string(fd) + " is not a TUN device: " + errno_text(errno);
      return nullptr;
    }
    if (!set_nonblocking(fd)) {
      error =
          "cannot make descriptor " + std::to_string(fd) + " non-blocking: " + errno_text(errno);
      return nullptr;
    }
    // Used as it is: with a virtio-net header only if its creator asked for one.
    int header_size = 0;
    if ((request.ifr_flags & IFF_VNET_HDR) != 0 &&
        (::ioctl(fd, TUNGETVNETHDRSZ, &header_size) != 0 || header_size < 10 ||
         static_cast<size_t>(header_size) > kMaxHeaderSize)) {
      error = "descriptor " + std::to_string(fd) + " has an unsupported virtio-net header";
      return nullptr;
    }
    return std::make_unique<LinuxTunDevice>(fd, request.ifr_name, options.mtu, false,
                                            static_cast<size_t>(header_size));
  }

  if (options.name.size() >= IFNAMSIZ) {
    error = "device name '" + options.name + "' is longer than " + std::to_string(IFNAMSIZ - 1) +
            " characters";
    return nullptr;
  }
  bool existed = !options.name.empty() && ::if_nametoindex(options.name.c_str()) != 0;

  FdGuard fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) {
    error = "cannot open /dev/net/tun: " + errno_text(errno) +
            (errno == ENOENT ? " (load the tun module: modprobe tun)" : "") +
            (errno == EACCES || errno == EPERM ? " (needs root or CAP_NET_ADMIN)" : "");
    return nullptr;
  }
  ifreq request{};
  request.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
  std::strncpy(request.ifr_name, options.name.c_str(), IFNAMSIZ - 1);
  if (::ioctl(fd.get(), TUNSETIFF, &request) != 0) {
    error = "cannot " + std::string(existed ? "attach to" : "create") + " TUN device '" +
            options.name + "': " + errno_text(errno) +
            (errno == EBUSY ? " (another program has it open)" : "") +
            (errno == EPERM ? " (needs root or CAP_NET_ADMIN)" : "") +
            (errno == EINVAL && existed ? " (it exists but is not a TUN device)" : "");
    return nullptr;
  }
  std::string name = request.ifr_name;
  // Best effort: without it the kernel computes every checksum before handing a packet over.
  // Only on a device of our own: offload settings outlive us on a persistent one, and a later
  // user without the header would read packets with their checksums missing.
  if (!existed) ::ioctl(fd.get(), TUNSETOFFLOAD, TUN_F_CSUM);

  FdGuard sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) {
    error = "cannot open a socket to configure " + name + ": " + errno_text(errno);
    return nullptr;
  }
  ifreq mtu_request{};
  std::strncpy(mtu_request.ifr_name, name.c_str(), IFNAMSIZ - 1);
  mtu_request.ifr_mtu = options.mtu;
  if (::ioctl(sock.get(), SIOCSIFMTU, &mtu_request) != 0) {
    error =
        "cannot set MTU " + std::to_string(options.mtu) + " on " + name + ": " + errno_text(errno);
    return nullptr;
  }
  // The kernel queues packets for us here while we are busy; the default 500 overflows under
  // many parallel flows at small MTUs and turns into retransmissions.
  ifreq queue_request{};
  std::strncpy(queue_request.ifr_name, name.c_str(), IFNAMSIZ - 1);
  queue_request.ifr_qlen = kTransmitQueueLength;
  ::ioctl(sock.get(), SIOCSIFTXQLEN, &queue_request);  // best effort: a default queue works too
  if (options.ipv4 && !configure_ipv4(sock.get(), name, *options.ipv4, error)) return nullptr;
  if (options.ipv6 && !configure_ipv6(name, *options.ipv6, error)) return nullptr;

  ifreq flags{};
  std::strncpy(flags.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (::ioctl(sock.get(), SIOCGIFFLAGS, &flags) != 0 ||
      (flags.ifr_flags |= IFF_UP | IFF_RUNNING, ::ioctl(sock.get(), SIOCSIFFLAGS, &flags) != 0)) {
    error = "cannot bring " + name + " up: " + errno_text(errno);
    return nullptr;
  }
  return std::make_unique<LinuxTunDevice>(fd.release(), name, options.mtu, !existed,
                                          sizeof(VirtioNetHeader));
}

}  // namespace t2s::platform
