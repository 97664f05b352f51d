// libFuzzer target: the live view's request handling without sockets. Arbitrary bytes from a
// client go through the request parser in pieces (the first byte sets the piece size, as reads
// may split a request anywhere), then routing and rendering, with and without a token. The
// snapshot's names come from the input too, so the JSON escaping sees hostile DNS names.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "stats/http_request.h"
#include "stats/render.h"

namespace {

void check(bool condition) {
  if (!condition) __builtin_trap();
}

class FuzzSource final : public t2s::stats::StatsSource {
 public:
  explicit FuzzSource(std::string_view name) : name_(name) {}
  t2s::stats::Snapshot snapshot() override {
    t2s::stats::Snapshot snapshot;
    snapshot.uptime_ms = name_.size();
    snapshot.metrics = {{"tcp_opened", "help", t2s::stats::MetricKind::kCounter, 1}};
    return snapshot;
  }
  t2s::stats::ConnectionPage connections(size_t offset, size_t limit) override {
    check(limit <= t2s::stats::kMaxConnectionLimit);
    t2s::stats::ConnectionPage page;
    page.total = 3;
    page.offset = offset;
    page.limit = limit;
    if (offset < page.total && limit > 0) {
      page.rows.push_back({"tcp", "198.18.0.1:1", std::string(name_) + ":80", 1, 2, 3, "open"});
    }
    return page;
  }

 private:
  std::string_view name_;
};

// A JSON string literal never holds a raw control character or an unescaped quote.
void check_json_string(const std::string& literal) {
  check(literal.size() >= 2 && literal.front() == '"' && literal.back() == '"');
  for (size_t i = 1; i + 1 < literal.size(); ++i) {
    const auto c = static_cast<unsigned char>(literal[i]);
    check(c >= 0x20 && c != '<' && c != '>');
    if (c == '\\') {
      ++i;  // the escaped character
    } else {
      check(c != '"');
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace t2s::stats;
  if (size == 0) return 0;
  const size_t piece = 1 + data[0] % 64;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  check_json_string(json_string(input));
  FuzzSource source(input);
  for (std::string_view token : {std::string_view(), std::string_view("t0ken")}) {
    RequestParser parser(512);
    for (size_t at = 0; at < input.size() && parser.state() == RequestParser::State::kIncomplete;
         at += piece) {
      const size_t length = input.size() - at < piece ? input.size() - at : piece;
      parser.feed({data + 1 + at, length});
    }
    const HttpResponse response = respond(parser, token, source);
    check(response.status == 200 || response.status == 400 || response.status == 401 ||
          response.status == 404 || response.status == 405 || response.status == 413);
    if (parser.state() != RequestParser::State::kComplete) check(response.status >= 400);
    if (!token.empty() && response.status == 200) check(parser.authorization() == "Bearer t0ken");
    const std::string wire = serialize(response);
    check(wire.size() > response.body.size());
  }
  return 0;
}
