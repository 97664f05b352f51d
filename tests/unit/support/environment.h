// Setting and removing environment variables from tests, where the C library's getenv (which
// CLI11 reads) sees them; the calls differ by OS (environment_posix.cpp, _windows.cpp).
#pragma once

#include <string>

namespace t2s::test_support {

void set_environment(const std::string& name, const std::string& value);
void unset_environment(const std::string& name);

}  // namespace t2s::test_support
