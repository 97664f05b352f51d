// One HTTP request to the live view, without sockets: the request head is parsed incrementally
// (nodejs http-parser) within a size bound, then routed to a response. The server feeds it the
// bytes a client sends; the fuzz target feeds it anything.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "stats/snapshot.h"

struct http_parser;
struct http_parser_settings;

namespace t2s::stats {

struct HttpResponse {
  int status = 200;
  std::string_view content_type = "text/plain; charset=utf-8";
  std::string body;
};

// The complete response as sent: status line, headers (Connection: close) and body.
std::string serialize(const HttpResponse& response);

class RequestParser {
 public:
  enum class State {
    kIncomplete,  // the head has not ended yet
    kComplete,    // method, target and headers are read (any body is ignored)
    kMalformed,   // not HTTP/1.x: answer 400
    kTooLarge,    // the head exceeds the limit: answer 413
  };

  explicit RequestParser(size_t max_head_bytes);
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Takes the next bytes from the client; once the state is no longer kIncomplete, further
  // bytes are ignored.
  State feed(std::span<const uint8_t> bytes);
  State state() const { return state_; }

  const std::string& method() const { return method_; }
  const std::string& target() const { return target_; }  // path and query
  const std::string& authorization() const { return authorization_; }

 private:
  static const http_parser_settings& settings();
  static int on_url(http_parser* parser, const char* at, size_t length);
  static int on_header_field(http_parser* parser, const char* at, size_t length);
  static int on_header_value(http_parser* parser, const char* at, size_t length);
  static int on_headers_complete(http_parser* parser);

  std::unique_ptr<http_parser> parser_;
  size_t max_head_bytes_;
  size_t head_bytes_ = 0;
  State state_ = State::kIncomplete;
  std::string method_;
  std::string target_;
  std::string authorization_;
  std::string field_;  // the header name being read
  bool in_value_ = false;
};

// Bounds of /connections?limit=N&offset=M.
constexpr size_t kDefaultConnectionLimit = 100;
constexpr size_t kMaxConnectionLimit = 1000;

// The response to a parsed request, or to one the parser refused. `token` empty: no
// authorization needed; else every request needs "Authorization: Bearer <token>".
HttpResponse respond(const RequestParser& request, std::string_view token, StatsSource& source);

// Equal strings, in a time that does not depend on where they differ.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace t2s::stats
