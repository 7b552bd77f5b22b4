// Connections per source address, across the server's shards: a client that opens connection after connection
// from one address is refused past ServerConfig::max_connections_per_address, so it cannot take every slot (or
// descriptor) from everyone else. Layer: ws (private to the server). Any shard thread calls it, under one mutex,
// and only when the limit is on: one lock at accept and one at close.
#pragma once

#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "net/socket_io.hpp"

namespace surge::detail {

class AddressLimit {
public:
    explicit AddressLimit(std::uint32_t per_address) noexcept : per_address_(per_address) {}

    // Counts one more connection from `address`; false (nothing counted) when it has its limit already.
    bool try_add(const net::PeerAddress& address) {
        std::lock_guard lock(mutex_);
        std::uint32_t& count = counts_[address];
        if (count >= per_address_) return false;
        ++count;
        return true;
    }
    void remove(const net::PeerAddress& address) noexcept {
        std::lock_guard lock(mutex_);
        const auto found = counts_.find(address);
        if (found == counts_.end()) return;
        if (--found->second == 0) counts_.erase(found);
    }
    // Connections counted from `address` now.
    std::uint32_t count(const net::PeerAddress& address) const {
        std::lock_guard lock(mutex_);
        const auto found = counts_.find(address);
        return found == counts_.end() ? 0 : found->second;
    }

private:
    const std::uint32_t per_address_;
    mutable std::mutex mutex_;
    std::unordered_map<net::PeerAddress, std::uint32_t, net::PeerAddressHash> counts_;
};

}  // namespace surge::detail
