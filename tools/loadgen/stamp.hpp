// Send timestamps carried in payloads, so that latency can be measured by whoever receives a message: the
// sender itself (echo, rate) or a subscriber in another process (publish/subscribe; CLOCK_MONOTONIC is the same
// clock in every process of a machine). Layer: tools. The stamp is the first 16 bytes of the payload, the time
// in nanoseconds as lowercase hex: text-safe, so it passes through servers that only relay text and JSON bodies.
// Payloads of 32 bytes or more also carry a sequence mark in the next 16: the publisher's id and the message's
// number in its stream (8 hex digits each), so a receiver can count what was lost on the way (sequence_check).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "surge/core/clock.hpp"

namespace surge::loadgen {

inline constexpr std::size_t kStampBytes = 16;

inline std::uint64_t now_ns() noexcept { return monotonic_ns(); }

inline constexpr std::size_t kMarkedBytes = 32;  // stamp and sequence mark

namespace detail {

inline void write_hex(char* out, std::size_t digits, std::uint64_t value) noexcept {
    constexpr char kHex[] = "0123456789abcdef";
    for (std::size_t i = digits; i-- > 0; value >>= 4) out[i] = kHex[value & 15];
}

inline bool read_hex(std::string_view text, std::uint64_t& value) noexcept {
    std::uint64_t v = 0;
    for (const char c : text) {
        const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (digit < 0) return false;
        v = (v << 4) | static_cast<std::uint64_t>(digit);
    }
    value = v;
    return true;
}

}  // namespace detail

inline void write_stamp(char* out, std::uint64_t ns) noexcept { detail::write_hex(out, kStampBytes, ns); }

// False when `head` does not start with a stamp (a message from someone else).
inline bool read_stamp(std::string_view head, std::uint64_t& ns) noexcept {
    return head.size() >= kStampBytes && detail::read_hex(head.substr(0, kStampBytes), ns);
}

// The sequence mark, written at `payload + kStampBytes` (the payload must have kMarkedBytes).
inline void write_sequence(char* payload, std::uint32_t publisher, std::uint32_t sequence) noexcept {
    detail::write_hex(payload + kStampBytes, 8, publisher);
    detail::write_hex(payload + kStampBytes + 8, 8, sequence);
}

// False when `head` carries no sequence mark (shorter than kMarkedBytes, or not hex there).
inline bool read_sequence(std::string_view head, std::uint32_t& publisher, std::uint32_t& sequence) noexcept {
    std::uint64_t p = 0, s = 0;
    if (head.size() < kMarkedBytes || !detail::read_hex(head.substr(kStampBytes, 8), p) ||
        !detail::read_hex(head.substr(kStampBytes + 8, 8), s)) {
        return false;
    }
    publisher = static_cast<std::uint32_t>(p);
    sequence = static_cast<std::uint32_t>(s);
    return true;
}

}  // namespace surge::loadgen
