// A per-thread pool of fixed-size buffer chunks. Layer: core.
// Each shard owns one pool; a connection borrows a chunk only while it holds a partial request, a partial frame
// or bytes the socket refused, and gives it back when that completes, so idle connections hold no buffer.
// No locks: a pool belongs to the thread that created it (debug builds assert it). Chunks are 64-byte aligned.
// Up to `max_cached` returned chunks are kept for reuse; beyond that they go back to the allocator, so a burst
// does not pin memory forever.
#pragma once

#include <cstddef>
#include <cstdint>
#include <thread>
#include <utility>

namespace surge {

class BufferPool {
public:
    BufferPool(std::size_t chunk_size, std::size_t max_cached) noexcept;
    ~BufferPool();
    BufferPool(const BufferPool&) = delete;
    BufferPool& operator=(const BufferPool&) = delete;

    // A chunk of chunk_size() bytes, or nullptr if the allocator failed. Never throws.
    [[nodiscard]] std::byte* acquire() noexcept;
    // Gives back a chunk that came from acquire() on this pool. nullptr is ignored.
    void release(std::byte* chunk) noexcept;

    // Makes the calling thread the owner: for a pool built on one thread and handed to another (a shard is
    // constructed by the server's thread and runs on its own).
    void bind_to_current_thread() noexcept {
#ifndef NDEBUG
        owner_ = std::this_thread::get_id();
#endif
    }

    std::size_t chunk_size() const noexcept { return chunk_size_; }
    std::size_t in_use() const noexcept { return in_use_; }
    std::size_t cached() const noexcept { return cached_; }

private:
    struct FreeChunk {
        FreeChunk* next;
    };
    void assert_owner() const noexcept;

    std::size_t chunk_size_;
    std::size_t max_cached_;
    FreeChunk* free_ = nullptr;
    std::size_t cached_ = 0;
    std::size_t in_use_ = 0;
#ifndef NDEBUG
    std::thread::id owner_ = std::this_thread::get_id();
#endif
};

// Owning handle to one chunk: returns it to its pool when destroyed. For code where two pointers of state do
// not matter; per-connection state stores the raw chunk pointer and releases it to the shard's pool itself.
class PooledBuffer {
public:
    PooledBuffer() = default;
    explicit PooledBuffer(BufferPool& pool) noexcept : pool_(&pool), data_(pool.acquire()) {}
    PooledBuffer(PooledBuffer&& other) noexcept
        : pool_(std::exchange(other.pool_, nullptr)), data_(std::exchange(other.data_, nullptr)) {}
    PooledBuffer& operator=(PooledBuffer&& other) noexcept {
        if (this != &other) {
            reset();
            pool_ = std::exchange(other.pool_, nullptr);
            data_ = std::exchange(other.data_, nullptr);
        }
        return *this;
    }
    ~PooledBuffer() { reset(); }

    void reset() noexcept {
        if (pool_ && data_) pool_->release(data_);
        data_ = nullptr;
    }
    std::byte* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return pool_ ? pool_->chunk_size() : 0; }
    explicit operator bool() const noexcept { return data_ != nullptr; }

private:
    BufferPool* pool_ = nullptr;
    std::byte* data_ = nullptr;
};

}  // namespace surge
