// udp_blast: paced bulk UDP for the benchmark (tools/bench/bench.sh, udp group), so the tunnel's
// UDP goodput can be set beside the same load sent through dante's UDP ASSOCIATE directly, which
// iperf3 cannot do.
//
//   udp_blast serve --listen ADDR --port P
//   udp_blast send|recv --host H --port P [--bitrate 1G] [--length 1400] [--seconds 10]
//                       [--socks PROXY:PORT]
//
// serve (net namespace) counts the datagrams of each session, answers a query with the count,
// and on a start request sends datagrams at the asked rate back to the requester, then end
// markers carrying how many it sent. send (upload) paces datagrams to the server and then asks
// it what arrived; recv (download) asks the server to send and counts what arrives. With --socks
// the client speaks SOCKS5 UDP ASSOCIATE itself (the project's codec) and wraps every datagram
// in the SOCKS5 UDP header; without it, plain UDP (through the tunnel when the routes point into
// it). The client prints one JSON line: offered rate, sent, received, goodput, loss.
// --length is the app payload, as iperf3's -l. Plain blocking POSIX sockets: Linux only.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "net/address.h"
#include "net/result.h"
#include "socks5/codec.h"
#include "socks5/udp_codec.h"

namespace {

using t2s::net::Endpoint;
using t2s::net::IpAddress;
using t2s::net::Result;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int kBadArguments = 2;
constexpr int kRunFailed = 1;

// Every datagram of ours starts with this header (big-endian fields); data datagrams are padded
// to the asked length behind it.
constexpr size_t kHeaderSize = 48;
constexpr uint8_t kMagic[4] = {'U', 'B', 'L', '1'};
constexpr size_t kMaxLength = 65000;  // payload; leaves room for a SOCKS5 header within 65507
constexpr int kMaxSeconds = 120;
constexpr double kMaxBitrate = 100e9;
constexpr size_t kBatch = 64;           // datagrams per sendmmsg / recvmmsg
constexpr int kSocketBuffer = 4 << 20;  // as tests/e2e/udp_peer.py's sockets
constexpr size_t kMaxSessions = 256;    // server: counted sessions kept (oldest forgotten)
constexpr size_t kMaxDownloads = 4;     // server: downloads sent at the same time
constexpr int kEndMarkers = 5;          // server: sent 20 ms apart after a download's data
constexpr auto kEndMarkerGap = 20ms;

enum class Kind : uint8_t {
  kData = 1,    // a = sequence number
  kQuery = 2,   // client -> server: what arrived of this session?
  kReport = 3,  // server -> client: a = datagrams received, b = payload bytes received
  kStart = 4,   // client -> server: a = bit/s, b = length, c = milliseconds
  kEnd = 5,     // server -> client: a = datagrams sent, b = payload bytes sent
};

struct Message {
  Kind kind = Kind::kData;
  uint64_t session = 0;
  uint64_t a = 0, b = 0, c = 0;
};

void put_u64(uint8_t* out, uint64_t value) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<uint8_t>(value & 0xFF);
    value >>= 8;
  }
}

uint64_t get_u64(const uint8_t* in) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | in[i];
  return value;
}

// Writes the header into out[0, kHeaderSize); the caller guarantees the room.
void write_message(const Message& message, uint8_t* out) {
  std::memcpy(out, kMagic, sizeof kMagic);
  out[4] = static_cast<uint8_t>(message.kind);
  out[5] = out[6] = out[7] = 0;
  put_u64(out + 8, message.session);
  put_u64(out + 16, message.a);
  put_u64(out + 24, message.b);
  put_u64(out + 32, message.c);
  std::memset(out + 40, 0, kHeaderSize - 40);
}

// Anything that is not one of our messages (too short, wrong magic, unknown kind) is nullopt.
std::optional<Message> read_message(std::span<const uint8_t> datagram) {
  if (datagram.size() < kHeaderSize || std::memcmp(datagram.data(), kMagic, sizeof kMagic) != 0) {
    return std::nullopt;
  }
  const uint8_t kind = datagram[4];
  if (kind < static_cast<uint8_t>(Kind::kData) || kind > static_cast<uint8_t>(Kind::kEnd)) {
    return std::nullopt;
  }
  return Message{static_cast<Kind>(kind), get_u64(&datagram[8]), get_u64(&datagram[16]),
                 get_u64(&datagram[24]), get_u64(&datagram[32])};
}

// Owns one socket descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
};

std::string errno_text(std::string_view what) {
  return std::string(what) + ": " + std::strerror(errno);
}

socklen_t sockaddr_size(const sockaddr_storage& address) {
  return address.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

Result<Fd> udp_socket(const IpAddress& family_of) {
  Fd fd(::socket(family_of.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Result<Fd>::failure(errno_text("socket"));
  // Best effort: the kernel caps them at net.core.[rw]mem_max.
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &kSocketBuffer, sizeof kSocketBuffer);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &kSocketBuffer, sizeof kSocketBuffer);
  return Result<Fd>::success(std::move(fd));
}

// How many datagrams should have gone `elapsed` after the start at `per_second`.
struct Pacer {
  Clock::time_point start;
  double per_second = 0;

  uint64_t due(Clock::time_point now) const {
    const std::chrono::duration<double> elapsed = now - start;
    return static_cast<uint64_t>(elapsed.count() * per_second);
  }
  // When the `count`th datagram is due.
  Clock::time_point when(uint64_t count) const {
    return start + std::chrono::duration_cast<Clock::duration>(
                       std::chrono::duration<double>(static_cast<double>(count) / per_second));
  }
};

// kBatch datagrams of one size laid out back to back, with the mmsghdr/iovec array pointing at
// them, all going to one address. The headers point into the object, so it is never copied.
class SendBatch {
 public:
  SendBatch(size_t datagram_size, const sockaddr_storage& destination)
      : size_(datagram_size), destination_(destination), storage_(kBatch * datagram_size) {
    for (size_t i = 0; i < kBatch; ++i) {
      iovecs_[i] = {&storage_[i * size_], size_};
      headers_[i] = {};
      headers_[i].msg_hdr.msg_name = &destination_;
      headers_[i].msg_hdr.msg_namelen = sockaddr_size(destination_);
      headers_[i].msg_hdr.msg_iov = &iovecs_[i];
      headers_[i].msg_hdr.msg_iovlen = 1;
    }
  }
  SendBatch(const SendBatch&) = delete;
  SendBatch& operator=(const SendBatch&) = delete;
  uint8_t* datagram(size_t index) { return &storage_[index * size_]; }
  // Sends datagrams [0, count); returns how many the kernel took, or -1 with errno.
  int send(int fd, size_t count) {
    return ::sendmmsg(fd, headers_.data(), static_cast<unsigned>(count), 0);
  }

 private:
  size_t size_;
  sockaddr_storage destination_;
  std::vector<uint8_t> storage_;
  std::array<iovec, kBatch> iovecs_{};
  std::array<mmsghdr, kBatch> headers_{};
};

// kBatch receive slots of `slot_size` bytes for recvmmsg, with each datagram's source.
class ReceiveBatch {
 public:
  explicit ReceiveBatch(size_t slot_size) : size_(slot_size), storage_(kBatch * slot_size) {}
  // Non-blocking; returns the datagrams read (0 when none is waiting), -1 with errno.
  int receive(int fd) {
    for (size_t i = 0; i < kBatch; ++i) {
      iovecs_[i] = {&storage_[i * size_], size_};
      headers_[i] = {};
      headers_[i].msg_hdr.msg_name = &sources_[i];
      headers_[i].msg_hdr.msg_namelen = sizeof sources_[i];
      headers_[i].msg_hdr.msg_iov = &iovecs_[i];
      headers_[i].msg_hdr.msg_iovlen = 1;
    }
    const int count = ::recvmmsg(fd, headers_.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    return count;
  }
  // Datagram `index` of the last receive; empty when the kernel truncated it (longer than a
  // slot: not ours).
  std::span<const uint8_t> datagram(size_t index) const {
    if (headers_[index].msg_hdr.msg_flags & MSG_TRUNC) return {};
    return {&storage_[index * size_], headers_[index].msg_len};
  }
  const sockaddr_storage& source(size_t index) const { return sources_[index]; }

 private:
  size_t size_;
  std::vector<uint8_t> storage_;
  std::array<iovec, kBatch> iovecs_{};
  std::array<mmsghdr, kBatch> headers_{};
  std::array<sockaddr_storage, kBatch> sources_{};
};

// Waits up to `timeout` for the socket to become readable; false on timeout or a signal.
bool wait_readable(int fd, Clock::duration timeout) {
  const auto nanoseconds = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
  const timespec limit{static_cast<time_t>(std::max<int64_t>(0, nanoseconds) / 1'000'000'000),
                       static_cast<long>(std::max<int64_t>(0, nanoseconds) % 1'000'000'000)};
  pollfd entry{fd, POLLIN, 0};
  return ::ppoll(&entry, 1, &limit, nullptr) > 0;
}

// ------------------------------------------------------------------------------ arguments

struct Options {
  std::string mode;  // serve, send or recv
  std::optional<IpAddress> listen;
  std::optional<IpAddress> host;
  uint16_t port = 0;
  double bitrate = 1e9;
  size_t length = 1400;
  int seconds = 10;
  std::optional<Endpoint> socks;
};

constexpr std::string_view kUsage =
    "usage: udp_blast serve --listen ADDR --port P\n"
    "       udp_blast send|recv --host H --port P [--bitrate 1G] [--length 1400] [--seconds 10]\n"
    "                           [--socks PROXY:PORT]\n"
    "  --bitrate: bit/s of app payload, K/M/G = 10^3/10^6/10^9; --length: 48..65000 bytes;\n"
    "  --seconds: 1..120; --socks: speak SOCKS5 UDP ASSOCIATE to that proxy (IP:PORT or "
    "[IPv6]:PORT)\n";

std::optional<uint64_t> parse_unsigned(std::string_view text) {
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// "1G", "500M", "2.5G", "800000": bit/s, decimal multiples as iperf3 reads -b.
std::optional<double> parse_bitrate(std::string_view text) {
  double scale = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'k':
      case 'K':
        scale = 1e3;
        break;
      case 'm':
      case 'M':
        scale = 1e6;
        break;
      case 'g':
      case 'G':
        scale = 1e9;
        break;
      default:
        break;
    }
    if (scale != 1) text.remove_suffix(1);
  }
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value * scale;
}

std::optional<Endpoint> parse_endpoint(std::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const auto address = IpAddress::parse(host);
  const auto port = parse_unsigned(text.substr(colon + 1));
  if (!address || !port || *port == 0 || *port > 65535) return std::nullopt;
  return Endpoint{address.value(), static_cast<uint16_t>(*port)};
}

// Options, or the reason the command line is wrong.
Result<Options> parse_options(int argc, char** argv) {
  using R = Result<Options>;
  if (argc < 2) return R::failure("missing mode (serve, send or recv)");
  Options options;
  options.mode = argv[1];
  const bool serve = options.mode == "serve";
  if (!serve && options.mode != "send" && options.mode != "recv") {
    return R::failure("unknown mode '" + options.mode + "' (serve, send or recv)");
  }
  bool have_port = false;
  for (int i = 2; i < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) return R::failure(std::string(flag) + " needs a value");
    const std::string_view value = argv[i + 1];
    const auto bad = [&](std::string_view expected) {
      return R::failure(std::string(flag) + ": '" + std::string(value) + "' " +
                        std::string(expected));
    };
    if (flag == "--port") {
      const auto port = parse_unsigned(value);
      if (!port || *port == 0 || *port > 65535) return bad("is not a port (1..65535)");
      options.port = static_cast<uint16_t>(*port);
      have_port = true;
    } else if (serve && flag == "--listen") {
      auto address = IpAddress::parse(value);
      if (!address) return bad("is not an IP address");
      options.listen = address.value();
    } else if (!serve && flag == "--host") {
      auto address = IpAddress::parse(value);
      if (!address) return bad("is not an IP address");
      options.host = address.value();
    } else if (!serve && flag == "--bitrate") {
      const auto bitrate = parse_bitrate(value);
      if (!bitrate || *bitrate < 1000 || *bitrate > kMaxBitrate) {
        return bad("is not a bit rate from 1K to 100G (e.g. 500M, 1G)");
      }
      options.bitrate = *bitrate;
    } else if (!serve && flag == "--length") {
      const auto length = parse_unsigned(value);
      if (!length || *length < kHeaderSize || *length > kMaxLength) {
        return bad("must be " + std::to_string(kHeaderSize) + ".." + std::to_string(kMaxLength));
      }
      options.length = *length;
    } else if (!serve && flag == "--seconds") {
      const auto seconds = parse_unsigned(value);
      if (!seconds || *seconds < 1 || *seconds > kMaxSeconds) {
        return bad("must be 1.." + std::to_string(kMaxSeconds));
      }
      options.seconds = static_cast<int>(*seconds);
    } else if (!serve && flag == "--socks") {
      options.socks = parse_endpoint(value);
      if (!options.socks) return bad("is not IP:PORT or [IPv6]:PORT");
    } else {
      return R::failure("unknown option '" + std::string(flag) + "' for " + options.mode);
    }
  }
  if (!have_port) return R::failure("--port is required");
  if (serve && !options.listen) return R::failure("--listen is required");
  if (!serve && !options.host) return R::failure("--host is required");
  return R::success(std::move(options));
}

// ------------------------------------------------------------------------------ server

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_stop_signal(int) {
  g_stop = 1;
}

struct SessionCount {
  uint64_t datagrams = 0;
  uint64_t bytes = 0;
  bool download_asked = false;  // a later start of the same session is a duplicate
  Clock::time_point last_seen;
};

struct Download {
  uint64_t session = 0;
  sockaddr_storage peer{};
  size_t length = 0;
  Pacer pacer;
  Clock::time_point data_end;
  uint64_t sent = 0;
  int markers_sent = 0;
  Clock::time_point next_marker;
  std::unique_ptr<SendBatch> batch;
};

class Server {
 public:
  Server(Fd socket, std::string name) : socket_(std::move(socket)), name_(std::move(name)) {}

  int run() {
    std::fprintf(stderr, "udp_blast serve: listening on %s\n", name_.c_str());
    ReceiveBatch received(kMaxLength + 1);
    while (!g_stop) {
      wait_readable(socket_.get(), next_wakeup() - Clock::now());
      // A few batches at most, so a flood of uploads cannot starve a download's pacing.
      for (int round = 0; round < 8 && !g_stop; ++round) {
        const int count = received.receive(socket_.get());
        if (count < 0 && errno != EINTR) {
          std::fprintf(stderr, "udp_blast serve: %s\n", errno_text("recvmmsg").c_str());
        }
        if (count <= 0) break;
        const auto now = Clock::now();
        for (int i = 0; i < count; ++i) {
          handle(received.datagram(i), received.source(i), now);
        }
        if (count < static_cast<int>(kBatch)) break;
      }
      serve_downloads();
    }
    std::fprintf(stderr, "udp_blast serve: stopped; %zu sessions counted, %llu junk datagrams\n",
                 sessions_.size(), static_cast<unsigned long long>(junk_));
    return 0;
  }

 private:
  Clock::time_point next_wakeup() const {
    auto wakeup = Clock::now() + 500ms;
    for (const auto& download : downloads_) {
      const auto next = download.sent < download.pacer.due(download.data_end)
                            ? download.pacer.when(download.sent + 1)
                            : download.next_marker;
      wakeup = std::min(wakeup, next);
    }
    return wakeup;
  }

  SessionCount& session(uint64_t id, Clock::time_point now) {
    auto found = sessions_.find(id);
    if (found == sessions_.end()) {
      if (sessions_.size() >= kMaxSessions) {
        auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](auto& x, auto& y) {
          return x.second.last_seen < y.second.last_seen;
        });
        sessions_.erase(oldest);
      }
      found = sessions_.emplace(id, SessionCount{}).first;
    }
    found->second.last_seen = now;
    return found->second;
  }

  void handle(std::span<const uint8_t> datagram, const sockaddr_storage& source,
              Clock::time_point now) {
    const auto message = read_message(datagram);
    if (!message) {
      ++junk_;
      return;
    }
    switch (message->kind) {
      case Kind::kData: {
        auto& count = session(message->session, now);
        ++count.datagrams;
        count.bytes += datagram.size();
        return;
      }
      case Kind::kQuery: {
        const auto& count = session(message->session, now);
        uint8_t reply[kHeaderSize];
        write_message({Kind::kReport, message->session, count.datagrams, count.bytes, 0}, reply);
        ::sendto(socket_.get(), reply, sizeof reply, 0, reinterpret_cast<const sockaddr*>(&source),
                 sockaddr_size(source));
        return;
      }
      case Kind::kStart:
        start_download(*message, source, now);
        return;
      default:
        ++junk_;  // reports and end markers only go the other way
        return;
    }
  }

  void start_download(const Message& start, const sockaddr_storage& peer, Clock::time_point now) {
    const double bitrate = static_cast<double>(start.a);
    const uint64_t length = start.b;
    const uint64_t milliseconds = start.c;
    if (bitrate < 1000 || bitrate > kMaxBitrate || length < kHeaderSize || length > kMaxLength ||
        milliseconds == 0 || milliseconds > kMaxSeconds * 1000ULL) {
      ++junk_;
      return;
    }
    auto& count = session(start.session, now);
    if (count.download_asked) return;  // a repeated start while the first one's data is on its way
    if (downloads_.size() >= kMaxDownloads) {
      std::fprintf(stderr,
                   "udp_blast serve: session %016llx: %zu downloads running, start dropped\n",
                   static_cast<unsigned long long>(start.session), downloads_.size());
      return;
    }
    count.download_asked = true;
    Download download;
    download.session = start.session;
    download.peer = peer;
    download.length = length;
    download.pacer = {now, bitrate / (static_cast<double>(length) * 8)};
    download.data_end = now + std::chrono::milliseconds(milliseconds);
    download.next_marker = download.data_end;
    download.batch = std::make_unique<SendBatch>(length, peer);
    for (size_t i = 0; i < kBatch; ++i) {
      write_message({Kind::kData, start.session, 0, 0, 0}, download.batch->datagram(i));
    }
    std::fprintf(stderr, "udp_blast serve: session %016llx: download %.0f bit/s, %llu B, %llu ms\n",
                 static_cast<unsigned long long>(start.session), bitrate,
                 static_cast<unsigned long long>(length),
                 static_cast<unsigned long long>(milliseconds));
    downloads_.push_back(std::move(download));
  }

  void serve_downloads() {
    const auto now = Clock::now();
    for (auto& download : downloads_) {
      const uint64_t due = download.pacer.due(std::min(now, download.data_end));
      while (download.sent < due && !g_stop) {
        const size_t count = std::min<uint64_t>(due - download.sent, kBatch);
        for (size_t i = 0; i < count; ++i) {
          put_u64(download.batch->datagram(i) + 16, download.sent + i);
        }
        const int taken = download.batch->send(socket_.get(), count);
        if (taken < 0) {
          if (errno == EINTR) continue;
          // ENOBUFS and the like: those datagrams were never sent; pacing moves on.
          std::fprintf(stderr, "udp_blast serve: %s\n", errno_text("sendmmsg").c_str());
          break;
        }
        download.sent += static_cast<uint64_t>(taken);
      }
      if (now >= download.data_end && now >= download.next_marker) {
        uint8_t marker[kHeaderSize];
        write_message(
            {Kind::kEnd, download.session, download.sent, download.sent * download.length, 0},
            marker);
        ::sendto(socket_.get(), marker, sizeof marker, 0,
                 reinterpret_cast<const sockaddr*>(&download.peer), sockaddr_size(download.peer));
        ++download.markers_sent;
        download.next_marker = now + kEndMarkerGap;
      }
    }
    std::erase_if(downloads_, [](const Download& download) {
      if (download.markers_sent < kEndMarkers) return false;
      std::fprintf(stderr, "udp_blast serve: session %016llx: download done, %llu datagrams\n",
                   static_cast<unsigned long long>(download.session),
                   static_cast<unsigned long long>(download.sent));
      return true;
    });
  }

  Fd socket_;
  std::string name_;
  std::unordered_map<uint64_t, SessionCount> sessions_;
  std::vector<Download> downloads_;
  uint64_t junk_ = 0;
};

int run_server(const Options& options) {
  auto socket = udp_socket(*options.listen);
  if (!socket) {
    std::fprintf(stderr, "udp_blast serve: %s\n", socket.error().c_str());
    return kRunFailed;
  }
  const Endpoint local{*options.listen, options.port};
  const sockaddr_storage address = t2s::net::to_sockaddr(local);
  if (::bind(socket->get(), reinterpret_cast<const sockaddr*>(&address), sockaddr_size(address)) !=
      0) {
    std::fprintf(stderr, "udp_blast serve: %s\n", errno_text("bind " + local.to_string()).c_str());
    return kRunFailed;
  }
  // No SA_RESTART: a blocking call returns EINTR and the loop sees the flag.
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGINT, &action, nullptr);
  return Server(std::move(socket.value()), local.to_string()).run();
}

// ------------------------------------------------------------------------------ client

// The client's way to the server: plain UDP to it, or through a SOCKS5 UDP association (the
// TCP control connection stays open for the association's lifetime).
class Path {
 public:
  static Result<Path> open(const Endpoint& server, const std::optional<Endpoint>& socks) {
    Path path;
    if (!socks) {
      auto socket = udp_socket(server.address);
      if (!socket) return Result<Path>::failure(socket.error());
      path.udp_ = std::move(socket.value());
      path.destination_ = t2s::net::to_sockaddr(server);
      return Result<Path>::success(std::move(path));
    }
    auto relay = path.associate(*socks);
    if (!relay) return Result<Path>::failure(relay.error());
    auto socket = udp_socket(relay->address);
    if (!socket) return Result<Path>::failure(socket.error());
    path.udp_ = std::move(socket.value());
    path.destination_ = t2s::net::to_sockaddr(relay.value());
    path.prefix_.resize(t2s::socks5::udp_header_size(server));
    t2s::socks5::write_udp_header(server, path.prefix_);
    path.socks_ = true;
    return Result<Path>::success(std::move(path));
  }

  int fd() const { return udp_.get(); }
  const sockaddr_storage& destination() const { return destination_; }
  // The SOCKS5 UDP header every datagram to the server starts with (empty for plain UDP).
  std::span<const uint8_t> prefix() const { return prefix_; }
  // The payload of a received datagram: behind the SOCKS5 header when there is one; nullopt
  // when that header is malformed or announces a fragment.
  std::optional<std::span<const uint8_t>> payload_of(std::span<const uint8_t> datagram) const {
    if (!socks_) return datagram;
    const auto header = t2s::socks5::decode_udp_header(datagram);
    if (header.status != t2s::socks5::DecodeStatus::kOk || header.value.fragment != 0) {
      return std::nullopt;
    }
    return datagram.subspan(header.value.length);
  }
  void send(const Message& message) const {
    std::vector<uint8_t> datagram(prefix_);
    datagram.resize(prefix_.size() + kHeaderSize);
    write_message(message, &datagram[prefix_.size()]);
    ::sendto(udp_.get(), datagram.data(), datagram.size(), 0,
             reinterpret_cast<const sockaddr*>(&destination_), sockaddr_size(destination_));
  }

 private:
  // Reads from the control connection until `decode` has a whole message.
  template <typename Decode>
  auto read_decoded(Decode decode, std::string_view what)
      -> Result<decltype(decode(std::span<const uint8_t>()).value)> {
    using Value = decltype(decode(std::span<const uint8_t>()).value);
    std::vector<uint8_t> bytes;
    for (;;) {
      auto decoded = decode(bytes);
      if (decoded.status == t2s::socks5::DecodeStatus::kOk) {
        return Result<Value>::success(std::move(decoded.value));
      }
      if (decoded.status == t2s::socks5::DecodeStatus::kMalformed) {
        return Result<Value>::failure(std::string(what) + ": " + decoded.error);
      }
      uint8_t byte = 0;
      const ssize_t got = ::recv(control_.get(), &byte, 1, 0);
      if (got == 0) return Result<Value>::failure(std::string(what) + ": proxy closed");
      if (got < 0) return Result<Value>::failure(errno_text(what));
      bytes.push_back(byte);
    }
  }

  bool send_all(std::span<const uint8_t> bytes) const {
    while (!bytes.empty()) {
      const ssize_t sent = ::send(control_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (sent < 0 && errno == EINTR) continue;
      if (sent <= 0) return false;
      bytes = bytes.subspan(static_cast<size_t>(sent));
    }
    return true;
  }

  // Greeting (no authentication) and UDP ASSOCIATE; returns the relay's address.
  Result<Endpoint> associate(const Endpoint& proxy) {
    using R = Result<Endpoint>;
    const std::string where = "SOCKS5 proxy " + proxy.to_string();
    control_ =
        Fd(::socket(proxy.address.is_v4() ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!control_.valid()) return R::failure(errno_text("socket"));
    const timeval limit{10, 0};  // the whole handshake is a few small messages
    ::setsockopt(control_.get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    ::setsockopt(control_.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    const sockaddr_storage address = t2s::net::to_sockaddr(proxy);
    if (::connect(control_.get(), reinterpret_cast<const sockaddr*>(&address),
                  sockaddr_size(address)) != 0) {
      return R::failure(errno_text("connect to " + where));
    }
    if (!send_all(t2s::socks5::encode_greeting(false))) return R::failure(errno_text(where));
    auto method = read_decoded(t2s::socks5::decode_method_selection, where + " greeting");
    if (!method) return R::failure(method.error());
    if (method.value() != t2s::socks5::Method::kNoAuth) {
      return R::failure(where + " wants authentication");
    }
    // DST 0.0.0.0:0: the client's UDP source is not known before its first datagram.
    const Endpoint any{IpAddress::parse("0.0.0.0").value(), 0};
    if (!send_all(t2s::socks5::encode_request(t2s::socks5::Command::kUdpAssociate, any))) {
      return R::failure(errno_text(where));
    }
    auto reply = read_decoded(t2s::socks5::decode_reply, where + " UDP ASSOCIATE reply");
    if (!reply) return R::failure(reply.error());
    if (reply->code != static_cast<uint8_t>(t2s::socks5::ReplyCode::kSucceeded)) {
      return R::failure(where +
                        " refused UDP ASSOCIATE: " + t2s::socks5::reply_code_message(reply->code));
    }
    const auto* relay = std::get_if<Endpoint>(&reply->bound);
    if (!relay) return R::failure(where + " named its UDP relay by domain name");
    Endpoint result = *relay;
    if (result.address.is_unspecified()) result.address = proxy.address;
    return R::success(result);
  }

  Fd control_;
  Fd udp_;
  sockaddr_storage destination_{};
  std::vector<uint8_t> prefix_;
  bool socks_ = false;
};

struct Outcome {
  uint64_t sent = 0;
  bool sent_known = false;  // a download's count comes with the server's end markers
  uint64_t received = 0;
  uint64_t send_errors = 0;
  std::string error;  // why the run has no figure
};

uint64_t new_session_id() {
  std::random_device random;
  return (static_cast<uint64_t>(random()) << 32) ^ random();
}

// Upload: paced datagrams to the server, then its count of what arrived.
Outcome run_upload(const Path& path, const Options& options, uint64_t session) {
  Outcome outcome;
  const size_t prefix = path.prefix().size();
  SendBatch batch(prefix + options.length, path.destination());
  for (size_t i = 0; i < kBatch; ++i) {
    std::memcpy(batch.datagram(i), path.prefix().data(), prefix);
    write_message({Kind::kData, session, 0, 0, 0}, batch.datagram(i) + prefix);
  }
  const auto start = Clock::now();
  const Pacer pacer{start, options.bitrate / (static_cast<double>(options.length) * 8)};
  const auto end = start + std::chrono::seconds(options.seconds);
  uint64_t attempted = 0;  // datagrams the pacing has used up, taken by the kernel or not
  for (auto now = start; now < end; now = Clock::now()) {
    const uint64_t due = pacer.due(now);
    if (attempted >= due) {
      std::this_thread::sleep_until(std::min(pacer.when(attempted + 1), end));
      continue;
    }
    const size_t count = std::min<uint64_t>(due - attempted, kBatch);
    for (size_t i = 0; i < count; ++i) put_u64(batch.datagram(i) + prefix + 16, attempted + i);
    const int taken = batch.send(path.fd(), count);
    if (taken < 0) {
      if (errno == EINTR) continue;
      ++outcome.send_errors;  // e.g. ENOBUFS: this batch is lost on our side
      attempted += count;
      continue;
    }
    attempted += static_cast<uint64_t>(taken);
    outcome.sent += static_cast<uint64_t>(taken);
  }
  outcome.sent_known = true;
  // Let the queues drain, then ask until two answers 300 ms apart agree (late datagrams).
  std::this_thread::sleep_for(300ms);
  ReceiveBatch replies(t2s::socks5::kMaxUdpHeaderSize + kHeaderSize + 1);
  std::optional<uint64_t> last;
  for (int attempt = 0; attempt < 20; ++attempt) {
    path.send({Kind::kQuery, session, 0, 0, 0});
    std::optional<uint64_t> answer;
    const auto deadline = Clock::now() + 300ms;
    while (!answer && wait_readable(path.fd(), deadline - Clock::now())) {
      const int count = replies.receive(path.fd());
      for (int i = 0; i < count; ++i) {
        const auto payload = path.payload_of(replies.datagram(i));
        const auto message = payload ? read_message(*payload) : std::nullopt;
        if (message && message->kind == Kind::kReport && message->session == session) {
          answer = message->a;
        }
      }
    }
    if (!answer) continue;
    if (last && *last == *answer) break;
    last = answer;
    std::this_thread::sleep_for(300ms);
  }
  if (!last) {
    outcome.error = "the server never answered the count query";
    return outcome;
  }
  outcome.received = *last;
  return outcome;
}

// Download: asks the server to send, counts what arrives until its end marker (or silence).
Outcome run_download(const Path& path, const Options& options, uint64_t session) {
  Outcome outcome;
  ReceiveBatch received(t2s::socks5::kMaxUdpHeaderSize + options.length + 1);
  const Message start{Kind::kStart, session, static_cast<uint64_t>(options.bitrate), options.length,
                      static_cast<uint64_t>(options.seconds) * 1000};
  const auto begin = Clock::now();
  const auto hard_end = begin + std::chrono::seconds(options.seconds + 15);
  std::optional<Clock::time_point> first_data;
  auto last_datagram = begin;
  bool ended = false;
  int starts = 0;
  auto next_start = begin;
  while (!ended) {
    const auto now = Clock::now();
    if (now >= hard_end) break;
    if (!first_data) {
      if (now >= next_start) {
        if (starts == 10) {
          outcome.error = "no data after 10 start requests";
          return outcome;
        }
        path.send(start);  // again until data flows; the server ignores repeats
        ++starts;
        next_start = now + 500ms;
      }
    } else if (now - last_datagram > 2s &&
               now > *first_data + std::chrono::seconds(options.seconds)) {
      break;  // the end markers were lost
    }
    if (!wait_readable(path.fd(), 100ms)) continue;
    // After an end marker, whatever is already queued is read, then the run ends.
    for (int count = received.receive(path.fd()); count > 0; count = received.receive(path.fd())) {
      last_datagram = Clock::now();
      for (int i = 0; i < count; ++i) {
        const auto payload = path.payload_of(received.datagram(i));
        const auto message = payload ? read_message(*payload) : std::nullopt;
        if (!message || message->session != session) continue;
        if (message->kind == Kind::kData && payload->size() == options.length) {
          ++outcome.received;
          if (!first_data) first_data = last_datagram;
        } else if (message->kind == Kind::kEnd) {
          outcome.sent = message->a;
          outcome.sent_known = true;
          ended = true;
          if (!first_data) first_data = last_datagram;
        }
      }
      if (!ended) break;
    }
  }
  if (!first_data) outcome.error = "no data arrived";
  return outcome;
}

int run_client(const Options& options) {
  const Endpoint server{*options.host, options.port};
  const bool upload = options.mode == "send";
  auto path = Path::open(server, options.socks);
  const uint64_t session = new_session_id();
  Outcome outcome;
  if (!path) {
    outcome.error = path.error();
  } else {
    outcome = upload ? run_upload(path.value(), options, session)
                     : run_download(path.value(), options, session);
  }
  const double payload_bits = static_cast<double>(outcome.received * options.length) * 8;
  const double goodput = payload_bits / options.seconds / 1e6;
  std::string loss = "null";
  std::string sent = "null";
  if (outcome.sent_known) {
    sent = std::to_string(outcome.sent);
    if (outcome.sent > 0) {
      const double lost = static_cast<double>(outcome.sent) - static_cast<double>(outcome.received);
      char text[32];
      std::snprintf(text, sizeof text, "%.2f", 100.0 * lost / static_cast<double>(outcome.sent));
      loss = text;
    }
  }
  std::string error = "null";
  if (!outcome.error.empty()) {
    error = "\"";
    for (const char c : outcome.error) {
      if (c == '"' || c == '\\') error += '\\';
      error += c;
    }
    error += "\"";
  }
  const bool ok = outcome.error.empty();
  std::printf(
      "{\"ok\": %s, \"mode\": \"%s\", \"path\": \"%s\", \"offered_mbps\": %.1f, \"length\": %zu, "
      "\"seconds\": %d, \"sent\": %s, \"received\": %llu, \"goodput_mbps\": %.1f, "
      "\"loss_pct\": %s, \"send_errors\": %llu, \"error\": %s}\n",
      ok ? "true" : "false", upload ? "upload" : "download", options.socks ? "socks5" : "plain",
      options.bitrate / 1e6, options.length, options.seconds, sent.c_str(),
      static_cast<unsigned long long>(outcome.received), goodput, loss.c_str(),
      static_cast<unsigned long long>(outcome.send_errors), error.c_str());
  return ok ? 0 : kRunFailed;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h")) {
    std::fwrite(kUsage.data(), 1, kUsage.size(), stdout);
    return 0;
  }
  auto options = parse_options(argc, argv);
  if (!options) {
    std::fprintf(stderr, "udp_blast: %s\n%.*s", options.error().c_str(),
                 static_cast<int>(kUsage.size()), kUsage.data());
    return kBadArguments;
  }
  return options->mode == "serve" ? run_server(options.value()) : run_client(options.value());
}
