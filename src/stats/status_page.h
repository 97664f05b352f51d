// The live view's status page: one self-contained HTML document (inline style and script, no
// external assets) that polls /stats and /connections and draws throughput, counters and the
// connection table.
#pragma once

#include <string_view>

namespace t2s::stats {

std::string_view status_page();

}  // namespace t2s::stats
