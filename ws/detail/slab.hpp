// The shard's connection slab: every connection's slot (its WebSocket, then the route's data) at a stable
// address, grown 256 slots at a time and never shrunk, with freed slots reused warm-first. Layer: ws (private to
// the server). Tokens name a slot and its generation, so a token kept past a slot's release (by a reactor, a
// deferred call or a waiting handshake) finds nothing instead of the slot's next connection. Shard thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <vector>

#include "surge/ws/websocket.hpp"

namespace surge::detail {

class ConnectionSlab {
public:
    // `stride`: bytes per slot, at least sizeof(WebSocket), a multiple of the strictest alignment it holds (<= 16).
    explicit ConnectionSlab(std::size_t stride) noexcept : stride_(stride) {}
    ConnectionSlab(const ConnectionSlab&) = delete;
    ConnectionSlab& operator=(const ConnectionSlab&) = delete;

    // A free slot (state Free, every field at its reset value, its index set), counted live. Throws
    // std::bad_alloc when the slab must grow and cannot.
    WebSocket& allocate();
    // Gives the slot back: its generation moves on (old tokens go stale) and it becomes Free. The caller has
    // reset the connection's own fields and freed what they held.
    void release(WebSocket& ws) noexcept;

    // The live slot `token` names, or nullptr when the token is stale or the slot is free. Inline: the reactor
    // asks it for every completion.
    WebSocket* lookup(std::uint64_t token) const noexcept {
        const auto index = static_cast<std::uint32_t>(token);
        if (index >= slot_count_) return nullptr;
        WebSocket* ws = &slot(index);
        if (ws->generation_ != (token >> 32) || ws->state_ == WebSocket::State::Free) return nullptr;
        return ws;
    }
    static std::uint64_t token_of(const WebSocket& ws) noexcept {
        return (std::uint64_t{ws.generation_} << 32) | ws.index_;
    }
    WebSocket& slot(std::uint32_t index) const noexcept {
        unsigned char* block = blocks_[index / kSlotsPerBlock].get();
        return *std::launder(reinterpret_cast<WebSocket*>(block + (index % kSlotsPerBlock) * stride_));
    }
    // Slots made so far (every index below this is a valid slot()), and slots in use.
    std::uint32_t size() const noexcept { return slot_count_; }
    std::size_t live() const noexcept { return live_; }

private:
    static constexpr std::uint32_t kSlotsPerBlock = 256;  // little slack past the last connection
    // Keeps tokens below 2^62 (the reactors keep their own tags in the top bits).
    static constexpr std::uint32_t kGenerationMask = 0x3FFFFFFF;

    // Blocks are allocated 16-byte aligned (route data may ask for that) and freed without running the slots'
    // destructors (WebSocket is trivially destructible).
    struct BlockDelete {
        void operator()(unsigned char* block) const noexcept { ::operator delete(block, std::align_val_t{16}); }
    };

    std::vector<std::unique_ptr<unsigned char[], BlockDelete>> blocks_;
    std::size_t stride_;
    std::vector<std::uint32_t> free_slots_;
    std::uint32_t slot_count_ = 0;  // slots in the slab
    std::uint32_t fresh_slot_ = 0;  // slots from here on have never been handed out
    std::size_t live_ = 0;
};

}  // namespace surge::detail
