// --set-dns: points the system's resolver at the tunnel while it runs, and puts the previous
// configuration back afterwards (also after a crash, on the next start or --cleanup).
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace t2s::platform {

struct ResolverOptions {
  std::string device;                    // the TUN device (per-link DNS with systemd-resolved)
  std::vector<std::string> nameservers;  // numeric addresses
};

class ResolverOverride {
 public:
  // The nameservers the system uses now (numeric, in order), for forwarding queries.
  static std::vector<std::string> current_nameservers();
  // Returns nullptr with `error` set when the resolver cannot be changed.
  static std::unique_ptr<ResolverOverride> install(const ResolverOptions& options,
                                                   std::string& error);
  // Puts back the configuration an earlier run replaced, if the system still has ours.
  // Returns 1 if restored, 0 if there was nothing to do, -1 with `error` set.
  static int restore_leftover(std::string& error);

  virtual ~ResolverOverride() = default;  // restores, like restore()
  // Puts the previous configuration back (idempotent); false with `error` set on failure.
  // Works after switch_user: it needs no permission beyond what install() held open.
  virtual bool restore(std::string& error) = 0;
  // How the change was made, for the log.
  virtual std::string description() const = 0;
};

}  // namespace t2s::platform
