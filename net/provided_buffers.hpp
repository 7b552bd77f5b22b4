// A shard's receive buffers, lent to the kernel through an io_uring provided-buffer ring. Layer: net.
// Every connection of the shard receives into these buffers (a multishot recv picks one per completion), so no
// connection owns a receive buffer. The memory is reserved for `max_count` buffers up front but only the
// buffers published so far are ever touched: the ring starts small and doubles when the kernel runs out
// (ENOBUFS), so a quiet shard stays at the first few pages while a busy one grows to what it needs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

struct io_uring;
struct io_uring_buf_ring;

namespace surge::net {

class ProvidedBuffers {
public:
    ProvidedBuffers() = default;
    ProvidedBuffers(const ProvidedBuffers&) = delete;
    ProvidedBuffers& operator=(const ProvidedBuffers&) = delete;
    // Unmaps the memory. The ring it was registered with must be gone or quiesced first (its teardown drops the
    // registration and cancels the receives that could still write here).
    ~ProvidedBuffers();

    // Registers buffer group `group` on `ring`: room for max_count buffers (a power of two) of buffer_bytes each,
    // initial_count of them published. 0 or -errno (a kernel before 5.19 has no buffer rings: -EINVAL).
    int init(io_uring& ring, std::uint16_t group, std::uint32_t buffer_bytes, std::uint32_t initial_count,
             std::uint32_t max_count) noexcept;

    std::uint16_t group() const noexcept { return group_; }
    std::uint32_t published() const noexcept { return published_; }

    // The first `length` bytes of buffer `id`, which a completion handed back.
    std::span<char> bytes(std::uint16_t id, std::uint32_t length) const noexcept {
        return {memory_ + static_cast<std::size_t>(id) * buffer_bytes_, length};
    }
    // Gives buffer `id` back to the kernel once its bytes have been handled.
    void recycle(std::uint16_t id) noexcept;
    // Publishes more buffers (doubling, up to max_count). False when already at the maximum.
    bool grow() noexcept;

private:
    void publish(std::uint16_t id) noexcept;

    char* memory_ = nullptr;
    std::size_t memory_bytes_ = 0;
    io_uring_buf_ring* ring_ = nullptr;
    std::size_t ring_bytes_ = 0;
    std::uint32_t buffer_bytes_ = 0;
    std::uint32_t published_ = 0;
    std::uint32_t max_count_ = 0;
    std::uint16_t group_ = 0;
};

}  // namespace surge::net
