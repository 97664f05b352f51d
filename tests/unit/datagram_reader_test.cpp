// io::DatagramReader on a real datagram socket pair (AF_UNIX, so no network is needed): a batch
// shorter than the reader's arriving as one call, several full batches in a row, an empty socket
// (EAGAIN), datagrams longer than the maximum flagged as truncated without disturbing the next
// one, and a reader destroyed by its own callback gets nothing more.
#include "io/datagram_reader.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <string>
#include <vector>

namespace t2s::io {
namespace {

struct Received {
  std::string data;
  bool truncated = false;
};

class DatagramReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM, 0, fds_.data()), 0);
    ASSERT_EQ(uv_udp_init(&loop_, &socket_), 0);
    ASSERT_EQ(uv_udp_open(&socket_, fds_[0]), 0);
  }
  void TearDown() override {
    reader_.reset();
    uv_close(reinterpret_cast<uv_handle_t*>(&socket_), nullptr);  // closes fds_[0]
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
    close(fds_[1]);
  }

  void start(size_t max_datagram) {
    int error = 0;
    reader_ = DatagramReader::start(
        &socket_, max_datagram,
        [](void* context, std::span<const DatagramReader::Datagram> batch) {
          auto* self = static_cast<DatagramReaderTest*>(context);
          EXPECT_FALSE(batch.empty());
          EXPECT_LE(batch.size(), DatagramReader::batch_size());
          self->batch_sizes_.push_back(batch.size());
          for (const auto& datagram : batch) {
            self->received_.push_back(
                {{datagram.bytes.begin(), datagram.bytes.end()}, datagram.truncated});
          }
          if (self->destroy_after_batches_ == self->batch_sizes_.size()) self->reader_.reset();
        },
        this, error);
    ASSERT_NE(reader_, nullptr) << uv_strerror(error);
  }
  void peer_send(const std::string& datagram) {
    ASSERT_EQ(send(fds_[1], datagram.data(), datagram.size(), 0),
              static_cast<ssize_t>(datagram.size()));
  }
  // Runs the loop until `count` datagrams have arrived, at most `turns` turns.
  void run_until(size_t count, int turns = 100) {
    for (int i = 0; i < turns && received_.size() < count; ++i) uv_run(&loop_, UV_RUN_NOWAIT);
  }
  static std::string numbered(size_t i) { return "datagram " + std::to_string(i); }

  uv_loop_t loop_{};
  uv_udp_t socket_{};
  std::array<int, 2> fds_{-1, -1};
  std::unique_ptr<DatagramReader> reader_;
  std::vector<Received> received_;
  std::vector<size_t> batch_sizes_;   // datagrams per callback
  size_t destroy_after_batches_ = 0;  // the callback destroys the reader after this many calls
};

TEST_F(DatagramReaderTest, BatchShorterThanTheReadersArrivesWhole) {
  start(2048);
  for (size_t i = 0; i < 3; ++i) peer_send(numbered(i));
  uv_run(&loop_, UV_RUN_NOWAIT);
  ASSERT_EQ(received_.size(), 3u);
  EXPECT_EQ(batch_sizes_, std::vector<size_t>{3});  // one read, one call
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(received_[i].data, numbered(i));
    EXPECT_FALSE(received_[i].truncated);
  }
}

TEST_F(DatagramReaderTest, SeveralFullBatchesArriveInOrder) {
  start(2048);
  const size_t count = 9 * DatagramReader::batch_size() + 5;  // more than one wake-up takes
  for (size_t i = 0; i < count; ++i) peer_send(numbered(i));
  run_until(count);
  ASSERT_EQ(received_.size(), count);
  for (size_t i = 0; i < count; ++i) EXPECT_EQ(received_[i].data, numbered(i));
}

TEST_F(DatagramReaderTest, EmptySocketDeliversNothingAndKeepsReading) {
  start(2048);
  for (int i = 0; i < 5; ++i) uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_TRUE(received_.empty());
  peer_send("late");
  run_until(1);
  ASSERT_EQ(received_.size(), 1u);
  EXPECT_EQ(received_[0].data, "late");
}

TEST_F(DatagramReaderTest, LongDatagramIsFlaggedTruncatedAndTheNextIsIntact) {
  start(256);
  peer_send(std::string(256, 'a'));  // exactly the maximum: whole
  peer_send(std::string(1000, 'b'));
  peer_send("after");
  run_until(3);
  ASSERT_EQ(received_.size(), 3u);
  EXPECT_FALSE(received_[0].truncated);
  EXPECT_EQ(received_[0].data, std::string(256, 'a'));
  EXPECT_TRUE(received_[1].truncated);
  EXPECT_EQ(received_[1].data, std::string(256, 'b'));
  EXPECT_FALSE(received_[2].truncated);
  EXPECT_EQ(received_[2].data, "after");
}

TEST_F(DatagramReaderTest, ReaderDestroyedByItsCallbackGetsNoMore) {
  destroy_after_batches_ = 1;
  start(2048);
  for (size_t i = 0; i < 2; ++i) peer_send(numbered(i));
  uv_run(&loop_, UV_RUN_NOWAIT);
  ASSERT_EQ(received_.size(), 2u);
  EXPECT_EQ(reader_, nullptr);
  for (size_t i = 2; i < 5; ++i) peer_send(numbered(i));
  for (int i = 0; i < 5; ++i) uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(received_.size(), 2u);
}

}  // namespace
}  // namespace t2s::io
