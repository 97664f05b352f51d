// Log sink: formats "2026-11-28T06:21:02.123Z WARN message" lines onto stderr.
#include "log/log.h"

#include <chrono>
#include <cstdio>

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
  // The calendar from std::chrono rather than gmtime_r, which not every C library has.
  using namespace std::chrono;
  const auto now = floor<milliseconds>(system_clock::now());
  const auto today = floor<days>(now);
  const year_month_day date{today};
  const hh_mm_ss time{now - today};
  fmt::print(stderr, "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z {} {}\n",
             static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
             static_cast<unsigned>(date.day()), time.hours().count(), time.minutes().count(),
             time.seconds().count(), time.subseconds().count(), level_name(lvl), message);
  std::fflush(stderr);
}

}  // namespace t2s::log
