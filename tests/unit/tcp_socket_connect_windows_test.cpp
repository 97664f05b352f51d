// io::TcpSocket::start_connect on Windows (tcp_socket_windows.cpp), on real loopback sockets:
// a write and a read started while the connection is still being made complete once it is up,
// and a refused connection reaches both the write and the read callback as an error.
// tools/build-windows.sh runs these under wine in a network namespace of its own.
#include <gtest/gtest.h>

#include <initializer_list>
#include <memory>
#include <string>

#include "io/tcp_socket.h"

namespace t2s::io {
namespace {

constexpr uint64_t kBoundMs = 10000;  // every loop run below ends by then

struct Client {
  std::string received;
  int read_error = 0;
  int write_status = 1;  // 1 until the write's callback ran
  char buffer[256];
};

struct Server {
  uv_tcp_t listener{};
  uv_tcp_t peer{};
  std::string received;
  uv_write_t reply{};
};

class StartConnectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    ASSERT_EQ(uv_timer_init(&loop_, &bound_), 0);
  }
  void TearDown() override {
    uv_close(reinterpret_cast<uv_handle_t*>(&bound_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

  // Runs the loop until `done` or the time bound.
  template <typename Done>
  void run_until(Done done) {
    uv_timer_start(
        &bound_, [](uv_timer_t* timer) { uv_stop(timer->loop); }, kBoundMs, 0);
    while (!done() && uv_run(&loop_, UV_RUN_ONCE) != 0 && uv_timer_get_due_in(&bound_) > 0) {
    }
    uv_timer_stop(&bound_);
  }

  // Closes the test's own handles and lets libuv finish with them before they go out of scope.
  void close_all(std::initializer_list<uv_tcp_t*> handles) {
    socket_.reset();
    for (uv_tcp_t* handle : handles) uv_close(reinterpret_cast<uv_handle_t*>(handle), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
  }

  // A loopback address with a port nobody else uses, from a listener bound to port 0.
  sockaddr_in bind_listener(uv_tcp_t* listener) {
    sockaddr_in address{};
    EXPECT_EQ(uv_ip4_addr("127.0.0.1", 0, &address), 0);
    EXPECT_EQ(uv_tcp_init(&loop_, listener), 0);
    EXPECT_EQ(uv_tcp_bind(listener, reinterpret_cast<const sockaddr*>(&address), 0), 0);
    int length = sizeof address;
    EXPECT_EQ(uv_tcp_getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
    return address;
  }

  // Starts the client: connect, read, and "hello" through write_now and write at once.
  void start_client(Client& client, const sockaddr_in& address) {
    socket_ = TcpSocket::create(&loop_, AF_INET);
    ASSERT_NE(socket_, nullptr);
    socket_->set_owner(&client);
    ASSERT_EQ(socket_->start_connect(reinterpret_cast<const sockaddr*>(&address)), 0);
    ASSERT_EQ(socket_->read_with(
                  [](uv_handle_t* handle, size_t, uv_buf_t* buf) {
                    auto* self = TcpSocket::owner_of<Client>(handle);
                    *buf = uv_buf_init(self->buffer, sizeof self->buffer);
                  },
                  [](uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
                    auto* self = TcpSocket::owner_of<Client>(stream);
                    if (nread < 0) self->read_error = static_cast<int>(nread);
                    if (nread > 0) self->received.append(buf->base, static_cast<size_t>(nread));
                  }),
              0);
    uv_buf_t hello = uv_buf_init(hello_, 5);
    std::span<uv_buf_t> left(&hello, 1);
    ASSERT_GE(socket_->write_now(left), 0);
    if (left.empty()) {
      client.write_status = 0;
      return;
    }
    write_request_.data = &client;
    ASSERT_EQ(socket_->write(&write_request_, left.data(), 1,
                             [](uv_write_t* request, int status) {
                               static_cast<Client*>(request->data)->write_status = status;
                             }),
              0);
  }

  uv_loop_t loop_{};
  uv_timer_t bound_{};
  std::unique_ptr<TcpSocket> socket_;
  uv_write_t write_request_{};
  char hello_[6] = "hello";
};

TEST_F(StartConnectTest, WriteAndReadStartedWhileConnectingGoThrough) {
  Server server;
  sockaddr_in address = bind_listener(&server.listener);
  server.listener.data = &server;
  ASSERT_EQ(uv_listen(reinterpret_cast<uv_stream_t*>(&server.listener), 4,
                      [](uv_stream_t* listener, int status) {
                        ASSERT_EQ(status, 0);
                        auto* self = static_cast<Server*>(listener->data);
                        ASSERT_EQ(uv_tcp_init(listener->loop, &self->peer), 0);
                        self->peer.data = self;
                        auto* peer = reinterpret_cast<uv_stream_t*>(&self->peer);
                        ASSERT_EQ(uv_accept(listener, peer), 0);
                        uv_read_start(
                            peer,
                            [](uv_handle_t*, size_t, uv_buf_t* buf) {
                              static char chunk[256];
                              *buf = uv_buf_init(chunk, sizeof chunk);
                            },
                            [](uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
                              auto* receiver = static_cast<Server*>(stream->data);
                              if (nread <= 0) return;
                              receiver->received.append(buf->base, static_cast<size_t>(nread));
                              if (receiver->received != "hello") return;
                              static char world[] = "world";
                              uv_buf_t reply = uv_buf_init(world, 5);
                              uv_write(&receiver->reply, stream, &reply, 1, nullptr);
                            });
                      }),
            0);

  Client client;
  start_client(client, address);
  run_until([&] { return client.received.size() >= 5 || client.read_error != 0; });

  EXPECT_EQ(client.write_status, 0);
  EXPECT_EQ(server.received, "hello");
  EXPECT_EQ(client.received, "world");
  EXPECT_EQ(client.read_error, 0);
  close_all({&server.peer, &server.listener});
}

TEST_F(StartConnectTest, RefusedConnectionFailsTheWriteAndTheRead) {
  uv_tcp_t unused{};
  sockaddr_in address = bind_listener(&unused);  // bound, never listening: connections refused
  Client client;
  start_client(client, address);
  run_until([&] { return client.write_status != 1 && client.read_error != 0; });

  EXPECT_LT(client.write_status, 0);
  EXPECT_LT(client.read_error, 0);
  EXPECT_TRUE(client.received.empty());
  close_all({&unused});
}

TEST_F(StartConnectTest, DestroyedWhileConnectingCancelsTheWrite) {
  Server server;
  sockaddr_in address = bind_listener(&server.listener);
  ASSERT_EQ(
      uv_listen(reinterpret_cast<uv_stream_t*>(&server.listener), 4, [](uv_stream_t*, int) {}), 0);
  Client client;
  start_client(client, address);
  socket_.reset();  // before the loop ran: the connect is still pending
  run_until([&] { return client.write_status != 1; });

  // Either the write never got queued (written at once) or its callback reports the failure.
  EXPECT_LE(client.write_status, 0);
  EXPECT_TRUE(client.received.empty());
  close_all({&server.listener});
}

}  // namespace
}  // namespace t2s::io
