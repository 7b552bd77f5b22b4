#include "surge/ws/detail/slab.hpp"

namespace surge::detail {

WebSocket& ConnectionSlab::allocate() {
    // A freed slot first (its memory is warm), then the next never-used one; only freed slots are listed, so the
    // list costs nothing until connections come and go.
    std::uint32_t index;
    if (!free_slots_.empty()) {
        index = free_slots_.back();
        free_slots_.pop_back();
    } else {
        if (fresh_slot_ == slot_count_) {
            auto* block = static_cast<unsigned char*>(::operator new(kSlotsPerBlock * stride_, std::align_val_t{16}));
            blocks_.emplace_back(block);
            for (std::uint32_t i = 0; i < kSlotsPerBlock; ++i) {
                WebSocket* ws = ::new (block + i * stride_) WebSocket();
                ws->index_ = slot_count_ + i;
            }
            slot_count_ += kSlotsPerBlock;
        }
        index = fresh_slot_++;
    }
    ++live_;
    return slot(index);
}

void ConnectionSlab::release(WebSocket& ws) noexcept {
    ws.generation_ = (ws.generation_ + 1) & kGenerationMask;
    ws.state_ = WebSocket::State::Free;
    free_slots_.push_back(ws.index_);
    --live_;
}

}  // namespace surge::detail
