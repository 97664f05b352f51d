// resolv.conf text: keyword lines split on blanks, as the C library's resolver reads them.
#include "platform/resolv_conf.h"

#include <sstream>

namespace t2s::platform::resolv_conf {
namespace {

bool is_nameserver_line(const std::string& line, std::string* address) {
  std::istringstream words(line);
  std::string keyword, value;
  if (!(words >> keyword) || keyword != "nameserver") return false;
  if (address != nullptr && (words >> value)) *address = value;
  return true;
}

}  // namespace

std::vector<std::string> nameservers(std::string_view contents) {
  std::vector<std::string> found;
  std::istringstream lines{std::string(contents)};
  for (std::string line; std::getline(lines, line);) {
    std::string address;
    if (is_nameserver_line(line, &address) && !address.empty()) found.push_back(address);
  }
  return found;
}

std::string rewritten(std::string_view original, const std::vector<std::string>& servers) {
  std::string out(kMarker);
  for (const std::string& address : servers) out += "nameserver " + address + "\n";
  std::istringstream lines{std::string(original)};
  for (std::string line; std::getline(lines, line);) {
    // Lines that already start with the prefix get it once more, so undoing is exact.
    if (is_nameserver_line(line, nullptr) || line.starts_with(kSavedPrefix)) out += kSavedPrefix;
    out += line + "\n";
  }
  return out;
}

bool is_ours(std::string_view contents) {
  return contents.starts_with(kMarker);
}

std::optional<std::string> original_of(std::string_view ours) {
  if (!is_ours(ours)) return std::nullopt;
  std::string out;
  std::istringstream lines{std::string(ours.substr(kMarker.size()))};
  for (std::string line; std::getline(lines, line);) {
    if (is_nameserver_line(line, nullptr)) continue;  // ours: the original's are commented out
    if (line.starts_with(kSavedPrefix)) line.erase(0, kSavedPrefix.size());
    out += line + "\n";
  }
  return out;
}

}  // namespace t2s::platform::resolv_conf
