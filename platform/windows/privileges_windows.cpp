// Windows: no switch to another user after set-up (the flag is refused earlier, see
// platform/features.h); these say so if reached anyway.
#include "platform/privileges.h"

namespace t2s::platform {

std::optional<UserIdentity> find_user(const std::string&, std::string& error) {
  error = "switching to another user is not supported on Windows";
  return std::nullopt;
}

bool switch_user(const UserIdentity&, const std::vector<Capability>&, std::string& error) {
  error = "switching to another user is not supported on Windows";
  return false;
}

}  // namespace t2s::platform
