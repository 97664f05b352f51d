// Prometheus and JSON rendering of the live view's snapshot and connection pages.
#include "stats/render.h"

namespace t2s::stats {
namespace {

constexpr std::string_view kPrefix = "tun2socks_";

// Milliseconds as decimal seconds without floating point: 2500 -> "2.5", 1 -> "0.001".
std::string seconds_text(uint64_t ms) {
  std::string text = std::to_string(ms / 1000);
  uint64_t fraction = ms % 1000;
  if (fraction != 0) {
    std::string digits = std::to_string(fraction + 1000).substr(1);  // three digits
    while (digits.back() == '0') digits.pop_back();
    text += "." + digits;
  }
  return text;
}

// HELP text escaping per the exposition format: backslash and line feed.
std::string help_text(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void append_header(std::string& out, const std::string& name, std::string_view help,
                   std::string_view type) {
  out += "# HELP " + name + " " + help_text(help) + "\n# TYPE " + name + " ";
  out += type;
  out += '\n';
}

// Length of the valid UTF-8 sequence starting at text[at], or 0 if there is none.
size_t utf8_sequence_length(std::string_view text, size_t at) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(at);
  size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;  // the second byte's range; later ones are always 80..BF
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // no overlong forms
    if (lead == 0xED) high = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (at + length > text.size()) return 0;
  if (byte(at + 1) < low || byte(at + 1) > high) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (byte(at + i) < 0x80 || byte(at + i) > 0xBF) return 0;
  }
  return length;
}

}  // namespace

std::string json_string(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      size_t length = utf8_sequence_length(text, i);
      if (length == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(text.substr(i, length));
        i += length;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        // Control characters must be escaped; <, > and & too, so the text stays inert even if
        // someone pastes it into HTML.
        if (c < 0x20 || c == 0x7F || c == '<' || c == '>' || c == '&') {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
  return out;
}

std::string render_prometheus(const Snapshot& snapshot) {
  std::string out;
  out.reserve(8192);
  const std::string uptime = std::string(kPrefix) + "uptime_seconds";
  append_header(out, uptime, "Seconds since the tunnel started", "gauge");
  out += uptime + " " + seconds_text(snapshot.uptime_ms) + "\n";
  for (const Metric& metric : snapshot.metrics) {
    const bool counter = metric.kind == MetricKind::kCounter;
    std::string name = std::string(kPrefix) + std::string(metric.name) + (counter ? "_total" : "");
    append_header(out, name, metric.help, counter ? "counter" : "gauge");
    out += name + " " + std::to_string(metric.value) + "\n";
  }
  for (const Histogram& histogram : snapshot.histograms) {
    const std::string name = std::string(kPrefix) + std::string(histogram.name);
    append_header(out, name, histogram.help, "histogram");
    uint64_t cumulative = 0;
    for (size_t i = 0; i < histogram.counts.size(); ++i) {
      cumulative += histogram.counts[i];
      const std::string bound =
          i < histogram.bounds_ms.size() ? seconds_text(histogram.bounds_ms[i]) : "+Inf";
      out += name + "_bucket{le=\"" + bound + "\"} " + std::to_string(cumulative) + "\n";
    }
    out += name + "_sum " + seconds_text(histogram.sum_ms) + "\n";
    out += name + "_count " + std::to_string(cumulative) + "\n";
  }
  return out;
}

std::string render_json(const Snapshot& snapshot) {
  std::string out;
  out.reserve(4096);
  out += "{\"uptime_seconds\":" + seconds_text(snapshot.uptime_ms);
  for (MetricKind kind : {MetricKind::kCounter, MetricKind::kGauge}) {
    out += kind == MetricKind::kCounter ? ",\"counters\":{" : ",\"gauges\":{";
    bool first = true;
    for (const Metric& metric : snapshot.metrics) {
      if (metric.kind != kind) continue;
      if (!first) out += ',';
      first = false;
      out += json_string(metric.name) + ":" + std::to_string(metric.value);
    }
    out += '}';
  }
  out += ",\"histograms\":{";
  for (size_t h = 0; h < snapshot.histograms.size(); ++h) {
    const Histogram& histogram = snapshot.histograms[h];
    if (h != 0) out += ',';
    out += json_string(histogram.name) + ":{\"buckets\":[";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < histogram.counts.size(); ++i) {
      cumulative += histogram.counts[i];
      if (i != 0) out += ',';
      const std::string bound = i < histogram.bounds_ms.size()
                                    ? seconds_text(histogram.bounds_ms[i])
                                    : std::string("null");  // +Inf has no JSON number
      out += "{\"le\":" + bound + ",\"count\":" + std::to_string(cumulative) + "}";
    }
    out += "],\"count\":" + std::to_string(cumulative) +
           ",\"sum\":" + seconds_text(histogram.sum_ms) + "}";
  }
  out += "}}";
  return out;
}

std::string render_connections_json(const ConnectionPage& page) {
  std::string out;
  out.reserve(256 + page.rows.size() * 160);
  out += "{\"total\":" + std::to_string(page.total) + ",\"offset\":" + std::to_string(page.offset) +
         ",\"limit\":" + std::to_string(page.limit) + ",\"connections\":[";
  for (size_t i = 0; i < page.rows.size(); ++i) {
    const ConnectionRow& row = page.rows[i];
    if (i != 0) out += ',';
    out += "{\"protocol\":" + json_string(row.protocol) + ",\"source\":" + json_string(row.source) +
           ",\"destination\":" + json_string(row.destination) +
           ",\"bytes_up\":" + std::to_string(row.bytes_up) +
           ",\"bytes_down\":" + std::to_string(row.bytes_down) +
           ",\"age_seconds\":" + seconds_text(row.age_ms) + ",\"state\":" + json_string(row.state) +
           "}";
  }
  out += "]}";
  return out;
}

}  // namespace t2s::stats
