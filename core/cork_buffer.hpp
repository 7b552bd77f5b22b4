// CorkBuffer: small pieces of one connection's output, collected so that they leave together in one write (or,
// before encryption, in one TLS record) instead of one each. Layer: core. The owner decides what may be corked and
// when it must leave; this only holds the bytes, up to kCapacity, in the order they were taken. The buffer is
// allocated at the first take(), so an owner that never corks (a server without TLS, for its plaintext cork)
// costs nothing. Used by one thread at a time.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>

namespace surge {

class CorkBuffer {
public:
    // One TLS record's worth of plaintext, and many small frames.
    static constexpr std::size_t kCapacity = 16 * 1024;

    // Appends the pieces (`total` bytes in all) when they fit; false, with nothing taken, when they do not (or the
    // buffer could not be allocated).
    bool take(const iovec* iov, int count, std::size_t total) noexcept {
        if (total > kCapacity - used_) return false;
        if (!bytes_) {
            bytes_.reset(new (std::nothrow) char[kCapacity]);
            if (!bytes_) return false;
        }
        for (int i = 0; i < count; ++i) {
            if (iov[i].iov_len == 0) continue;  // an empty payload's base may be null, which memcpy may not take
            std::memcpy(bytes_.get() + used_, iov[i].iov_base, iov[i].iov_len);
            used_ += iov[i].iov_len;
        }
        return true;
    }
    bool empty() const noexcept { return used_ == 0; }
    // What it holds, as one piece, and the buffer emptied: the bytes stay valid until the next take(), so the
    // caller writes them (and may cork more meanwhile only after it has).
    iovec drain() noexcept {
        const iovec held{bytes_.get(), used_};
        used_ = 0;
        return held;
    }
    // Forgets what it holds (the connection is gone).
    void clear() noexcept { used_ = 0; }

private:
    std::unique_ptr<char[]> bytes_;
    std::size_t used_ = 0;
};

}  // namespace surge
