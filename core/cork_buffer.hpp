// CorkBuffer: small pieces of one connection's output, collected so that they leave together in one write (or,
// before encryption, in one TLS record) instead of one each. Layer: core. The owner decides what may be corked and
// when it must leave; this only holds the bytes, up to kCapacity, in the order they were taken, in a ByteBuffer
// allocated at the first take(), so an owner that never corks (a server without TLS, for its plaintext cork) costs
// nothing. Used by one thread at a time.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <string_view>

#include "surge/core/byte_buffer.hpp"

namespace surge {

class CorkBuffer {
public:
    // One TLS record's worth of plaintext, and many small frames.
    static constexpr std::size_t kCapacity = 16 * 1024;

    // Appends the pieces (`total` bytes in all) when they fit; false, with nothing taken, when they do not (or the
    // buffer could not be allocated).
    bool take(const iovec* iov, int count, std::size_t total) noexcept {
        if (total > kCapacity - bytes_.size() || !bytes_.reserve_exact(kCapacity - bytes_.size())) return false;
        for (int i = 0; i < count; ++i) bytes_.append({static_cast<const char*>(iov[i].iov_base), iov[i].iov_len});
        return true;
    }
    bool empty() const noexcept { return bytes_.empty(); }
    // What it holds, as one piece, and the buffer emptied: the bytes stay valid until the next take(), so the
    // caller writes them (and may cork more meanwhile only after it has).
    iovec drain() noexcept {
        const iovec held{bytes_.data(), bytes_.size()};
        bytes_.clear();
        return held;
    }
    // Forgets what it holds (the connection is gone).
    void clear() noexcept { bytes_.clear(); }

private:
    ByteBuffer bytes_;  // grown once to kCapacity, at the first take()
};

}  // namespace surge
