// io::TcpSocket on real sockets. write_now: partial writes leave exactly the unwritten bytes
// in the buffer list, and writing on from there delivers the stream unchanged. start_connect:
// a write queued while the connection is still being made goes out once it is up (over
// loopback in a network namespace of the test's own).
#include "io/tcp_socket.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "support/private_network.h"

namespace t2s::io {
namespace {

class WriteNowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds_.data()), 0);
    socket_ = TcpSocket::create(&loop_);
    ASSERT_NE(socket_, nullptr);
    ASSERT_EQ(uv_tcp_open(socket_->handle(), fds_[0]), 0);
  }
  void TearDown() override {
    socket_.reset();  // closes fds_[0] through libuv
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
    close(fds_[1]);
  }
  // Everything the peer can read without blocking.
  std::vector<uint8_t> drain_peer() {
    std::vector<uint8_t> got;
    std::array<uint8_t, 65536> chunk{};
    for (;;) {
      ssize_t n = recv(fds_[1], chunk.data(), chunk.size(), MSG_DONTWAIT);
      if (n <= 0) break;
      got.insert(got.end(), chunk.begin(), chunk.begin() + n);
    }
    return got;
  }

  uv_loop_t loop_{};
  std::array<int, 2> fds_{-1, -1};
  std::unique_ptr<TcpSocket> socket_;
};

size_t total(std::span<const uv_buf_t> bufs) {
  return std::accumulate(bufs.begin(), bufs.end(), size_t{0},
                         [](size_t sum, const uv_buf_t& buf) { return sum + buf.len; });
}

TEST_F(WriteNowTest, SmallWriteGoesOutWhole) {
  std::array<char, 5> hello{'h', 'e', 'l', 'l', 'o'};
  std::array<uv_buf_t, 1> storage{uv_buf_init(hello.data(), hello.size())};
  std::span<uv_buf_t> bufs(storage);
  EXPECT_EQ(socket_->write_now(bufs), 5);
  EXPECT_TRUE(bufs.empty());
  EXPECT_EQ(drain_peer(), std::vector<uint8_t>(hello.begin(), hello.end()));
}

TEST_F(WriteNowTest, PartialWritesLeaveTheRestInOrder) {
  // Three buffers of different sizes, together far more than the socket pair buffers.
  std::vector<uint8_t> stream(3 * 1024 * 1024 + 12345);
  for (size_t i = 0; i < stream.size(); ++i) stream[i] = static_cast<uint8_t>(i * 7 + i / 251);
  const size_t cut1 = 1000003;
  const size_t cut2 = cut1 + 777;
  auto* base = reinterpret_cast<char*>(stream.data());
  std::array<uv_buf_t, 3> storage{uv_buf_init(base, cut1), uv_buf_init(base + cut1, cut2 - cut1),
                                  uv_buf_init(base + cut2, stream.size() - cut2)};
  std::span<uv_buf_t> bufs(storage);

  std::vector<uint8_t> received;
  size_t written_total = 0;
  int partial_writes = 0;
  for (int round = 0; round < 10000 && !bufs.empty(); ++round) {
    ssize_t written = socket_->write_now(bufs);
    ASSERT_GE(written, 0);
    written_total += static_cast<size_t>(written);
    // What is left is exactly the unwritten tail of the stream.
    ASSERT_EQ(total(bufs), stream.size() - written_total);
    if (!bufs.empty()) {
      ++partial_writes;
      ASSERT_EQ(reinterpret_cast<uint8_t*>(bufs.front().base), stream.data() + written_total);
    }
    std::vector<uint8_t> got = drain_peer();
    received.insert(received.end(), got.begin(), got.end());
  }
  EXPECT_TRUE(bufs.empty());
  EXPECT_GT(partial_writes, 0);  // the socket really took less than asked
  std::vector<uint8_t> rest = drain_peer();
  received.insert(received.end(), rest.begin(), rest.end());
  EXPECT_EQ(received, stream);
}

TEST_F(WriteNowTest, ReportsAnErrorOnceThePeerIsGone) {
  signal(SIGPIPE, SIG_IGN);  // as the tunnel does: the error comes back from the write instead
  close(fds_[1]);
  fds_[1] = -1;
  std::array<char, 3> bytes{1, 2, 3};
  std::array<uv_buf_t, 1> storage{uv_buf_init(bytes.data(), bytes.size())};
  std::span<uv_buf_t> bufs(storage);
  EXPECT_EQ(socket_->write_now(bufs), UV_EPIPE);
  EXPECT_EQ(bufs.size(), 1u);  // nothing consumed
}

// What a socket under test saw through its read callbacks.
struct ReadLog {
  std::string bytes;
  int errors = 0;
  std::array<char, 256> buffer{};
};

// A listener with backlog 0 holds one connection nobody accepted; the kernel then drops the
// next SYN, so that connection is still being made when start_connect returns (on a local link
// it would otherwise be up by then). That is the path of a spare taken early, or of any
// connection to a distant proxy: the write waits in libuv until the socket is writable.
void write_queued_while_connecting_goes_out() {
  uv_loop_t loop{};
  ASSERT_EQ(uv_loop_init(&loop), 0);
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), length), 0);
  ASSERT_EQ(listen(listener, 0), 0);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  int queued = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(connect(queued, reinterpret_cast<sockaddr*>(&address), length), 0);

  ReadLog log;
  auto connecting = TcpSocket::create(&loop, AF_INET);
  ASSERT_NE(connecting, nullptr);
  connecting->set_owner(&log);
  ASSERT_EQ(connecting->start_connect(reinterpret_cast<sockaddr*>(&address)), 0);
  tcp_info info{};
  socklen_t info_length = sizeof(info);
  uv_os_fd_t fd{};
  ASSERT_EQ(uv_fileno(reinterpret_cast<uv_handle_t*>(connecting->handle()), &fd), 0);
  ASSERT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &info_length), 0);
  ASSERT_EQ(info.tcpi_state, TCP_SYN_SENT) << "the premise: the listener dropped our SYN";

  ASSERT_EQ(connecting->read_with(
                [](uv_handle_t* handle, size_t, uv_buf_t* buf) {
                  auto* owner = TcpSocket::owner_of<ReadLog>(handle);
                  *buf = uv_buf_init(owner->buffer.data(), owner->buffer.size());
                },
                [](uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
                  auto* owner = TcpSocket::owner_of<ReadLog>(stream);
                  if (nread > 0) owner->bytes.append(buf->base, static_cast<size_t>(nread));
                  if (nread < 0) ++owner->errors;
                }),
            0);
  std::string greeting = "greeting and request";
  std::array<uv_buf_t, 1> storage{uv_buf_init(greeting.data(), greeting.size())};
  std::span<uv_buf_t> bufs(storage);
  EXPECT_EQ(connecting->write_now(bufs), 0);  // not connected yet: nothing taken
  ASSERT_EQ(bufs.size(), 1u);
  uv_write_t request{};
  int write_status = 1;
  request.data = &write_status;
  ASSERT_EQ(uv_write(&request, connecting->stream(), bufs.data(), 1,
                     [](uv_write_t* done, int status) { *static_cast<int*>(done->data) = status; }),
            0);

  // Room in the accept queue: the retransmitted SYN (after about a second) gets through.
  int first = accept(listener, nullptr, nullptr);
  ASSERT_GE(first, 0);
  uv_timer_t deadline{};
  uv_timer_init(&loop, &deadline);
  uv_timer_start(
      &deadline, [](uv_timer_t* timer) { uv_stop(timer->loop); }, 5000, 0);
  while (write_status == 1 && uv_timer_get_due_in(&deadline) > 0) uv_run(&loop, UV_RUN_ONCE);
  EXPECT_EQ(write_status, 0);

  pollfd ready{listener, POLLIN, 0};
  ASSERT_EQ(poll(&ready, 1, 2000), 1);
  int peer = accept(listener, nullptr, nullptr);
  ASSERT_GE(peer, 0);
  std::string received(greeting.size(), '\0');
  EXPECT_EQ(recv(peer, received.data(), received.size(), MSG_WAITALL),
            static_cast<ssize_t>(greeting.size()));
  EXPECT_EQ(received, greeting);
  // Reads watched while connecting now deliver, and nothing was reported as an error.
  ASSERT_EQ(send(peer, "ok", 2, 0), 2);
  while (log.bytes.size() < 2 && uv_timer_get_due_in(&deadline) > 0) uv_run(&loop, UV_RUN_ONCE);
  EXPECT_EQ(log.bytes, "ok");
  EXPECT_EQ(log.errors, 0);

  connecting.reset();
  uv_close(reinterpret_cast<uv_handle_t*>(&deadline), nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_EQ(uv_loop_close(&loop), 0);
  for (int fd_to_close : {peer, first, queued, listener}) close(fd_to_close);
}

// Its traffic stays in a network namespace of its own: only root may make one.
TEST(StartConnectTest, WriteQueuedWhileConnectingGoesOutOnceConnected) {
  const std::string problem =
      test_support::run_in_private_network(write_queued_while_connecting_goes_out);
  if (!problem.empty()) GTEST_SKIP() << problem;
}

}  // namespace
}  // namespace t2s::io
