// --set-dns on Linux. Two cases:
// - /etc/resolv.conf is a file (also a container's bind mount): it is rewritten in place through
//   a descriptor kept open, so restoring works after the privilege drop. Our version keeps the
//   lines it replaced as comments (resolv_conf.h), so a later start or --cleanup restores the
//   original from the file alone, after a crash or even a reboot, and only while the file is
//   still ours (never over a newer DHCP or admin change).
// - it links into /run/systemd/resolve/ (systemd-resolved): the device gets per-link DNS and
//   the "~." routing domain through resolvectl; resolved forgets them when the device goes.
// Any other symlink belongs to a manager we do not know (resolvconf, NetworkManager): refused.
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "platform/resolv_conf.h"
#include "platform/resolver.h"

extern char** environ;

namespace t2s::platform {
namespace {

constexpr const char* kResolvConf = "/etc/resolv.conf";
constexpr size_t kMaxFileBytes = 1 << 20;

std::string errno_text() {
  return std::strerror(errno);
}

bool read_all(int fd, std::string& out) {
  out.clear();
  char buffer[4096];
  off_t offset = 0;
  while (out.size() < kMaxFileBytes) {
    ssize_t n = pread(fd, buffer, sizeof buffer, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    out.append(buffer, static_cast<size_t>(n));
    offset += n;
  }
  return true;
}

bool read_file(const std::string& path, std::string& out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = read_all(fd, out);
  close(fd);
  return ok;
}

bool write_all_at_start(int fd, const std::string& contents) {
  if (ftruncate(fd, 0) != 0) return false;
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n =
        pwrite(fd, contents.data() + done, contents.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return fsync(fd) == 0 || errno == EINVAL;
}

// Runs a program without a shell; returns its exit status, or -1 if it could not run.
int run_program(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class FileResolverOverride final : public ResolverOverride {
 public:
  FileResolverOverride(int fd, std::string original, std::string ours)
      : fd_(fd), original_(std::move(original)), ours_(std::move(ours)) {}
  ~FileResolverOverride() override {
    std::string ignored;
    restore(ignored);
  }

  bool restore(std::string& error) override {
    if (fd_ < 0) return true;
    bool ok = true;
    std::string now;
    if (!read_all(fd_, now)) {
      error = std::string("cannot read ") + kResolvConf + ": " + errno_text();
      ok = false;
    } else if (now != ours_) {
      error = std::string(kResolvConf) + " was changed by someone else meanwhile; left as it is";
      ok = false;
    } else if (!write_all_at_start(fd_, original_)) {
      error = std::string("cannot restore ") + kResolvConf + ": " + errno_text();
      ok = false;
    }
    close(fd_);
    fd_ = -1;
    return ok;
  }

  std::string description() const override { return std::string("rewrote ") + kResolvConf; }

 private:
  int fd_;
  std::string original_;
  std::string ours_;
};

class ResolvedOverride final : public ResolverOverride {
 public:
  explicit ResolvedOverride(std::string device) : device_(std::move(device)) {}
  ~ResolvedOverride() override {
    std::string ignored;
    restore(ignored);
  }
  bool restore(std::string& error) override {
    if (device_.empty()) return true;
    // The link's settings go with the device anyway; revert in case the device stays.
    int rc = run_program({"resolvectl", "revert", device_});
    device_.clear();
    if (rc != 0) {
      error = "resolvectl revert failed";
      return false;
    }
    return true;
  }
  std::string description() const override {
    return "set per-link DNS on " + device_ + " in systemd-resolved";
  }

 private:
  std::string device_;
};

}  // namespace

std::vector<std::string> ResolverOverride::current_nameservers() {
  std::string contents;
  if (!read_file(kResolvConf, contents)) return {};
  return resolv_conf::nameservers(contents);
}

int ResolverOverride::restore_leftover(std::string& error) {
  std::string now;
  if (!read_file(kResolvConf, now) || !resolv_conf::is_ours(now)) return 0;
  int fd = open(kResolvConf, O_RDWR | O_CLOEXEC);
  if (fd < 0 || !read_all(fd, now) || !resolv_conf::is_ours(now) ||
      !write_all_at_start(fd, resolv_conf::original_of(now).value_or(""))) {
    error = std::string("cannot restore ") + kResolvConf + ": " + errno_text();
    if (fd >= 0) close(fd);
    return -1;
  }
  close(fd);
  return 1;
}

std::unique_ptr<ResolverOverride> ResolverOverride::install(const ResolverOptions& options,
                                                            std::string& error) {
  struct stat link_info {};
  if (lstat(kResolvConf, &link_info) != 0) {
    error = std::string("cannot find ") + kResolvConf + ": " + errno_text();
    return nullptr;
  }
  if (S_ISLNK(link_info.st_mode)) {
    char target[4096] = {};
    ssize_t length = readlink(kResolvConf, target, sizeof target - 1);
    std::string link = length > 0 ? std::string(target, static_cast<size_t>(length)) : "";
    if (link.find("/run/systemd/resolve/") == std::string::npos) {
      error = std::string(kResolvConf) + " links to " + link +
              ", managed by another program; point that program at " +
              (options.nameservers.empty() ? "" : options.nameservers.front()) + " instead";
      return nullptr;
    }
    std::vector<std::string> dns = {"resolvectl", "dns", options.device};
    dns.insert(dns.end(), options.nameservers.begin(), options.nameservers.end());
    if (run_program(dns) != 0 || run_program({"resolvectl", "domain", options.device, "~."}) != 0 ||
        run_program({"resolvectl", "default-route", options.device, "yes"}) != 0) {
      error = "resolvectl could not set DNS on " + options.device;
      run_program({"resolvectl", "revert", options.device});
      return nullptr;
    }
    return std::make_unique<ResolvedOverride>(options.device);
  }

  int fd = open(kResolvConf, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    error = std::string("cannot open ") + kResolvConf + " for writing: " + errno_text();
    return nullptr;
  }
  std::string original;
  if (!read_all(fd, original)) {
    error = std::string("cannot read ") + kResolvConf + ": " + errno_text();
    close(fd);
    return nullptr;
  }
  // Still ours from a run that could not restore it: start from what it replaced.
  if (auto earlier = resolv_conf::original_of(original)) original = std::move(*earlier);
  std::string ours = resolv_conf::rewritten(original, options.nameservers);
  if (!write_all_at_start(fd, ours)) {
    error = std::string("cannot write ") + kResolvConf + ": " + errno_text();
    write_all_at_start(fd, original);
    close(fd);
    return nullptr;
  }
  return std::make_unique<FileResolverOverride>(fd, std::move(original), std::move(ours));
}

}  // namespace t2s::platform
