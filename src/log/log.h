// Leveled, timestamped logging to stderr through fmt. One process-wide level; cheap when a
// message's level is filtered out (arguments are not formatted).
#pragma once

#include <fmt/format.h>

#include <concepts>
#include <optional>
#include <string>
#include <string_view>

namespace t2s::log {

enum class Level { kTrace = 0, kDebug, kInfo, kWarn, kError, kOff };

void set_level(Level level);
Level level();
std::optional<Level> parse_level(std::string_view name);
void write(Level level, std::string_view message);

template <typename... Args>
void emit(Level lvl, fmt::format_string<Args...> format, Args&&... args) {
  if (lvl < level()) return;
  write(lvl, fmt::format(format, std::forward<Args>(args)...));
}

template <typename... Args>
void trace(fmt::format_string<Args...> f, Args&&... a) {
  emit(Level::kTrace, f, std::forward<Args>(a)...);
}
template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... a) {
  emit(Level::kDebug, f, std::forward<Args>(a)...);
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... a) {
  emit(Level::kInfo, f, std::forward<Args>(a)...);
}
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... a) {
  emit(Level::kWarn, f, std::forward<Args>(a)...);
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... a) {
  emit(Level::kError, f, std::forward<Args>(a)...);
}

// Values with a to_string() member (addresses, endpoints) go into a message as they are and
// are converted only when the message is written, not on every filtered-out call.
template <typename T>
concept HasToString = requires(const T& value) {
  { value.to_string() } -> std::convertible_to<std::string>;
};

}  // namespace t2s::log

template <t2s::log::HasToString T>
struct fmt::formatter<T> : fmt::formatter<std::string_view> {
  auto format(const T& value, fmt::format_context& context) const {
    return fmt::formatter<std::string_view>::format(value.to_string(), context);
  }
};
