// Writing HTTP heads into caller-provided space: appends, and remembers running out instead of making every call
// site check. Layer: ws (internal to the handshake writers of both roles).
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <span>
#include <string_view>

namespace surge {

class SpanWriter {
public:
    explicit SpanWriter(std::span<char> out) noexcept : out_(out) {}
    SpanWriter& operator<<(std::string_view s) noexcept {
        if (s.size() > out_.size() - used_) {
            overflow_ = true;
        } else if (!s.empty()) {
            std::memcpy(out_.data() + used_, s.data(), s.size());
            used_ += s.size();
        }
        return *this;
    }
    SpanWriter& operator<<(std::size_t n) noexcept {
        char digits[24];
        const int length = std::snprintf(digits, sizeof digits, "%zu", n);
        return *this << std::string_view(digits, static_cast<std::size_t>(length));
    }
    // The length written, or 0 when anything did not fit.
    std::size_t finish() const noexcept { return overflow_ ? 0 : used_; }

private:
    std::span<char> out_;
    std::size_t used_ = 0;
    bool overflow_ = false;
};

}  // namespace surge
