// The live view's pure parts: Prometheus and JSON rendering, JSON string escaping, the request
// head parser's limits and the routing of requests (authorization, methods, paths, paging).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "stats/http_request.h"
#include "stats/render.h"

namespace t2s::stats {
namespace {

Snapshot sample_snapshot() {
  Snapshot snapshot;
  snapshot.uptime_ms = 12'345;
  snapshot.metrics = {{"tcp_opened", "TCP attempts", MetricKind::kCounter, 7},
                      {"tcp_active", "TCP now", MetricKind::kGauge, 3},
                      {"bytes_up", "Bytes up", MetricKind::kCounter, 1'000'000'000'000}};
  Histogram histogram;
  histogram.name = "proxy_handshake_seconds";
  histogram.help = "Handshakes";
  histogram.bounds_ms = {1, 25, 2500};
  histogram.counts = {2, 0, 5, 1};
  histogram.sum_ms = 7'001;
  snapshot.histograms.push_back(histogram);
  return snapshot;
}

TEST(StatsRenderTest, PrometheusText) {
  const std::string text = render_prometheus(sample_snapshot());
  EXPECT_NE(text.find("# TYPE tun2socks_uptime_seconds gauge\ntun2socks_uptime_seconds 12.345\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# HELP tun2socks_tcp_opened_total TCP attempts\n"
                      "# TYPE tun2socks_tcp_opened_total counter\n"
                      "tun2socks_tcp_opened_total 7\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE tun2socks_tcp_active gauge\ntun2socks_tcp_active 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("tun2socks_bytes_up_total 1000000000000\n"), std::string::npos);
  // Buckets are cumulative, bounds in seconds, +Inf last, _count equals the +Inf bucket.
  EXPECT_NE(text.find("# TYPE tun2socks_proxy_handshake_seconds histogram\n"
                      "tun2socks_proxy_handshake_seconds_bucket{le=\"0.001\"} 2\n"
                      "tun2socks_proxy_handshake_seconds_bucket{le=\"0.025\"} 2\n"
                      "tun2socks_proxy_handshake_seconds_bucket{le=\"2.5\"} 7\n"
                      "tun2socks_proxy_handshake_seconds_bucket{le=\"+Inf\"} 8\n"
                      "tun2socks_proxy_handshake_seconds_sum 7.001\n"
                      "tun2socks_proxy_handshake_seconds_count 8\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.back(), '\n');
}

TEST(StatsRenderTest, PrometheusHelpIsEscaped) {
  Snapshot snapshot;
  snapshot.metrics = {{"x", "a\\b\nc", MetricKind::kCounter, 1}};
  EXPECT_NE(render_prometheus(snapshot).find("# HELP tun2socks_x_total a\\\\b\\nc\n"),
            std::string::npos);
}

TEST(StatsRenderTest, StatsJson) {
  EXPECT_EQ(render_json(sample_snapshot()),
            "{\"uptime_seconds\":12.345,"
            "\"counters\":{\"tcp_opened\":7,\"bytes_up\":1000000000000},"
            "\"gauges\":{\"tcp_active\":3},"
            "\"histograms\":{\"proxy_handshake_seconds\":{\"buckets\":["
            "{\"le\":0.001,\"count\":2},{\"le\":0.025,\"count\":2},{\"le\":2.5,\"count\":7},"
            "{\"le\":null,\"count\":8}],\"count\":8,\"sum\":7.001}}}");
  EXPECT_EQ(render_json(Snapshot{}),
            "{\"uptime_seconds\":0,\"counters\":{},\"gauges\":{},\"histograms\":{}}");
}

TEST(StatsRenderTest, ConnectionsJson) {
  ConnectionPage page;
  page.total = 5000;
  page.offset = 100;
  page.limit = 2;
  page.rows.push_back({"tcp", "198.18.0.1:40000", "example.com:443", 10, 20, 1500, "established"});
  page.rows.push_back({"udp", "[fdfe:dcba:9876::1]:5353", "203.0.113.10:53", 0, 0, 0, "open"});
  EXPECT_EQ(render_connections_json(page),
            "{\"total\":5000,\"offset\":100,\"limit\":2,\"connections\":["
            "{\"protocol\":\"tcp\",\"source\":\"198.18.0.1:40000\","
            "\"destination\":\"example.com:443\",\"bytes_up\":10,\"bytes_down\":20,"
            "\"age_seconds\":1.5,\"state\":\"established\"},"
            "{\"protocol\":\"udp\",\"source\":\"[fdfe:dcba:9876::1]:5353\","
            "\"destination\":\"203.0.113.10:53\",\"bytes_up\":0,\"bytes_down\":0,"
            "\"age_seconds\":0,\"state\":\"open\"}]}");
}

TEST(StatsRenderTest, JsonStringEscaping) {
  EXPECT_EQ(json_string("plain.example"), "\"plain.example\"");
  EXPECT_EQ(json_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(json_string("\n\r\t"), "\"\\n\\r\\t\"");
  EXPECT_EQ(json_string(std::string("\x00\x01\x1f\x7f", 4)), "\"\\u0000\\u0001\\u001f\\u007f\"");
  EXPECT_EQ(json_string("<script>&"), "\"\\u003cscript\\u003e\\u0026\"");
  // Valid UTF-8 passes; each byte of an invalid sequence becomes U+FFFD.
  EXPECT_EQ(json_string("b\xc3\xbc\x63her"), "\"b\xc3\xbc\x63her\"");
  EXPECT_EQ(json_string("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\"");
  EXPECT_EQ(json_string("\xff"), "\"\\ufffd\"");
  EXPECT_EQ(json_string("\xc3"), "\"\\ufffd\"");                                   // truncated
  EXPECT_EQ(json_string("\xc0\xaf"), "\"\\ufffd\\ufffd\"");                        // overlong
  EXPECT_EQ(json_string("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");             // surrogate
  EXPECT_EQ(json_string("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");  // > U+10FFFF
}

class FakeSource final : public StatsSource {
 public:
  Snapshot snapshot() override { return sample_snapshot(); }
  ConnectionPage connections(size_t offset, size_t limit) override {
    asked_offset = offset;
    asked_limit = limit;
    ConnectionPage page;
    page.total = 10'000;
    page.offset = offset;
    page.limit = limit;
    page.rows.push_back({"tcp", "a", "evil\"<name>", 1, 2, 3, "connecting"});
    return page;
  }
  size_t asked_offset = 0;
  size_t asked_limit = 0;
};

HttpResponse request(const std::string& bytes, const std::string& token, FakeSource& source) {
  RequestParser parser(8192);
  parser.feed({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
  return respond(parser, token, source);
}

TEST(StatsRequestTest, Routes) {
  FakeSource source;
  HttpResponse metrics = request("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", "", source);
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics.body.find("tun2socks_tcp_opened_total 7"), std::string::npos);
  HttpResponse stats = request("GET /stats HTTP/1.0\r\n\r\n", "", source);
  EXPECT_EQ(stats.status, 200);
  EXPECT_EQ(stats.content_type, "application/json");
  EXPECT_EQ(stats.body, render_json(sample_snapshot()));
  HttpResponse page = request("GET / HTTP/1.1\r\n\r\n", "", source);
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("<!DOCTYPE html>"), std::string::npos);
  EXPECT_EQ(page.body.find("http://"), std::string::npos);  // no external assets
  EXPECT_EQ(page.body.find("https://"), std::string::npos);
  EXPECT_EQ(request("GET /nope HTTP/1.1\r\n\r\n", "", source).status, 404);
  EXPECT_EQ(request("POST /stats HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "", source).status, 405);
  EXPECT_EQ(request("HEAD /stats HTTP/1.1\r\n\r\n", "", source).status, 405);
}

TEST(StatsRequestTest, ConnectionsPaging) {
  FakeSource source;
  HttpResponse response = request("GET /connections HTTP/1.1\r\n\r\n", "", source);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(source.asked_offset, 0u);
  EXPECT_EQ(source.asked_limit, kDefaultConnectionLimit);
  EXPECT_NE(response.body.find("\"destination\":\"evil\\\"\\u003cname\\u003e\""), std::string::npos)
      << response.body;
  request("GET /connections?offset=9000&limit=50 HTTP/1.1\r\n\r\n", "", source);
  EXPECT_EQ(source.asked_offset, 9000u);
  EXPECT_EQ(source.asked_limit, 50u);
  request("GET /connections?limit=100000 HTTP/1.1\r\n\r\n", "", source);
  EXPECT_EQ(source.asked_limit, kMaxConnectionLimit);
  for (const char* bad : {"limit=x", "limit=", "offset=-1", "limit=1e3", "offset"}) {
    EXPECT_EQ(
        request(std::string("GET /connections?") + bad + " HTTP/1.1\r\n\r\n", "", source).status,
        400)
        << bad;
  }
}

TEST(StatsRequestTest, Token) {
  FakeSource source;
  const std::string token = "s3cret";
  EXPECT_EQ(request("GET /stats HTTP/1.1\r\n\r\n", token, source).status, 401);
  EXPECT_EQ(
      request("GET /stats HTTP/1.1\r\nAuthorization: Bearer wrong\r\n\r\n", token, source).status,
      401);
  EXPECT_EQ(
      request("GET /stats HTTP/1.1\r\nAuthorization: Bearer s3cret2\r\n\r\n", token, source).status,
      401);
  EXPECT_EQ(
      request("GET /stats HTTP/1.1\r\nAuthorization: Basic s3cret\r\n\r\n", token, source).status,
      401);
  // Before the method check: an unauthorized client learns nothing.
  EXPECT_EQ(request("DELETE /x HTTP/1.1\r\n\r\n", token, source).status, 401);
  EXPECT_EQ(
      request("GET /stats HTTP/1.1\r\nauthorization: Bearer s3cret\r\n\r\n", token, source).status,
      200);
  EXPECT_EQ(request("GET /stats HTTP/1.1\r\nX-A: 1\r\nAuthorization: Bearer s3cret\r\nX-B: "
                    "2\r\n\r\n",
                    token, source)
                .status,
            200);
  const std::string unauthorized = serialize(request("GET / HTTP/1.1\r\n\r\n", token, source));
  EXPECT_NE(unauthorized.find("WWW-Authenticate: Bearer\r\n"), std::string::npos);
}

TEST(StatsRequestTest, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
  EXPECT_FALSE(constant_time_equal("ab", "abc"));
  EXPECT_FALSE(constant_time_equal("", "a"));
}

// Fed one byte at a time, as a slow client sends it: every header split anywhere.
TEST(StatsRequestTest, ByteByByte) {
  const std::string bytes =
      "GET /connections?limit=7 HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer tok\r\n\r\n";
  RequestParser parser(8192);
  for (size_t i = 0; i < bytes.size(); ++i) {
    EXPECT_EQ(parser.state(), RequestParser::State::kIncomplete) << i;
    parser.feed({reinterpret_cast<const uint8_t*>(bytes.data() + i), 1});
  }
  ASSERT_EQ(parser.state(), RequestParser::State::kComplete);
  EXPECT_EQ(parser.method(), "GET");
  EXPECT_EQ(parser.target(), "/connections?limit=7");
  EXPECT_EQ(parser.authorization(), "Bearer tok");
}

TEST(StatsRequestTest, MalformedAndOversized) {
  FakeSource source;
  EXPECT_EQ(request("\x16\x03\x01\x02\x00", "", source).status, 400);  // TLS hello
  EXPECT_EQ(request("GET / FTP/1.0\r\n\r\n", "", source).status, 400);
  EXPECT_EQ(request("GET / HTTP/1.1\r\nno colon here\r\n\r\n", "", source).status, 400);
  // An incomplete head is answered 400 only if the client gives up (deadline).
  RequestParser partial(8192);
  EXPECT_EQ(partial.feed({reinterpret_cast<const uint8_t*>("GET / HT"), 8}),
            RequestParser::State::kIncomplete);
  EXPECT_EQ(respond(partial, "", source).status, 400);

  // A head over the limit: 413, in one piece or in many.
  const std::string big = "GET / HTTP/1.1\r\nX-Pad: " + std::string(9000, 'a') + "\r\n\r\n";
  EXPECT_EQ(request(big, "", source).status, 413);
  RequestParser pieces(8192);
  for (size_t at = 0; at < big.size() && pieces.state() == RequestParser::State::kIncomplete;
       at += 1000) {
    const size_t length = std::min<size_t>(1000, big.size() - at);
    pieces.feed({reinterpret_cast<const uint8_t*>(big.data() + at), length});
  }
  EXPECT_EQ(pieces.state(), RequestParser::State::kTooLarge);
  // Exactly at the limit is fine.
  std::string exact = "GET / HTTP/1.1\r\nX-Pad: \r\n\r\n";
  exact.insert(exact.find("\r\n\r\n"), std::string(8192 - exact.size(), 'b'));
  ASSERT_EQ(exact.size(), 8192u);
  EXPECT_EQ(request(exact, "", source).status, 200);
}

TEST(StatsRequestTest, SerializedResponse) {
  HttpResponse response{404, "text/plain; charset=utf-8", "nope\n"};
  EXPECT_EQ(serialize(response),
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 5\r\nCache-Control: no-store\r\nConnection: close\r\n\r\nnope\n");
}

}  // namespace
}  // namespace t2s::stats
