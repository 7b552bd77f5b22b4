// SharedBytes: an immutable, reference-counted byte buffer, header and bytes in one allocation. Layer: core.
// A broadcast frame is encoded once into one of these; every shard and every subscriber queue that holds it
// holds a reference, and the last release frees it. The writer fills the bytes before the buffer is shared
// (before the first retain() by another thread); from then on nobody writes them.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace surge {

class SharedBytes {
public:
    // A buffer of `size` bytes, not yet filled, holding `references` references; nullptr when out of memory.
    static SharedBytes* make(std::size_t size, std::uint32_t references) noexcept {
        void* memory = std::malloc(sizeof(SharedBytes) + size);
        if (!memory) return nullptr;
        return ::new (memory) SharedBytes(size, references);
    }

    char* data() noexcept { return reinterpret_cast<char*>(this + 1); }
    const char* data() const noexcept { return reinterpret_cast<const char*>(this + 1); }
    std::size_t size() const noexcept { return size_; }

    void retain(std::uint32_t count = 1) noexcept { references_.fetch_add(count, std::memory_order_relaxed); }
    // Drops one reference (or `count`); the last one frees the buffer.
    void release(std::uint32_t count = 1) noexcept {
        if (references_.fetch_sub(count, std::memory_order_acq_rel) == count) {
            this->~SharedBytes();
            std::free(this);
        }
    }
    std::uint32_t references() const noexcept { return references_.load(std::memory_order_relaxed); }

private:
    SharedBytes(std::size_t size, std::uint32_t references) noexcept : size_(size), references_(references) {}
    ~SharedBytes() = default;

    std::size_t size_;
    std::atomic<std::uint32_t> references_;
};

static_assert(sizeof(SharedBytes) == 16, "the bytes follow a 16-byte header");

}  // namespace surge
