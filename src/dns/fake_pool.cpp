// The fake-IP pool: sequential allocation from two ranges, name <-> address maps, LRU eviction.
#include "dns/fake_pool.h"

#include <algorithm>
#include <iterator>

namespace t2s::dns {

namespace {

// IPv6 ranges wider than this many addresses are used only up to it.
constexpr uint64_t kMaxRangeSize = uint64_t{1} << 32;

// The first 4-byte group that holds host bits we hand out: the whole IPv4 address, the last
// 32 bits of an IPv6 address.
size_t low_word_offset(net::Family family) {
  return family == net::Family::kIpv4 ? 0 : 12;
}

net::IpAddress network_of(const net::IpAddress& address, net::Family family, int prefix) {
  net::IpAddress network;
  network.family = family;
  const size_t size = family == net::Family::kIpv4 ? 4 : 16;
  for (size_t i = 0; i < size; ++i) {
    const int bits = std::clamp(prefix - static_cast<int>(i) * 8, 0, 8);
    const auto mask = static_cast<uint8_t>(0xff00 >> bits);
    network.bytes[i] = static_cast<uint8_t>(address.bytes[i] & mask);
  }
  return network;
}

int clamped_prefix(const net::Cidr& cidr, net::Family family) {
  return std::clamp(cidr.prefix_length, 0, family == net::Family::kIpv4 ? 32 : 128);
}

}  // namespace

FakePool::FakePool(const net::Cidr& ipv4, const net::Cidr& ipv6, size_t capacity)
    : ipv4_(ipv4), ipv6_(ipv6), capacity_(std::max<size_t>(capacity, 1)) {
  const int prefix4 = clamped_prefix(ipv4, net::Family::kIpv4);
  const int host4 = 32 - prefix4;
  v4_.network = network_of(ipv4.address, net::Family::kIpv4, prefix4);
  v4_.host_mask = static_cast<uint32_t>((uint64_t{1} << host4) - 1);
  // All-zeros and all-ones hosts are skipped, so a /31 or /32 has nothing to hand out.
  v4_.last = host4 >= 2 ? (uint64_t{1} << host4) - 2 : 0;

  const int prefix6 = clamped_prefix(ipv6, net::Family::kIpv6);
  const int host6 = 128 - prefix6;
  v6_.network = network_of(ipv6.address, net::Family::kIpv6, prefix6);
  const uint64_t size6 = host6 >= 32 ? kMaxRangeSize : uint64_t{1} << host6;
  v6_.host_mask = static_cast<uint32_t>(size6 - 1);
  v6_.last = size6 - 1;  // only host 0 is skipped
}

net::IpAddress FakePool::address_at(net::Family family, uint32_t offset) const {
  net::IpAddress address = family == net::Family::kIpv4 ? v4_.network : v6_.network;
  const size_t at = low_word_offset(family);
  for (size_t i = 0; i < 4; ++i) {
    address.bytes[at + i] |= static_cast<uint8_t>(offset >> (24 - 8 * i));
  }
  return address;
}

std::optional<uint32_t> FakePool::offset_of(const net::IpAddress& address) const {
  const Range& range = address.family == net::Family::kIpv4 ? v4_ : v6_;
  const size_t at = low_word_offset(address.family);
  uint32_t word = 0;
  for (size_t i = 0; i < 4; ++i) word = (word << 8) | address.bytes[at + i];
  const uint32_t offset = word & range.host_mask;
  if (offset == 0 || offset > range.last) return std::nullopt;
  const net::IpAddress rebuilt = address_at(address.family, offset);
  if (!std::equal(rebuilt.view().begin(), rebuilt.view().end(), address.view().begin())) {
    return std::nullopt;
  }
  return offset;
}

uint64_t FakePool::address_key(net::Family family, uint32_t offset) {
  return (family == net::Family::kIpv6 ? kMaxRangeSize : 0) | offset;
}

std::optional<FakePool::EntryList::iterator> FakePool::find_address(const net::IpAddress& address) {
  const auto offset = offset_of(address);
  if (!offset) return std::nullopt;
  const auto found = by_address_.find(address_key(address.family, *offset));
  if (found == by_address_.end()) return std::nullopt;
  return found->second;
}

std::optional<uint32_t> FakePool::allocate(net::Family family) {
  Range& range = range_for(family);
  if (range.free.empty()) {
    if (range.next <= range.last) return static_cast<uint32_t>(range.next++);
    // Exhausted: free the address of the least recently used mapping no flow holds.
    for (auto it = lru_.end(); it != lru_.begin();) {
      --it;
      if ((family == net::Family::kIpv4 ? it->v4 : it->v6) != 0) {
        evict(it);
        break;
      }
    }
    if (range.free.empty()) return std::nullopt;
  }
  const uint32_t offset = range.free.front();
  range.free.pop_front();
  return offset;
}

void FakePool::evict(EntryList::iterator entry) {
  by_name_.erase(std::string_view(entry->name));
  if (entry->v4 != 0) {
    by_address_.erase(address_key(net::Family::kIpv4, entry->v4));
    v4_.free.push_back(entry->v4);
  }
  if (entry->v6 != 0) {
    by_address_.erase(address_key(net::Family::kIpv6, entry->v6));
    v6_.free.push_back(entry->v6);
  }
  lru_.erase(entry);
  ++evictions_;
}

void FakePool::touch(EntryList::iterator entry) {
  if (entry->holds == 0) lru_.splice(lru_.begin(), lru_, entry);
}

void FakePool::evict_over_capacity(const Entry* keep) {
  while (by_name_.size() > capacity_ && !lru_.empty()) {
    const auto victim = std::prev(lru_.end());
    if (&*victim == keep) break;
    evict(victim);
  }
}

std::optional<net::IpAddress> FakePool::address_for(std::string_view name, net::Family family) {
  const auto found = by_name_.find(name);
  if (found != by_name_.end()) {
    const EntryList::iterator entry = found->second;
    touch(entry);
    uint32_t& slot = family == net::Family::kIpv4 ? entry->v4 : entry->v6;
    if (slot == 0) {
      // Cannot evict `entry` itself: it has no address of this family.
      const auto offset = allocate(family);
      if (!offset) return std::nullopt;
      slot = *offset;
      by_address_.emplace(address_key(family, slot), entry);
    }
    return address_at(family, slot);
  }

  const auto offset = allocate(family);
  if (!offset) return std::nullopt;
  lru_.emplace_front();
  const EntryList::iterator entry = lru_.begin();
  entry->name.assign(name);
  (family == net::Family::kIpv4 ? entry->v4 : entry->v6) = *offset;
  by_name_.emplace(std::string_view(entry->name), entry);
  by_address_.emplace(address_key(family, *offset), entry);
  evict_over_capacity(&*entry);
  return address_at(family, *offset);
}

std::optional<std::string> FakePool::name_for(const net::IpAddress& address) {
  const auto entry = find_address(address);
  if (!entry) return std::nullopt;
  touch(*entry);
  return (*entry)->name;
}

bool FakePool::contains(const net::IpAddress& address) const {
  return (address.family == net::Family::kIpv4 ? ipv4_ : ipv6_).contains(address);
}

void FakePool::hold(const net::IpAddress& address) {
  const auto entry = find_address(address);
  if (!entry) return;
  if ((*entry)->holds++ == 0) held_.splice(held_.end(), lru_, *entry);
}

void FakePool::release(const net::IpAddress& address) {
  const auto entry = find_address(address);
  if (!entry || (*entry)->holds == 0) return;
  if (--(*entry)->holds == 0) {
    lru_.splice(lru_.begin(), held_, *entry);
    // Mappings kept beyond capacity while everything was held go now, oldest first.
    evict_over_capacity(nullptr);
  }
}

size_t FakePool::size() const {
  return by_name_.size();
}

}  // namespace t2s::dns
