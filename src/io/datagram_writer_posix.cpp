// DatagramWriter on Linux: one sendmmsg per list (up to kMaxPerCall datagrams), and a run of
// datagrams of one size as one message with UDP_SEGMENT, which the kernel cuts up as late as it
// can: the run crosses routing, filtering and (on loopback or veth) the receiving side's IP layer
// once. A message the kernel cannot cut up (its route lacks checksum offload, or the path MTU
// shrank) turns segmentation off for the socket and is sent again, one datagram per message.
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "io/datagram_writer.h"

namespace t2s::io {
namespace {

// Datagrams one sendmmsg carries at most; a longer list takes more calls.
constexpr size_t kMaxPerCall = 64;
// Segments in one UDP_SEGMENT message (UDP_MAX_SEGMENTS since Linux 4.18).
constexpr size_t kMaxSegments = 64;
// The largest UDP payload of one IPv4 packet; kept for IPv6 too.
constexpr size_t kMaxMessageBytes = 65535 - 20 - 8;
// IP and UDP headers in front of every segment on the wire (IPv6's, the longer).
constexpr size_t kIpUdpHeaders = 40 + 8;

// The MTU of the connected socket's route, 0 if unknown.
size_t path_mtu(int fd) {
  sockaddr_storage local{};
  socklen_t length = sizeof local;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0) return 0;
  int mtu = 0;
  length = sizeof mtu;
  const int rc = local.ss_family == AF_INET6
                     ? ::getsockopt(fd, IPPROTO_IPV6, IPV6_MTU, &mtu, &length)
                     : ::getsockopt(fd, IPPROTO_IP, IP_MTU, &mtu, &length);
  return rc == 0 && mtu > 0 ? static_cast<size_t>(mtu) : 0;
}

size_t size_of(const DatagramWriter::Datagram& datagram) {
  return datagram.header.size() + datagram.payload.size();
}

// Errors that say the kernel cannot cut this message up, as opposed to a full buffer or an
// error the socket reports once.
bool segmentation_refused(int error) {
  return error == EIO || error == EINVAL || error == EMSGSIZE || error == EOPNOTSUPP ||
         error == ENOPROTOOPT;
}

union SegmentControl {
  cmsghdr align;
  char bytes[CMSG_SPACE(sizeof(uint16_t))];
};

}  // namespace

DatagramWriter::DatagramWriter(uv_udp_t* socket) : socket_(socket) {
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<const uv_handle_t*>(socket_), &fd) != 0) return;
  fd_ = fd;
  if (const size_t mtu = path_mtu(fd_); mtu > kIpUdpHeaders) max_segment_ = mtu - kIpUdpHeaders;
}

DatagramWriter::Sent DatagramWriter::send(std::span<const Datagram> datagrams) {
  Sent sent;
  if (fd_ < 0) return sent;
  // How many datagrams from `first` on can go as one message, at most `limit`.
  auto run_length = [&](size_t first, size_t limit) {
    const size_t segment = size_of(datagrams[first]);
    if (max_segment_ == 0 || segment > max_segment_) return size_t{1};
    size_t count = 1;
    size_t bytes = segment;
    while (first + count < datagrams.size() && count < limit && count < kMaxSegments) {
      const size_t size = size_of(datagrams[first + count]);
      if (size > segment || bytes + size > kMaxMessageBytes) break;
      bytes += size;
      ++count;
      if (size < segment) break;  // only the last segment may be shorter
    }
    return count;
  };

  size_t next = 0;  // the first datagram not yet tried
  while (next < datagrams.size()) {
    std::array<mmsghdr, kMaxPerCall> messages;
    std::array<size_t, kMaxPerCall> counts;  // datagrams per message
    std::array<iovec, 2 * kMaxPerCall> vectors;
    std::array<SegmentControl, kMaxPerCall> controls;
    size_t message_count = 0;
    size_t taken = 0;
    while (next + taken < datagrams.size() && taken < kMaxPerCall) {
      const size_t first = next + taken;
      const size_t count = run_length(first, kMaxPerCall - taken);
      mmsghdr& message = messages[message_count];
      message = {};
      message.msg_hdr.msg_iov = &vectors[2 * taken];
      message.msg_hdr.msg_iovlen = 2 * count;
      for (size_t i = 0; i < count; ++i) {
        const Datagram& datagram = datagrams[first + i];
        vectors[2 * (taken + i)] = {const_cast<uint8_t*>(datagram.header.data()),
                                    datagram.header.size()};
        vectors[2 * (taken + i) + 1] = {const_cast<uint8_t*>(datagram.payload.data()),
                                        datagram.payload.size()};
      }
      if (count > 1) {
        message.msg_hdr.msg_control = controls[message_count].bytes;
        message.msg_hdr.msg_controllen = sizeof controls[message_count].bytes;
        cmsghdr* control = CMSG_FIRSTHDR(&message.msg_hdr);
        control->cmsg_level = SOL_UDP;
        control->cmsg_type = UDP_SEGMENT;
        control->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        const auto segment = static_cast<uint16_t>(size_of(datagrams[first]));
        std::memcpy(CMSG_DATA(control), &segment, sizeof segment);
      }
      counts[message_count++] = count;
      taken += count;
    }
    int done;
    do {
      done = ::sendmmsg(fd_, messages.data(), static_cast<unsigned>(message_count), MSG_DONTWAIT);
    } while (done < 0 && errno == EINTR);
    if (done > 0) {
      ++sent.system_calls;
      for (size_t i = 0; i < static_cast<size_t>(done); ++i) {
        sent.datagrams += counts[i];
        next += counts[i];
      }
      continue;  // a short count: the next call reports what stopped it
    }
    const int error = errno;
    if (error == EAGAIN || error == EWOULDBLOCK || error == ENOBUFS) return sent;
    if (counts[0] > 1 && segmentation_refused(error)) {
      max_segment_ = 0;  // try the same datagrams again, one per message
      continue;
    }
    next += counts[0];  // refused, e.g. an ICMP error reported on the socket: drop, go on
  }
  return sent;
}

}  // namespace t2s::io
