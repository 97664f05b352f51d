// Unit tests for the fake-IP pool: allocation, both-way lookup, LRU eviction, holds, reuse.
#include "dns/fake_pool.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace t2s::dns {
namespace {

using net::Family;
using net::IpAddress;

net::Cidr cidr(const char* text) {
  return net::Cidr::parse(text).value();
}
IpAddress ip(const char* text) {
  return IpAddress::parse(text).value();
}

FakePool make_pool(size_t capacity, const char* v4 = "198.18.0.0/15",
                   const char* v6 = "fc00::/64") {
  return FakePool(cidr(v4), cidr(v6), capacity);
}

IpAddress must_v4(FakePool& pool, const std::string& name) {
  const auto address = pool.address_for(name, Family::kIpv4);
  EXPECT_TRUE(address.has_value()) << name;
  return address.value_or(IpAddress{});
}

TEST(FakePoolTest, StartsEmpty) {
  const FakePool pool = make_pool(10);
  EXPECT_EQ(pool.size(), 0u);
  EXPECT_EQ(pool.capacity(), 10u);
  EXPECT_EQ(pool.evictions(), 0u);
}

TEST(FakePoolTest, AllocatesSequentialDistinctIpv4) {
  FakePool pool = make_pool(100);
  EXPECT_EQ(must_v4(pool, "a.example"), ip("198.18.0.1"));
  EXPECT_EQ(must_v4(pool, "b.example"), ip("198.18.0.2"));
  EXPECT_EQ(must_v4(pool, "c.example"), ip("198.18.0.3"));
  EXPECT_EQ(pool.size(), 3u);
}

TEST(FakePoolTest, HostBitsOfTheRangeAreIgnored) {
  FakePool pool(cidr("198.18.0.77/24"), cidr("fc00::34/120"), 10);
  EXPECT_EQ(pool.address_for("a", Family::kIpv4), ip("198.18.0.1"));
  EXPECT_EQ(pool.address_for("a", Family::kIpv6), ip("fc00::1"));
}

TEST(FakePoolTest, SameNameSameAddress) {
  FakePool pool = make_pool(100);
  const IpAddress first = must_v4(pool, "example.com");
  must_v4(pool, "other.com");
  EXPECT_EQ(must_v4(pool, "example.com"), first);
  EXPECT_EQ(pool.size(), 2u);
}

TEST(FakePoolTest, BothFamiliesForOneName) {
  FakePool pool = make_pool(100);
  const auto v6 = pool.address_for("dual.example", Family::kIpv6);
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(*v6, ip("fc00::1"));
  const auto v4 = pool.address_for("dual.example", Family::kIpv4);
  ASSERT_TRUE(v4.has_value());
  EXPECT_EQ(*v4, ip("198.18.0.1"));
  EXPECT_EQ(pool.size(), 1u);
  EXPECT_EQ(pool.name_for(*v4), "dual.example");
  EXPECT_EQ(pool.name_for(*v6), "dual.example");
  EXPECT_EQ(pool.address_for("dual.example", Family::kIpv6), v6);
  EXPECT_EQ(pool.address_for("dual.example", Family::kIpv4), v4);
  // The next name gets the next address of each family.
  EXPECT_EQ(pool.address_for("next", Family::kIpv6), ip("fc00::2"));
}

TEST(FakePoolTest, NameForRoundTrip) {
  FakePool pool = make_pool(100);
  std::vector<std::pair<std::string, IpAddress>> mapped;
  for (int i = 0; i < 20; ++i) {
    const std::string name = "host" + std::to_string(i) + ".example";
    const Family family = i % 2 == 0 ? Family::kIpv4 : Family::kIpv6;
    const auto address = pool.address_for(name, family);
    ASSERT_TRUE(address.has_value());
    EXPECT_EQ(address->family, family);
    mapped.emplace_back(name, *address);
  }
  for (const auto& [name, address] : mapped) EXPECT_EQ(pool.name_for(address), name);
}

TEST(FakePoolTest, NameForUnmappedOrForeignAddress) {
  FakePool pool = make_pool(100);
  must_v4(pool, "a");
  EXPECT_FALSE(pool.name_for(ip("198.18.0.2")).has_value());  // in range, unmapped
  EXPECT_FALSE(pool.name_for(ip("198.18.0.0")).has_value());  // network address
  EXPECT_FALSE(pool.name_for(ip("10.0.0.1")).has_value());    // outside
  EXPECT_FALSE(pool.name_for(ip("fc00::1")).has_value());     // other family, unmapped
  EXPECT_FALSE(pool.name_for(ip("fc01::1")).has_value());     // outside
  // Same low 32 bits as a future mapped IPv6 address, but other host bits set.
  EXPECT_EQ(pool.address_for("b", Family::kIpv6), ip("fc00::1"));
  EXPECT_FALSE(pool.name_for(ip("fc00::1:0:1")).has_value());
  EXPECT_EQ(pool.name_for(ip("fc00::1")), "b");
}

TEST(FakePoolTest, StoresNameAsGiven) {
  FakePool pool = make_pool(10);
  const auto address = pool.address_for("MiXeD.Example", Family::kIpv4);
  ASSERT_TRUE(address.has_value());
  EXPECT_EQ(pool.name_for(*address), "MiXeD.Example");
  EXPECT_NE(pool.address_for("mixed.example", Family::kIpv4), address);
}

TEST(FakePoolTest, Contains) {
  const FakePool pool = make_pool(10);
  EXPECT_TRUE(pool.contains(ip("198.18.0.0")));
  EXPECT_TRUE(pool.contains(ip("198.18.0.1")));
  EXPECT_TRUE(pool.contains(ip("198.19.255.255")));
  EXPECT_FALSE(pool.contains(ip("198.20.0.0")));
  EXPECT_FALSE(pool.contains(ip("198.17.255.255")));
  EXPECT_TRUE(pool.contains(ip("fc00::")));
  EXPECT_TRUE(pool.contains(ip("fc00::ffff:ffff:ffff:ffff")));  // beyond the 2^32 used
  EXPECT_FALSE(pool.contains(ip("fc00:0:0:1::")));
  EXPECT_FALSE(pool.contains(ip("::ffff:198.18.0.1")));
}

TEST(FakePoolTest, EvictsLeastRecentlyUsed) {
  FakePool pool = make_pool(3);
  const IpAddress a = must_v4(pool, "a");
  const IpAddress b = must_v4(pool, "b");
  const IpAddress c = must_v4(pool, "c");
  // Use "a" (by name) and "b" (by address): "c" is now the least recently used.
  must_v4(pool, "a");
  EXPECT_EQ(pool.name_for(b), "b");
  must_v4(pool, "d");
  EXPECT_EQ(pool.size(), 3u);
  EXPECT_EQ(pool.evictions(), 1u);
  EXPECT_FALSE(pool.name_for(c).has_value());
  EXPECT_EQ(pool.name_for(a), "a");
  EXPECT_EQ(pool.name_for(b), "b");
  // Order now (most recent first): b, a, d -> the next eviction takes "d".
  must_v4(pool, "e");
  EXPECT_EQ(pool.evictions(), 2u);
  EXPECT_EQ(pool.name_for(a), "a");
  EXPECT_EQ(pool.name_for(b), "b");
  EXPECT_EQ(pool.size(), 3u);
}

TEST(FakePoolTest, EvictedNameGetsANewMapping) {
  FakePool pool = make_pool(1);
  const IpAddress a = must_v4(pool, "a");
  must_v4(pool, "b");
  EXPECT_FALSE(pool.name_for(a).has_value());
  EXPECT_EQ(must_v4(pool, "a"), a);  // its old address was freed and is reused
  EXPECT_EQ(pool.size(), 1u);
  EXPECT_EQ(pool.evictions(), 2u);
}

TEST(FakePoolTest, HeldEntriesSurviveEviction) {
  FakePool pool = make_pool(2);
  const IpAddress a = must_v4(pool, "a");
  const IpAddress b = must_v4(pool, "b");
  pool.hold(a);
  must_v4(pool, "c");  // "a" is the oldest but held: "b" goes
  EXPECT_EQ(pool.name_for(a), "a");
  EXPECT_FALSE(pool.name_for(b).has_value());
  must_v4(pool, "d");  // "c" goes
  EXPECT_EQ(pool.name_for(a), "a");
  EXPECT_EQ(pool.evictions(), 2u);
  EXPECT_EQ(pool.size(), 2u);
}

TEST(FakePoolTest, HoldIsCountedAndReleaseAtZeroIsNoop) {
  FakePool pool = make_pool(1);
  const IpAddress a = must_v4(pool, "a");
  pool.hold(a);
  pool.hold(a);
  pool.release(a);
  must_v4(pool, "b");  // "a" still held once: kept beyond capacity
  EXPECT_EQ(pool.name_for(a), "a");
  EXPECT_EQ(pool.size(), 2u);
  pool.release(a);  // now free: over capacity, so the least recently used goes ("b")
  EXPECT_EQ(pool.size(), 1u);
  EXPECT_EQ(pool.name_for(a), "a");
  pool.release(a);  // already at zero: no-op
  pool.release(a);
  pool.release(ip("198.18.0.200"));  // unmapped: no-op
  pool.release(ip("10.1.1.1"));      // outside: no-op
  pool.hold(ip("198.18.0.200"));     // unmapped: no-op
  EXPECT_EQ(pool.size(), 1u);
  must_v4(pool, "c");  // "a" is not held any more
  EXPECT_FALSE(pool.name_for(a).has_value());
  EXPECT_EQ(pool.size(), 1u);
}

TEST(FakePoolTest, HoldThroughEitherFamilyProtectsTheName) {
  FakePool pool = make_pool(1);
  const auto v6 = pool.address_for("a", Family::kIpv6);
  ASSERT_TRUE(v6.has_value());
  const IpAddress v4 = must_v4(pool, "a");
  pool.hold(*v6);
  must_v4(pool, "b");
  EXPECT_EQ(pool.name_for(v4), "a");
  EXPECT_EQ(pool.name_for(*v6), "a");
}

TEST(FakePoolTest, ReusesAddressesAfterEviction) {
  FakePool pool = make_pool(2);
  const IpAddress a = must_v4(pool, "a");
  must_v4(pool, "b");
  must_v4(pool, "c");  // evicts "a", frees its address
  // The freed address is reused before the fresh 198.18.0.4.
  EXPECT_EQ(must_v4(pool, "d"), a);
  EXPECT_EQ(pool.name_for(a), "d");
}

TEST(FakePoolTest, EvictionFreesBothFamilies) {
  FakePool pool = make_pool(1);
  const IpAddress a4 = must_v4(pool, "a");
  const auto a6 = pool.address_for("a", Family::kIpv6);
  ASSERT_TRUE(a6.has_value());
  must_v4(pool, "b");  // evicts "a": both its addresses are free again
  EXPECT_FALSE(pool.name_for(*a6).has_value());
  EXPECT_EQ(pool.address_for("b", Family::kIpv6), a6);
  EXPECT_NE(must_v4(pool, "b"), a4);  // "b" took 198.18.0.2 before "a" was evicted
}

TEST(FakePoolTest, Slash30HasTwoAddresses) {
  FakePool pool(cidr("10.0.0.0/30"), cidr("fc00::/120"), 100);
  const IpAddress a = must_v4(pool, "a");
  const IpAddress b = must_v4(pool, "b");
  EXPECT_EQ(a, ip("10.0.0.1"));
  EXPECT_EQ(b, ip("10.0.0.2"));
  // The range is exhausted: the least recently used mapping with an IPv4 address goes.
  const IpAddress c = must_v4(pool, "c");
  EXPECT_EQ(c, a);
  EXPECT_EQ(pool.evictions(), 1u);
  EXPECT_EQ(pool.name_for(c), "c");
  EXPECT_EQ(pool.name_for(b), "b");
  EXPECT_FALSE(pool.contains(ip("10.0.0.4")));
  EXPECT_TRUE(pool.contains(ip("10.0.0.3")));
  EXPECT_FALSE(pool.name_for(ip("10.0.0.3")).has_value());  // broadcast, never handed out
  // IPv6 for these names still works and does not touch IPv4.
  EXPECT_TRUE(pool.address_for("b", Family::kIpv6).has_value());
  EXPECT_EQ(pool.size(), 2u);
}

TEST(FakePoolTest, ExhaustedWithEverythingHeldGivesNullopt) {
  FakePool pool(cidr("10.0.0.0/30"), cidr("fc00::/120"), 100);
  const IpAddress a = must_v4(pool, "a");
  const IpAddress b = must_v4(pool, "b");
  pool.hold(a);
  pool.hold(b);
  EXPECT_FALSE(pool.address_for("c", Family::kIpv4).has_value());
  EXPECT_EQ(pool.size(), 2u);  // no entry left behind for "c"
  EXPECT_EQ(pool.evictions(), 0u);
  // The other family is unaffected.
  EXPECT_TRUE(pool.address_for("c", Family::kIpv6).has_value());
  EXPECT_FALSE(pool.address_for("c", Family::kIpv4).has_value());
  pool.release(b);
  EXPECT_EQ(pool.address_for("c", Family::kIpv4), b);
  EXPECT_EQ(pool.name_for(a), "a");
  EXPECT_EQ(pool.evictions(), 1u);
}

TEST(FakePoolTest, ExhaustionSkipsMappingsWithoutThatFamily) {
  FakePool pool(cidr("10.0.0.0/30"), cidr("fc00::/120"), 100);
  ASSERT_TRUE(pool.address_for("only6", Family::kIpv6).has_value());  // least recent
  const IpAddress a = must_v4(pool, "a");
  must_v4(pool, "b");
  must_v4(pool, "c");  // evicts "a" (oldest with IPv4), not "only6"
  EXPECT_EQ(pool.name_for(a), "c");
  EXPECT_EQ(pool.name_for(ip("fc00::1")), "only6");
}

TEST(FakePoolTest, RangesWithNoUsableAddress) {
  FakePool pool(cidr("10.0.0.0/31"), cidr("fc00::/128"), 10);
  EXPECT_FALSE(pool.address_for("a", Family::kIpv4).has_value());
  EXPECT_FALSE(pool.address_for("a", Family::kIpv6).has_value());
  EXPECT_EQ(pool.size(), 0u);
  FakePool single(cidr("10.0.0.7/32"), cidr("fc00::/127"), 10);
  EXPECT_FALSE(single.address_for("a", Family::kIpv4).has_value());
  EXPECT_EQ(single.address_for("a", Family::kIpv6), ip("fc00::1"));
}

TEST(FakePoolTest, Ipv6SmallRangeWraps) {
  FakePool pool(cidr("10.0.0.0/8"), cidr("fc00::/126"), 100);  // hosts ::1, ::2, ::3
  EXPECT_EQ(pool.address_for("a", Family::kIpv6), ip("fc00::1"));
  EXPECT_EQ(pool.address_for("b", Family::kIpv6), ip("fc00::2"));
  EXPECT_EQ(pool.address_for("c", Family::kIpv6), ip("fc00::3"));
  EXPECT_EQ(pool.address_for("d", Family::kIpv6), ip("fc00::1"));
  EXPECT_EQ(pool.name_for(ip("fc00::1")), "d");
}

TEST(FakePoolTest, CapacityZeroActsAsOne) {
  FakePool pool = make_pool(0);
  EXPECT_TRUE(pool.address_for("a", Family::kIpv4).has_value());
  EXPECT_TRUE(pool.address_for("b", Family::kIpv4).has_value());
  EXPECT_EQ(pool.size(), 1u);
}

TEST(FakePoolTest, StressManyNamesStaysBounded) {
  FakePool pool = make_pool(1000, "198.18.0.0/16", "fc00::/64");
  constexpr int kNames = 50000;
  std::vector<IpAddress> recent;
  for (int i = 0; i < kNames; ++i) {
    const std::string name = "n" + std::to_string(i) + ".example";
    const auto v4 = pool.address_for(name, Family::kIpv4);
    ASSERT_TRUE(v4.has_value());
    if (i % 3 == 0) {
      const auto v6 = pool.address_for(name, Family::kIpv6);
      ASSERT_TRUE(v6.has_value());
      ASSERT_EQ(pool.name_for(*v6), name);
    }
    ASSERT_LE(pool.size(), pool.capacity());
    ASSERT_EQ(pool.name_for(*v4), name);
    if (i >= kNames - 1000) recent.push_back(*v4);
  }
  EXPECT_EQ(pool.size(), 1000u);
  EXPECT_EQ(pool.evictions(), static_cast<uint64_t>(kNames - 1000));
  // The last 1000 names are all still mapped, each to its own address.
  std::set<std::string> names;
  for (const IpAddress& address : recent) {
    const auto name = pool.name_for(address);
    ASSERT_TRUE(name.has_value()) << address.to_string();
    names.insert(*name);
  }
  EXPECT_EQ(names.size(), 1000u);
  std::set<std::string> addresses;
  for (const IpAddress& address : recent) addresses.insert(address.to_string());
  EXPECT_EQ(addresses.size(), 1000u);
}

}  // namespace
}  // namespace t2s::dns
