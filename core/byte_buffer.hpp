// ByteBuffer: a growable byte buffer for scratch output that is reused from message to message, such as what a
// compressor or a TLS session produces. Layer: core.
// Unlike std::string or std::vector<char>, growing it does not zero the new bytes, and a caller writes into the
// spare room (spare()) and then commits what it wrote. Growth failure is reported, never thrown. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>

namespace surge {

class ByteBuffer {
public:
    ByteBuffer() = default;
    ByteBuffer(const ByteBuffer&) = delete;
    ByteBuffer& operator=(const ByteBuffer&) = delete;
    ~ByteBuffer() { std::free(data_); }

    char* data() noexcept { return data_; }
    const char* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return capacity_; }
    bool empty() const noexcept { return size_ == 0; }
    std::string_view view() const noexcept { return {data_, size_}; }

    void clear() noexcept { size_ = 0; }
    // Makes room for at least `n` more bytes; false when out of memory (the contents are kept).
    bool reserve_more(std::size_t n) noexcept {
        if (capacity_ - size_ >= n) return true;
        std::size_t capacity = capacity_ < 256 ? 256 : capacity_;
        while (capacity - size_ < n) capacity *= 2;
        char* grown = static_cast<char*>(std::realloc(data_, capacity));
        if (!grown) return false;
        data_ = grown;
        capacity_ = capacity;
        return true;
    }
    // Makes room for exactly `n` more bytes if there is less: for a caller that bounds its own growth.
    bool reserve_exact(std::size_t n) noexcept {
        if (capacity_ - size_ >= n) return true;
        char* grown = static_cast<char*>(std::realloc(data_, size_ + n));
        if (!grown) return false;
        data_ = grown;
        capacity_ = size_ + n;
        return true;
    }
    // The room past the contents, to write into before commit().
    std::span<char> spare() noexcept { return {data_ + size_, capacity_ - size_}; }
    void commit(std::size_t n) noexcept { size_ += n; }
    // Drops the last `n` bytes (at most size()).
    void drop_back(std::size_t n) noexcept { size_ -= n; }
    bool append(std::string_view bytes) noexcept {
        if (!reserve_more(bytes.size())) return false;
        if (!bytes.empty()) std::memcpy(data_ + size_, bytes.data(), bytes.size());
        size_ += bytes.size();
        return true;
    }
    // Gives the memory back when it has grown past `keep` bytes, so that one large message does not pin it.
    void trim(std::size_t keep) noexcept {
        if (capacity_ <= keep) return;
        std::free(data_);
        data_ = nullptr;
        size_ = capacity_ = 0;
    }

private:
    char* data_ = nullptr;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
};

}  // namespace surge
