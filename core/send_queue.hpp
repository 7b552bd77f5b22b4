// SendQueue: the bytes a connection's socket has not taken yet, oldest first, with no protocol in it. Layer: core.
// A chunk is either a copy of what the socket refused (the bytes right behind the chunk's header, one allocation)
// or a reference to a shared broadcast frame (SharedBytes) that every subscriber's queue points into. gather()
// lists what is pending as iovecs for one vectored write; consume() takes what a write took off the front,
// freeing each chunk (and dropping its reference) once sent. bytes() is the backpressure figure the owner checks
// against its limit. An empty queue holds nothing but a null pointer, and the whole queue is 16 bytes: it sits in
// every connection's slot, whose memory is freed without running destructors: so the queue has none, and its
// owner calls clear() before letting it go. Used by one thread at a time.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <utility>

#include "surge/core/shared_bytes.hpp"

namespace surge {

class SendQueue {
public:
    SendQueue() = default;
    SendQueue(const SendQueue&) = delete;
    SendQueue& operator=(const SendQueue&) = delete;

    bool empty() const noexcept { return tail_ == nullptr; }
    // Bytes queued and not yet taken by the socket.
    std::uint32_t bytes() const noexcept { return bytes_; }

    // Copies what `iov` holds past its first `skip` bytes into one new chunk. False when out of memory (nothing
    // is queued then). Copying nothing (skip == total) queues nothing and succeeds.
    bool push_copy(const iovec* iov, int count, std::size_t skip) noexcept;
    // Queues `size` bytes at `bytes`, which lie inside `shared`. The queue takes over one reference to `shared`
    // that the caller has taken (or takes right after, before anything can send: the fan-out adds all of a
    // frame's references in one atomic add). False when out of memory: the reference stays the caller's.
    bool push_shared(SharedBytes* shared, const char* bytes, std::uint32_t size) noexcept;

    // What is pending, oldest first, as at most `max` iovecs; returns how many it filled.
    int gather(iovec* iov, int max) const noexcept;
    // `n` bytes from the front were written: drops them, freeing every chunk that is now fully sent.
    void consume(std::size_t n) noexcept;
    // Drops everything queued (the connection is gone).
    void clear() noexcept;
    // Trades contents with `other` (chunks stay where they are: a write in flight may still read them).
    void swap(SendQueue& other) noexcept {
        std::swap(tail_, other.tail_);
        std::swap(bytes_, other.bytes_);
    }

private:
    struct Chunk {
        Chunk* next;  // toward the newest; the newest points back at the oldest (the list is a ring)
        const char* bytes;    // this + 1 for a copy, or into `shared`
        SharedBytes* shared;  // the broadcast frame this chunk holds a reference to, or nullptr
        std::uint32_t size;
        std::uint32_t sent;
    };
    void append(Chunk* chunk) noexcept;
    static void free_chunk(Chunk* chunk) noexcept;

    // The newest chunk; tail_->next is the oldest. One pointer rather than two keeps the queue at 16 bytes.
    Chunk* tail_ = nullptr;
    std::uint32_t bytes_ = 0;
};

}  // namespace surge
