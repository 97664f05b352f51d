// Linux privilege drop with libcap: keep capabilities across setuid (PR_SET_KEEPCAPS), then
// reduce them to the ones asked for. The bounding set is cut too, so nothing can be regained
// by executing a program.
#include <grp.h>
#include <pwd.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "platform/privileges.h"

namespace t2s::platform {
namespace {

std::string errno_text() {
  return std::strerror(errno);
}

cap_value_t to_cap(Capability capability) {
  return capability == Capability::kNetAdmin ? CAP_NET_ADMIN : CAP_NET_RAW;
}

}  // namespace

std::optional<UserIdentity> find_user(const std::string& name, std::string& error) {
  long size_hint = sysconf(_SC_GETPW_R_SIZE_MAX);
  std::string buffer(size_hint > 0 ? static_cast<size_t>(size_hint) : 16384, '\0');
  passwd entry{};
  passwd* found = nullptr;
  int rc = getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (rc != 0 || found == nullptr) {
    error = "no user named '" + name + "'" + (rc != 0 ? ": " + std::string(std::strerror(rc)) : "");
    return std::nullopt;
  }
  return UserIdentity{name, found->pw_uid, found->pw_gid};
}

bool switch_user(const UserIdentity& user, const std::vector<Capability>& keep,
                 std::string& error) {
  std::vector<cap_value_t> kept;
  for (Capability capability : keep) kept.push_back(to_cap(capability));

  // Cut the bounding set to what we keep (needs CAP_SETPCAP, which root has now).
  for (cap_value_t cap = 0; cap <= CAP_LAST_CAP; ++cap) {
    bool wanted = false;
    for (cap_value_t k : kept) wanted = wanted || k == cap;
    if (!wanted && cap_drop_bound(cap) != 0 && errno != EINVAL) {
      error = "cannot drop capabilities from the bounding set: " + errno_text();
      return false;
    }
  }
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) {
    error = "cannot keep capabilities across the user switch: " + errno_text();
    return false;
  }
  if (initgroups(user.name.c_str(), user.gid) != 0) {
    error = "cannot set the groups of '" + user.name + "': " + errno_text();
    return false;
  }
  if (setresgid(user.gid, user.gid, user.gid) != 0) {
    error = "cannot switch to group " + std::to_string(user.gid) + ": " + errno_text();
    return false;
  }
  if (setresuid(user.uid, user.uid, user.uid) != 0) {
    error = "cannot switch to user '" + user.name + "': " + errno_text();
    return false;
  }
  std::unique_ptr<std::remove_pointer_t<cap_t>, int (*)(void*)> caps(cap_init(), cap_free);
  if (!caps) {
    error = "out of memory building capabilities";
    return false;
  }
  if (!kept.empty()) {
    int count = static_cast<int>(kept.size());
    if (cap_set_flag(caps.get(), CAP_PERMITTED, count, kept.data(), CAP_SET) != 0 ||
        cap_set_flag(caps.get(), CAP_EFFECTIVE, count, kept.data(), CAP_SET) != 0) {
      error = "cannot build the capability set: " + errno_text();
      return false;
    }
  }
  if (cap_set_proc(caps.get()) != 0) {
    error = "cannot set capabilities after switching user: " + errno_text();
    return false;
  }
  prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  // Executing anything cannot raise privileges again.
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  return true;
}

}  // namespace t2s::platform
