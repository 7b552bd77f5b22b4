#include "surge/core/send_queue.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace surge {

bool SendQueue::push_copy(const iovec* iov, int count, std::size_t skip) noexcept {
    std::size_t total = 0;
    for (int i = 0; i < count; ++i) total += iov[i].iov_len;
    if (skip >= total) return true;
    const std::size_t size = total - skip;
    auto* chunk = static_cast<Chunk*>(std::malloc(sizeof(Chunk) + size));
    if (!chunk) return false;
    char* copy = reinterpret_cast<char*>(chunk + 1);
    *chunk = {nullptr, copy, nullptr, static_cast<std::uint32_t>(size), 0};
    std::size_t at = 0;
    for (int i = 0; i < count; ++i) {
        const auto* base = static_cast<const char*>(iov[i].iov_base);
        const std::size_t length = iov[i].iov_len;
        if (skip >= length) {
            skip -= length;
            continue;
        }
        std::memcpy(copy + at, base + skip, length - skip);  // skip < length: never empty
        at += length - skip;
        skip = 0;
    }
    append(chunk);
    return true;
}

bool SendQueue::push_shared(SharedBytes* shared, const char* bytes, std::uint32_t size) noexcept {
    auto* chunk = static_cast<Chunk*>(std::malloc(sizeof(Chunk)));
    if (!chunk) return false;
    *chunk = {nullptr, bytes, shared, size, 0};
    append(chunk);
    return true;
}

void SendQueue::append(Chunk* chunk) noexcept {
    if (tail_) {
        chunk->next = tail_->next;
        tail_->next = chunk;
    } else {
        chunk->next = chunk;
    }
    tail_ = chunk;
    bytes_ += chunk->size;
}

int SendQueue::gather(iovec* iov, int max) const noexcept {
    if (!tail_) return 0;
    int count = 0;
    const Chunk* c = tail_->next;
    for (;;) {
        iov[count++] = {const_cast<char*>(c->bytes + c->sent), c->size - c->sent};
        if (c == tail_ || count == max) return count;
        c = c->next;
    }
}

void SendQueue::consume(std::size_t n) noexcept {
    while (n > 0 && tail_) {
        Chunk* head = tail_->next;
        const std::size_t take = std::min<std::size_t>(n, head->size - head->sent);
        head->sent += static_cast<std::uint32_t>(take);
        bytes_ -= static_cast<std::uint32_t>(take);
        n -= take;
        if (head->sent < head->size) return;
        if (head == tail_) tail_ = nullptr;
        else tail_->next = head->next;
        free_chunk(head);
    }
}

void SendQueue::clear() noexcept {
    while (tail_) {
        Chunk* head = tail_->next;
        if (head == tail_) tail_ = nullptr;
        else tail_->next = head->next;
        free_chunk(head);
    }
    bytes_ = 0;
}

void SendQueue::free_chunk(Chunk* chunk) noexcept {
    if (chunk->shared) chunk->shared->release();
    std::free(chunk);
}

}  // namespace surge
