// Windows: the system resolver is left alone (--set-dns is refused earlier, see
// platform/features.h); these say so if reached anyway, and find nothing to restore.
#include "platform/resolver.h"

namespace t2s::platform {

std::vector<std::string> ResolverOverride::current_nameservers() {
  return {};
}

std::unique_ptr<ResolverOverride> ResolverOverride::install(const ResolverOptions&,
                                                            std::string& error) {
  error = "changing the system resolver is not supported on Windows";
  return nullptr;
}

int ResolverOverride::restore_leftover(std::string&) {
  return 0;
}

}  // namespace t2s::platform
