// Request head parsing on http-parser, authorization and routing of the live view's endpoints.
#include "stats/http_request.h"

#include <http_parser.h>

#include <charconv>

#include "stats/render.h"
#include "stats/status_page.h"

namespace t2s::stats {
namespace {

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Request Header Fields Too Large";
    default:
      return "Error";
  }
}

HttpResponse text(int status, std::string body) {
  return HttpResponse{status, "text/plain; charset=utf-8", std::move(body) + "\n"};
}

// The value of `key` in a query string ("a=1&b=2"), parsed as a number; `fallback` if absent.
// False if present but not a number.
bool query_number(std::string_view query, std::string_view key, size_t fallback, size_t& value) {
  value = fallback;
  while (!query.empty()) {
    size_t end = query.find('&');
    std::string_view pair = query.substr(0, end);
    query = end == std::string_view::npos ? std::string_view() : query.substr(end + 1);
    size_t equals = pair.find('=');
    if (pair.substr(0, equals) != key) continue;
    std::string_view digits =
        equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1);
    auto [at, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    return !digits.empty() && ec == std::errc() && at == digits.data() + digits.size();
  }
  return true;
}

}  // namespace

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Every byte of the longer string is looked at whatever the contents; only the length of
  // the expected value can be learnt from timing.
  size_t longest = a.size() > b.size() ? a.size() : b.size();
  unsigned difference = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < longest; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    difference |= static_cast<unsigned>(x ^ y);
  }
  return difference == 0;
}

std::string serialize(const HttpResponse& response) {
  std::string out = "HTTP/1.1 " + std::to_string(response.status) + " ";
  out += reason_phrase(response.status);
  out += "\r\nContent-Type: ";
  out += response.content_type;
  out += "\r\nContent-Length: " + std::to_string(response.body.size()) +
         "\r\nCache-Control: no-store\r\nConnection: close\r\n";
  if (response.status == 401) out += "WWW-Authenticate: Bearer\r\n";
  if (response.status == 405) out += "Allow: GET\r\n";
  out += "\r\n";
  out += response.body;
  return out;
}

RequestParser::RequestParser(size_t max_head_bytes)
    : parser_(std::make_unique<http_parser>()), max_head_bytes_(max_head_bytes) {
  http_parser_init(parser_.get(), HTTP_REQUEST);
  parser_->data = this;
}

RequestParser::~RequestParser() = default;

RequestParser::State RequestParser::feed(std::span<const uint8_t> bytes) {
  if (state_ != State::kIncomplete || bytes.empty()) return state_;  // empty would mean EOF
  // Only what fits within the limit is parsed: a head that has not ended by then is too large.
  const size_t room = max_head_bytes_ - head_bytes_;
  const size_t take = bytes.size() < room ? bytes.size() : room;
  if (take > 0) {
    head_bytes_ += take;
    http_parser_execute(parser_.get(), &settings(), reinterpret_cast<const char*>(bytes.data()),
                        take);
  }
  if (state_ != State::kIncomplete) return state_;
  const auto error = static_cast<http_errno>(parser_->http_errno);
  if (error != HPE_OK) {
    state_ = error == HPE_HEADER_OVERFLOW ? State::kTooLarge : State::kMalformed;
  } else if (take < bytes.size()) {
    state_ = State::kTooLarge;
  }
  return state_;
}

int RequestParser::on_url(http_parser* parser, const char* at, size_t length) {
  static_cast<RequestParser*>(parser->data)->target_.append(at, length);
  return 0;
}

int RequestParser::on_header_field(http_parser* parser, const char* at, size_t length) {
  auto* self = static_cast<RequestParser*>(parser->data);
  if (self->in_value_) {  // a new header starts
    self->field_.clear();
    self->in_value_ = false;
  }
  self->field_.append(at, length);
  return 0;
}

int RequestParser::on_header_value(http_parser* parser, const char* at, size_t length) {
  auto* self = static_cast<RequestParser*>(parser->data);
  if (!self->in_value_) {
    self->in_value_ = true;
    if (equal_ignoring_case(self->field_, "authorization")) self->authorization_.clear();
  }
  if (equal_ignoring_case(self->field_, "authorization")) self->authorization_.append(at, length);
  return 0;
}

int RequestParser::on_headers_complete(http_parser* parser) {
  auto* self = static_cast<RequestParser*>(parser->data);
  self->method_ = http_method_str(static_cast<http_method>(parser->method));
  self->state_ = State::kComplete;
  http_parser_pause(parser, 1);  // the head is all we need; stop before any body
  return 0;
}

const http_parser_settings& RequestParser::settings() {
  static const http_parser_settings settings = [] {
    http_parser_settings s{};
    s.on_url = &RequestParser::on_url;
    s.on_header_field = &RequestParser::on_header_field;
    s.on_header_value = &RequestParser::on_header_value;
    s.on_headers_complete = &RequestParser::on_headers_complete;
    return s;
  }();
  return settings;
}

HttpResponse respond(const RequestParser& request, std::string_view token, StatsSource& source) {
  switch (request.state()) {
    case RequestParser::State::kIncomplete:
    case RequestParser::State::kMalformed:
      return text(400, "malformed request");
    case RequestParser::State::kTooLarge:
      return text(413, "request head too large");
    case RequestParser::State::kComplete:
      break;
  }
  if (!token.empty()) {
    const std::string expected = "Bearer " + std::string(token);
    if (!constant_time_equal(request.authorization(), expected)) {
      return text(401, "missing or wrong 'Authorization: Bearer <token>'");
    }
  }
  if (request.method() != "GET") return text(405, "only GET is served");
  std::string_view target = request.target();
  const size_t question = target.find('?');
  const std::string_view path = target.substr(0, question);
  const std::string_view query =
      question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
  if (path == "/metrics") {
    return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8",
                        render_prometheus(source.snapshot())};
  }
  if (path == "/stats") {
    return HttpResponse{200, "application/json", render_json(source.snapshot())};
  }
  if (path == "/connections") {
    size_t limit = 0;
    size_t offset = 0;
    if (!query_number(query, "limit", kDefaultConnectionLimit, limit) ||
        !query_number(query, "offset", 0, offset)) {
      return text(400, "limit and offset must be numbers");
    }
    if (limit > kMaxConnectionLimit) limit = kMaxConnectionLimit;
    return HttpResponse{200, "application/json",
                        render_connections_json(source.connections(offset, limit))};
  }
  if (path == "/") return HttpResponse{200, "text/html; charset=utf-8", std::string(status_page())};
  return text(404, "not found; try /, /metrics, /stats or /connections");
}

}  // namespace t2s::stats
