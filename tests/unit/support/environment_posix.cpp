// Test environment variables on POSIX: setenv and unsetenv.
#include <cstdlib>

#include "support/environment.h"

namespace t2s::test_support {

void set_environment(const std::string& name, const std::string& value) {
  ::setenv(name.c_str(), value.c_str(), 1);
}

void unset_environment(const std::string& name) {
  ::unsetenv(name.c_str());
}

}  // namespace t2s::test_support
