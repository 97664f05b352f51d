// Log sink: formats "2026-11-28T06:21:02.123Z WARN message" lines onto stderr.
#include "log/log.h"

#include <sys/time.h>

#include <cstdio>
#include <ctime>

namespace t2s::log {
namespace {
Level g_level = Level::kInfo;

const char* level_name(Level lvl) {
  switch (lvl) {
    case Level::kTrace:
      return "TRACE";
    case Level::kDebug:
      return "DEBUG";
    case Level::kInfo:
      return "INFO ";
    case Level::kWarn:
      return "WARN ";
    case Level::kError:
      return "ERROR";
    case Level::kOff:
      break;
  }
  return "";
}
}  // namespace

void set_level(Level lvl) {
  g_level = lvl;
}
Level level() {
  return g_level;
}

std::optional<Level> parse_level(std::string_view name) {
  if (name == "trace") return Level::kTrace;
  if (name == "debug") return Level::kDebug;
  if (name == "info") return Level::kInfo;
  if (name == "warn" || name == "warning") return Level::kWarn;
  if (name == "error") return Level::kError;
  if (name == "off") return Level::kOff;
  return std::nullopt;
}

void write(Level lvl, std::string_view message) {
  timeval now{};
  gettimeofday(&now, nullptr);
  tm utc{};
  gmtime_r(&now.tv_sec, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  fmt::print(stderr, "{}.{:03}Z {} {}\n", stamp, now.tv_usec / 1000, level_name(lvl), message);
  std::fflush(stderr);
}

}  // namespace t2s::log
