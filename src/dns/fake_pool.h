// The fake-IP pool: hands out addresses from reserved IPv4 and IPv6 ranges for DNS names and
// remembers name <-> address both ways, so a connection to a pool address can be sent to the
// proxy by name. Bounded: beyond `capacity` names the least recently used mapping that no
// flow holds is evicted and its addresses reused. Pure data structure, no I/O or clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "net/address.h"

namespace t2s::dns {

class FakePool {
 public:
  // `ipv4` and `ipv6` are the ranges (network address and prefix; host bits are ignored).
  // Addresses whose host part is all zeros or all ones are never handed out (IPv4).
  // `capacity` caps the number of names remembered (and so memory).
  FakePool(const net::Cidr& ipv4, const net::Cidr& ipv6, size_t capacity);

  // The pool address for `name` in the given family, allocating (and perhaps evicting) if
  // needed; nullopt only when every address of that family is held by a live flow.
  // `name` is stored as given (callers pass lower-case names without a trailing dot).
  std::optional<net::IpAddress> address_for(std::string_view name, net::Family family);
  // The name behind a pool address, if it is mapped; marks the mapping recently used.
  std::optional<std::string> name_for(const net::IpAddress& address);
  bool contains(const net::IpAddress& address) const;  // inside either range (mapped or not)

  // A flow starts/stops using the mapping of `address`: held mappings are never evicted.
  void hold(const net::IpAddress& address);
  void release(const net::IpAddress& address);

  size_t size() const;  // names currently mapped
  size_t capacity() const { return capacity_; }
  uint64_t evictions() const { return evictions_; }

 private:
  // Implementation is free; keep memory per name small (the name, two addresses, links).
  // Addresses are kept as their host offset within the family's range: 0 means "none", as
  // host 0 is never handed out.
  struct Entry {
    std::string name;
    uint32_t v4 = 0;
    uint32_t v6 = 0;
    uint32_t holds = 0;
  };
  using EntryList = std::list<Entry>;
  // One family's range: host offsets 1..last are handed out, fresh ones in order from
  // `next`, then freed ones (oldest freed first).
  struct Range {
    net::IpAddress network;  // host bits zeroed
    uint64_t next = 1;
    uint64_t last = 0;       // no usable address when last < 1
    uint32_t host_mask = 0;  // mask of the host bits within the last 32 bits
    std::deque<uint32_t> free;
  };

  Range& range_for(net::Family family) { return family == net::Family::kIpv4 ? v4_ : v6_; }
  net::IpAddress address_at(net::Family family, uint32_t offset) const;
  std::optional<uint32_t> offset_of(const net::IpAddress& address) const;
  static uint64_t address_key(net::Family family, uint32_t offset);
  std::optional<EntryList::iterator> find_address(const net::IpAddress& address);
  std::optional<uint32_t> allocate(net::Family family);
  void evict(EntryList::iterator entry);
  void touch(EntryList::iterator entry);
  void evict_over_capacity(const Entry* keep);

  net::Cidr ipv4_;
  net::Cidr ipv6_;
  size_t capacity_;
  uint64_t evictions_ = 0;
  Range v4_;
  Range v6_;
  EntryList lru_;   // mappings no flow holds, most recently used first
  EntryList held_;  // mappings held by at least one flow (never evicted), in no order
  std::unordered_map<std::string_view, EntryList::iterator> by_name_;  // keys view Entry::name
  std::unordered_map<uint64_t, EntryList::iterator> by_address_;       // see address_key()
};

}  // namespace t2s::dns
