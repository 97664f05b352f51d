// io::DatagramWriter over loopback in a network namespace of the test's own: runs of equal-sized
// datagrams (sent as one message the kernel cuts up), a shorter one ending a run, other sizes and
// headers between them, and lists longer than one call takes all arrive whole and in order; a
// datagram the kernel refuses (a reported ICMP error) is dropped and the rest still go; and when
// the route can no longer take a run as one message, the same datagrams go one by one.
#include "io/datagram_writer.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "support/private_network.h"

namespace t2s::io {
namespace {

struct Outgoing {
  std::string header;
  std::string payload;
};

// A receiving socket on loopback and a libuv socket connected to it, with a writer.
class Link {
 public:
  Link() {
    EXPECT_EQ(uv_loop_init(&loop_), 0);
    receiver_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int size = 16 << 20;  // room for every datagram a test sends
    setsockopt(receiver_, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(receiver_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    socklen_t length = sizeof address;
    getsockname(receiver_, reinterpret_cast<sockaddr*>(&address), &length);
    EXPECT_EQ(uv_udp_init(&loop_, &socket_), 0);
    EXPECT_EQ(uv_udp_connect(&socket_, reinterpret_cast<const sockaddr*>(&address)), 0);
    writer_ = std::make_unique<DatagramWriter>(&socket_);
  }
  ~Link() {
    writer_.reset();
    uv_close(reinterpret_cast<uv_handle_t*>(&socket_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
    if (receiver_ >= 0) close(receiver_);
  }

  size_t send(const std::vector<Outgoing>& list) {
    std::vector<DatagramWriter::Datagram> datagrams;
    for (const Outgoing& datagram : list) {
      datagrams.push_back({as_bytes(datagram.header), as_bytes(datagram.payload)});
    }
    const DatagramWriter::Sent sent = writer_->send(datagrams);
    calls_ = sent.system_calls;
    return sent.datagrams;
  }
  // Every datagram waiting at the receiver.
  std::vector<std::string> received() {
    std::vector<std::string> all;
    std::string buffer(70000, '\0');
    for (;;) {
      ssize_t n = recv(receiver_, buffer.data(), buffer.size(), MSG_DONTWAIT);
      if (n < 0) return all;
      all.emplace_back(buffer.data(), static_cast<size_t>(n));
    }
  }
  // Closes the receiver: datagrams to it are answered with ICMP port unreachable.
  void close_receiver() {
    close(receiver_);
    receiver_ = -1;
  }
  size_t calls() const { return calls_; }  // by the last send
  int fd() const {
    uv_os_fd_t fd = -1;
    uv_fileno(reinterpret_cast<const uv_handle_t*>(&socket_), &fd);
    return fd;
  }

 private:
  static std::span<const uint8_t> as_bytes(const std::string& text) {
    return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
  }

  uv_loop_t loop_{};
  uv_udp_t socket_{};
  int receiver_ = -1;
  std::unique_ptr<DatagramWriter> writer_;
  size_t calls_ = 0;
};

// `count` datagrams with `header`, each payload `size` bytes, numbered so that none is alike.
void append(std::vector<Outgoing>& list, const std::string& header, size_t count, size_t size) {
  for (size_t i = 0; i < count; ++i) {
    std::string payload(size, static_cast<char>('a' + list.size() % 26));
    std::string number = std::to_string(list.size());
    payload.replace(0, std::min(number.size(), size), number, 0, std::min(number.size(), size));
    list.push_back({header, payload});
  }
}

std::vector<std::string> joined(const std::vector<Outgoing>& list) {
  std::vector<std::string> all;
  for (const Outgoing& datagram : list) all.push_back(datagram.header + datagram.payload);
  return all;
}

void run(void (*body)()) {
  const std::string problem = test_support::run_in_private_network(body);
  if (!problem.empty()) GTEST_SKIP() << problem;
}

bool set_loopback_mtu(int mtu) {
  int control = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq request{};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  request.ifr_mtu = mtu;
  const bool done = ioctl(control, SIOCSIFMTU, &request) == 0;
  close(control);
  return done;
}

TEST(DatagramWriterTest, RunsAndOddSizesArriveWholeAndInOrder) {
  run([] {
    Link link;
    const std::string first(10, '\x01');
    const std::string second(10, '\x02');
    std::vector<Outgoing> list;
    append(list, first, 10, 1400);
    append(list, first, 1, 700);  // ends the run
    append(list, first, 1, 1400);
    append(list, second, 5, 1400);  // same size, other header: still one run
    append(list, first, 1, 0);
    append(list, second, 3, 5000);
    append(list, first, 3, 30000);  // two fit one message, the third starts another
    append(list, second, 2, 9);
    EXPECT_EQ(link.send(list), list.size());
    EXPECT_EQ(link.calls(), 1u);
    EXPECT_EQ(link.received(), joined(list));
  });
}

TEST(DatagramWriterTest, ListLongerThanOneCallTakesArrivesInOrder) {
  run([] {
    Link link;
    std::vector<Outgoing> list;
    append(list, "head", 150, 1000);
    EXPECT_EQ(link.send(list), list.size());
    EXPECT_EQ(link.calls(), 3u);  // 64 datagrams per call
    EXPECT_EQ(link.received(), joined(list));
  });
}

TEST(DatagramWriterTest, RefusedDatagramsAreDroppedAndTheRestStillGo) {
  run([] {
    Link link;
    link.close_receiver();
    std::vector<Outgoing> probe;
    append(probe, "h", 1, 10);
    ASSERT_EQ(link.send(probe), 1u);
    // The port unreachable comes back as an error on the socket.
    pollfd watch{link.fd(), 0, 0};
    ASSERT_EQ(poll(&watch, 1, 2000), 1);
    ASSERT_NE(watch.revents & POLLERR, 0);
    std::vector<Outgoing> list;
    append(list, "h", 3, 100);  // one message, refused with the error
    append(list, "h", 1, 300);
    append(list, "h", 1, 200);
    EXPECT_EQ(link.send(list), 2u);
  });
}

TEST(DatagramWriterTest, RunTheRouteCannotTakeWholeGoesOneByOne) {
  run([] {
    Link link;  // the writer learnt loopback's MTU of 65536
    ASSERT_TRUE(set_loopback_mtu(1500));
    std::vector<Outgoing> list;
    append(list, "run", 4, 3000);  // too big a segment now: refused as one message
    append(list, "run", 4, 1000);
    EXPECT_EQ(link.send(list), list.size());
    EXPECT_EQ(link.received(), joined(list));
  });
}

}  // namespace
}  // namespace t2s::io
