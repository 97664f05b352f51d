// Dropping root after set-up (--user): the process becomes an ordinary user that keeps only the
// capabilities teardown and new proxy sockets still need.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace t2s::platform {

struct UserIdentity {
  std::string name;
  uint32_t uid = 0;
  uint32_t gid = 0;
};

// Looks the user up (before anything is set up, so a typo fails early).
std::optional<UserIdentity> find_user(const std::string& name, std::string& error);

enum class Capability { kNetAdmin, kNetRaw };

// Switches to `user` (its groups too) keeping only `keep` as permitted and effective
// capabilities; no way back. Returns false with `error` set; the process should then exit.
bool switch_user(const UserIdentity& user, const std::vector<Capability>& keep, std::string& error);

}  // namespace t2s::platform
