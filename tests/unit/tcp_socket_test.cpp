// io::TcpSocket::write_now on a real socket pair: partial writes leave exactly the unwritten
// bytes in the buffer list, and writing on from there delivers the stream unchanged.
#include "io/tcp_socket.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <numeric>
#include <vector>

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

}  // namespace
}  // namespace t2s::io
