// Pure renderers of the live view's data: Prometheus text exposition format and JSON.
#pragma once

#include <string>
#include <string_view>

#include "stats/snapshot.h"

namespace t2s::stats {

// Prometheus text format 0.0.4: HELP and TYPE lines, metric names prefixed "tun2socks_".
std::string render_prometheus(const Snapshot& snapshot);
// {"uptime_seconds":..,"counters":{..},"gauges":{..},"histograms":{..}}
std::string render_json(const Snapshot& snapshot);
// {"total":..,"offset":..,"limit":..,"connections":[{..},..]}
std::string render_connections_json(const ConnectionPage& page);

// `text` as a JSON string literal with its quotes. Names come from DNS queries and may hold any
// byte: control characters and HTML-significant ones are escaped, invalid UTF-8 becomes U+FFFD.
std::string json_string(std::string_view text);

}  // namespace t2s::stats
