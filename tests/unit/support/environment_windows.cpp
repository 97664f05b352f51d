// Test environment variables on Windows: the C runtime's own copy of the environment, which
// getenv reads (SetEnvironmentVariable would not reach it); an empty value removes a variable.
#include <cstdlib>

#include "support/environment.h"

namespace t2s::test_support {

void set_environment(const std::string& name, const std::string& value) {
  _putenv_s(name.c_str(), value.c_str());
}

void unset_environment(const std::string& name) {
  _putenv_s(name.c_str(), "");
}

}  // namespace t2s::test_support
