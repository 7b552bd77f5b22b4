#include "surge/net/provided_buffers.hpp"

#include <sys/mman.h>

#include <cerrno>

#include "surge/net/uring_compat.hpp"

namespace surge::net {

ProvidedBuffers::~ProvidedBuffers() {
    if (ring_) ::munmap(ring_, ring_bytes_);
    if (memory_) ::munmap(memory_, memory_bytes_);
}

int ProvidedBuffers::init(io_uring& ring, std::uint16_t group, std::uint32_t buffer_bytes,
                          std::uint32_t initial_count, std::uint32_t max_count) noexcept {
    if (max_count == 0 || (max_count & (max_count - 1)) != 0 || max_count > 32768 || initial_count > max_count) {
        return -EINVAL;
    }
    // Anonymous mappings: pages are only backed once the kernel writes a received byte into them, so the
    // reservation for max_count buffers costs nothing until the ring grows into it.
    memory_bytes_ = static_cast<std::size_t>(buffer_bytes) * max_count;
    void* memory = ::mmap(nullptr, memory_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                          -1, 0);
    if (memory == MAP_FAILED) {
        memory_ = nullptr;
        return -errno;
    }
    memory_ = static_cast<char*>(memory);
    ring_bytes_ = sizeof(io_uring_buf) * max_count;  // page-aligned by mmap, as the kernel requires
    void* entries = ::mmap(nullptr, ring_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (entries == MAP_FAILED) {
        ring_ = nullptr;
        return -errno;
    }
    ring_ = static_cast<io_uring_buf_ring*>(entries);
    io_uring_buf_ring_init(ring_);

    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uint64_t>(ring_);
    reg.ring_entries = max_count;
    reg.bgid = group;
    const int registered = io_uring_register_buf_ring(&ring, &reg, 0);
    if (registered != 0) return registered;
    group_ = group;
    buffer_bytes_ = buffer_bytes;
    max_count_ = max_count;
    for (std::uint32_t id = 0; id < initial_count; ++id) publish(static_cast<std::uint16_t>(id));
    published_ = initial_count;
    return 0;
}

void ProvidedBuffers::publish(std::uint16_t id) noexcept {
    io_uring_buf_ring_add(ring_, memory_ + static_cast<std::size_t>(id) * buffer_bytes_, buffer_bytes_, id,
                          io_uring_buf_ring_mask(max_count_), 0);
    io_uring_buf_ring_advance(ring_, 1);
}

void ProvidedBuffers::recycle(std::uint16_t id) noexcept { publish(id); }

bool ProvidedBuffers::grow() noexcept {
    if (published_ >= max_count_) return false;
    const std::uint32_t target = published_ * 2 > max_count_ ? max_count_ : (published_ ? published_ * 2 : 1);
    for (std::uint32_t id = published_; id < target; ++id) publish(static_cast<std::uint16_t>(id));
    published_ = target;
    return true;
}

}  // namespace surge::net
