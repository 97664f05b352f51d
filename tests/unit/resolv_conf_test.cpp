// Unit tests for the resolv.conf text handling behind --set-dns.
#include "platform/resolv_conf.h"

#include <gtest/gtest.h>

namespace t2s::platform::resolv_conf {
namespace {

TEST(ResolvConfTest, NameserversInOrder) {
  const char* text =
      "# comment nameserver 9.9.9.9\n"
      "search example.test\n"
      "nameserver 192.0.2.53\n"
      "  nameserver\t2001:db8::53  # trailing\n"
      "nameserver\n"
      "nameservers 198.51.100.1\n"
      "options timeout:2\n"
      "nameserver 203.0.113.53";  // no final newline
  EXPECT_EQ(nameservers(text),
            (std::vector<std::string>{"192.0.2.53", "2001:db8::53", "203.0.113.53"}));
  EXPECT_TRUE(nameservers("").empty());
}

TEST(ResolvConfTest, RewriteKeepsEverythingAndCommentsOutNameservers) {
  const std::string original =
      "search example.test\nnameserver 192.0.2.53\noptions timeout:2 attempts:2\n"
      "nameserver 2001:db8::53\n# note\n";
  std::string ours = rewritten(original, {"198.18.0.2"});
  EXPECT_EQ(ours, std::string(kMarker) +
                      "nameserver 198.18.0.2\n"
                      "search example.test\n"
                      "# tun2socks saved: nameserver 192.0.2.53\n"
                      "options timeout:2 attempts:2\n"
                      "# tun2socks saved: nameserver 2001:db8::53\n"
                      "# note\n");
  EXPECT_TRUE(is_ours(ours));
  EXPECT_FALSE(is_ours(original));
  EXPECT_EQ(nameservers(ours), std::vector<std::string>{"198.18.0.2"});
  EXPECT_EQ(original_of(ours), original);  // byte for byte, from the file alone
  EXPECT_EQ(original_of(original), std::nullopt);
}

TEST(ResolvConfTest, RoundTrips) {
  for (const std::string& original :
       {std::string(), std::string("nameserver 192.0.2.53\n"), std::string("# only a comment\n\n"),
        std::string("options edns0\nnameserver ::1\n")}) {
    EXPECT_EQ(original_of(rewritten(original, {"198.18.0.2", "fdfe:dcba:9876::2"})), original)
        << original;
  }
  // A line that happens to look like one of our saved lines survives too.
  const std::string tricky = "# tun2socks saved: search x\nnameserver 192.0.2.1\n";
  EXPECT_EQ(original_of(rewritten(tricky, {"198.18.0.2"})), tricky);
  // Without a final newline the original comes back with one.
  EXPECT_EQ(original_of(rewritten("nameserver 192.0.2.53", {"198.18.0.2"})),
            "nameserver 192.0.2.53\n");
}

TEST(ResolvConfTest, EmptyOriginal) {
  EXPECT_EQ(rewritten("", {"198.18.0.2", "fdfe:dcba:9876::2"}),
            std::string(kMarker) + "nameserver 198.18.0.2\nnameserver fdfe:dcba:9876::2\n");
}

}  // namespace
}  // namespace t2s::platform::resolv_conf
