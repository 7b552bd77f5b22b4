#include "core/buffer_pool.hpp"

#include <cassert>
#include <new>

namespace surge {
namespace {
constexpr std::align_val_t kChunkAlignment{64};
}

BufferPool::BufferPool(std::size_t chunk_size, std::size_t max_cached) noexcept
    : chunk_size_(chunk_size < sizeof(FreeChunk) ? sizeof(FreeChunk) : chunk_size), max_cached_(max_cached) {}

BufferPool::~BufferPool() {
    assert(in_use_ == 0 && "a chunk outlived its pool");
    while (free_) {
        FreeChunk* next = free_->next;
        ::operator delete(static_cast<void*>(free_), kChunkAlignment);
        free_ = next;
    }
}

void BufferPool::assert_owner() const noexcept {
#ifndef NDEBUG
    assert(owner_ == std::this_thread::get_id() && "a BufferPool is used only by the thread that made it");
#endif
}

std::byte* BufferPool::acquire() noexcept {
    assert_owner();
    std::byte* chunk;
    if (free_) {
        chunk = reinterpret_cast<std::byte*>(free_);
        free_ = free_->next;
        --cached_;
    } else {
        chunk = static_cast<std::byte*>(::operator new(chunk_size_, kChunkAlignment, std::nothrow));
        if (!chunk) return nullptr;
    }
    ++in_use_;
    return chunk;
}

void BufferPool::release(std::byte* chunk) noexcept {
    if (!chunk) return;
    assert_owner();
    assert(in_use_ > 0);
    --in_use_;
    if (cached_ >= max_cached_) {
        ::operator delete(static_cast<void*>(chunk), kChunkAlignment);
        return;
    }
    auto* node = ::new (static_cast<void*>(chunk)) FreeChunk{free_};
    free_ = node;
    ++cached_;
}

}  // namespace surge
