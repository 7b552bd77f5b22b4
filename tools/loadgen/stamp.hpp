// Send timestamps carried in payloads, so that latency can be measured by whoever receives a message: the
// sender itself (echo, rate) or a subscriber in another process (publish/subscribe; CLOCK_MONOTONIC is the same
// clock in every process of a machine). Layer: tools. The stamp is the first 16 bytes of the payload, the time
// in nanoseconds as lowercase hex: text-safe, so it passes through servers that only relay text and JSON bodies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/clock.hpp"

namespace surge::loadgen {

inline constexpr std::size_t kStampBytes = 16;

inline std::uint64_t now_ns() noexcept { return monotonic_ns(); }

inline void write_stamp(char* out, std::uint64_t ns) noexcept {
    constexpr char kHex[] = "0123456789abcdef";
    for (int i = 15; i >= 0; --i, ns >>= 4) out[i] = kHex[ns & 15];
}

// False when `head` does not start with a stamp (a message from someone else).
inline bool read_stamp(std::string_view head, std::uint64_t& ns) noexcept {
    if (head.size() < kStampBytes) return false;
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < kStampBytes; ++i) {
        const char c = head[i];
        const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (digit < 0) return false;
        value = (value << 4) | static_cast<std::uint64_t>(digit);
    }
    ns = value;
    return true;
}

}  // namespace surge::loadgen
