// What the server's shards share to decide whether a connection just accepted may stay: the process-wide
// connection count (ServerConfig::max_connections) and the count per source address
// (ServerConfig::max_connections_per_address). Layer: ws (private to the server). Any shard thread calls them.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "surge/net/address.hpp"

namespace surge::detail {

// Connections in the process, across its shards: one atomic add at accept and one at close. Keeps the descriptors
// a process needs beyond its connections (a second server, the workers' sockets, logs) from being taken by
// clients, and answers past it instead of failing accept() with EMFILE.
class ConnectionLimit {
public:
    explicit ConnectionLimit(std::size_t most) noexcept : most_(most) {}

    // Counts one more connection; false (nothing counted) when the process holds its limit already.
    bool try_add() noexcept {
        if (count_.fetch_add(1, std::memory_order_relaxed) < most_) return true;
        count_.fetch_sub(1, std::memory_order_relaxed);
        return false;
    }
    void remove() noexcept { count_.fetch_sub(1, std::memory_order_relaxed); }
    std::size_t most() const noexcept { return most_; }

private:
    const std::size_t most_;
    std::atomic<std::size_t> count_{0};
};

// Connections per source address: a client that opens connection after connection from one address is refused
// past the limit, so it cannot take every slot (or descriptor) from everyone else. Under one mutex, and only when
// the limit is on: one lock at accept and one at close.

class AddressLimit {
public:
    explicit AddressLimit(std::uint32_t per_address) noexcept : per_address_(per_address) {}

    // Counts one more connection from `address`; false (nothing counted) when it has its limit already.
    bool try_add(const net::IpAddress& address) {
        std::lock_guard lock(mutex_);
        std::uint32_t& count = counts_[address];
        if (count >= per_address_) return false;
        ++count;
        return true;
    }
    void remove(const net::IpAddress& address) noexcept {
        std::lock_guard lock(mutex_);
        const auto found = counts_.find(address);
        if (found == counts_.end()) return;
        if (--found->second == 0) counts_.erase(found);
    }
    // Connections counted from `address` now.
    std::uint32_t count(const net::IpAddress& address) const {
        std::lock_guard lock(mutex_);
        const auto found = counts_.find(address);
        return found == counts_.end() ? 0 : found->second;
    }

private:
    const std::uint32_t per_address_;
    mutable std::mutex mutex_;
    std::unordered_map<net::IpAddress, std::uint32_t, net::IpAddressHash> counts_;
};

struct Admission {
    explicit Admission(std::size_t most_connections) noexcept : connections(most_connections) {}

    ConnectionLimit connections;
    std::unique_ptr<AddressLimit> per_address;  // with max_connections_per_address
    // ServerConfig::trusted_proxies, parsed: peers whose Forwarded / X-Forwarded-For name the client.
    std::vector<net::AddressRange> trusted_proxies;
};

}  // namespace surge::detail
