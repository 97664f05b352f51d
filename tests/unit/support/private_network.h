// Runs a test body in a network namespace of its own with loopback up (Linux; root only), so
// tests may use loopback sockets without touching the machine's network. The body runs on a
// thread of its own, since a namespace belongs to the thread that unshares it.
#pragma once

#include <functional>
#include <string>

namespace t2s::test_support {

// Runs `body` and returns an empty string, or returns why no namespace could be made (the test
// should then skip) without running it.
std::string run_in_private_network(const std::function<void()>& body);

}  // namespace t2s::test_support
