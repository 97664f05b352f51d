// TcpConnection over lwIP's raw TCP API. lwIP calls back into this object through the pcb's
// arg; every path that ends the pcb first detaches those callbacks, and the error callback
// (called after lwIP has already freed the pcb) only forgets the pointer.
#include "stack/tcp_connection.h"

#include <algorithm>

#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "stack/stack_internal.h"

namespace t2s::stack {

ReceivedData& ReceivedData::operator=(ReceivedData&& other) noexcept {
  if (this != &other) {
    if (chain_ != nullptr) pbuf_free(chain_);
    chain_ = other.chain_;
    other.chain_ = nullptr;
  }
  return *this;
}

ReceivedData::~ReceivedData() {
  if (chain_ != nullptr) pbuf_free(chain_);
}

size_t ReceivedData::size() const {
  return chain_ == nullptr ? 0 : chain_->tot_len;
}

size_t ReceivedData::parts(std::span<std::span<const uint8_t>> out) const {
  size_t count = 0;
  for (pbuf* part = chain_; part != nullptr && count < out.size(); part = part->next) {
    if (part->len == 0) continue;
    out[count++] = {static_cast<const uint8_t*>(part->payload), part->len};
  }
  return count;
}

size_t ReceivedData::part_count() const {
  size_t count = 0;
  for (pbuf* part = chain_; part != nullptr; part = part->next) {
    if (part->len != 0) ++count;
  }
  return count;
}

const char* to_string(TcpError error) {
  switch (error) {
    case TcpError::kReset:
      return "reset by the app";
    case TcpError::kAborted:
      return "aborted";
    case TcpError::kTimeout:
      return "app stopped responding";
    case TcpError::kOther:
      break;
  }
  return "connection error";
}

TcpConnection::TcpConnection(tcp_pcb* pcb) : pcb_(pcb) {
  app_ = {internal::to_ip_address(pcb->remote_ip), pcb->remote_port};
  destination_ = {internal::to_ip_address(pcb->local_ip), pcb->local_port};
  tcp_arg(pcb, this);
  tcp_recv(pcb, &TcpConnection::on_recv);
  tcp_sent(pcb, &TcpConnection::on_sent);
  tcp_err(pcb, &TcpConnection::on_error);
}

TcpConnection::~TcpConnection() {
  if (pcb_ != nullptr) reset();
}

void TcpConnection::detach() {
  tcp_arg(pcb_, nullptr);
  tcp_recv(pcb_, nullptr);
  tcp_sent(pcb_, nullptr);
  tcp_err(pcb_, nullptr);
}

size_t TcpConnection::send_space() const {
  if (pcb_ == nullptr || tcp_sndqueuelen(pcb_) >= TCP_SND_QUEUELEN - 1) return 0;
  return tcp_sndbuf(pcb_);
}

size_t TcpConnection::write(std::span<const uint8_t> data) {
  size_t length = std::min(data.size(), send_space());
  // tcp_write takes a 16-bit length; feed larger amounts in slices.
  size_t written = 0;
  while (written < length) {
    auto slice = static_cast<u16_t>(std::min<size_t>(length - written, 0xFFFF));
    u8_t flags = TCP_WRITE_FLAG_COPY | (written + slice < length ? TCP_WRITE_FLAG_MORE : 0);
    if (tcp_write(pcb_, data.data() + written, slice, flags) != ERR_OK) break;
    written += slice;
  }
  return written;
}

void TcpConnection::flush() {
  if (pcb_ != nullptr) tcp_output(pcb_);
}

void TcpConnection::acknowledge(size_t bytes) {
  while (pcb_ != nullptr && bytes > 0) {
    auto slice = static_cast<u16_t>(std::min<size_t>(bytes, 0xFFFF));
    tcp_recved(pcb_, slice);
    bytes -= slice;
  }
}

void TcpConnection::shutdown_send() {
  if (pcb_ != nullptr && tcp_shutdown(pcb_, 0, 1) != ERR_OK) reset();
}

void TcpConnection::close() {
  if (pcb_ == nullptr) return;
  detach();
  if (tcp_close(pcb_) != ERR_OK) {
    tcp_abort(pcb_);  // out of memory for the FIN: the only way left to let go
    if (in_callback_) reset_in_callback_ = true;
  }
  pcb_ = nullptr;
}

void TcpConnection::reset() {
  if (pcb_ == nullptr) return;
  detach();
  tcp_abort(pcb_);
  pcb_ = nullptr;
  if (in_callback_) reset_in_callback_ = true;
}

int8_t TcpConnection::on_recv(void* arg, tcp_pcb* pcb, pbuf* data, int8_t err) {
  auto* self = static_cast<TcpConnection*>(arg);
  if (self == nullptr || self->handler_ == nullptr) {
    // Nobody reads any more: take the data off lwIP's hands so it can finish the connection.
    if (data != nullptr) {
      tcp_recved(pcb, data->tot_len);
      pbuf_free(data);
    }
    return ERR_OK;
  }
  if (err != ERR_OK) {
    if (data != nullptr) pbuf_free(data);
    return ERR_OK;
  }
  self->begin_callback();
  if (data == nullptr) {
    self->handler_->on_tcp_fin();
  } else {
    self->handler_->on_tcp_data(ReceivedData(data));
  }
  return self->end_callback() ? ERR_ABRT : ERR_OK;
}

int8_t TcpConnection::on_sent(void* arg, tcp_pcb*, uint16_t) {
  auto* self = static_cast<TcpConnection*>(arg);
  if (self == nullptr || self->handler_ == nullptr) return ERR_OK;
  self->begin_callback();
  self->handler_->on_tcp_sent();
  return self->end_callback() ? ERR_ABRT : ERR_OK;
}

void TcpConnection::on_error(void* arg, int8_t err) {
  auto* self = static_cast<TcpConnection*>(arg);
  if (self == nullptr) return;
  self->pcb_ = nullptr;  // lwIP has already freed it
  TcpError reason = err == ERR_RST    ? TcpError::kReset
                    : err == ERR_ABRT ? TcpError::kTimeout
                                      : TcpError::kOther;
  if (self->handler_ != nullptr) self->handler_->on_tcp_error(reason);
}

}  // namespace t2s::stack
