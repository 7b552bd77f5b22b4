// WebSocket frame headers (RFC 6455 section 5.2): parse one from bytes, or write one into caller-provided space.
// Layer: ws. Pure functions over bytes, no state, no allocation; the frame decoder and encoder build on them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "surge/ws/mask.hpp"
#include "surge/ws/opcode.hpp"

namespace surge {

inline constexpr std::size_t kMaxFrameHeaderBytes = 14;  // 2 + 8 (64-bit length) + 4 (mask)
inline constexpr std::size_t kMaxControlPayload = 125;

struct FrameHeader {
    std::uint64_t payload_length = 0;
    MaskKey mask{};
    std::uint8_t opcode = 0;  // raw 4 bits: may be a reserved opcode, the caller decides
    std::uint8_t header_length = 0;
    bool fin = false;
    bool rsv1 = false;
    bool rsv2 = false;
    bool rsv3 = false;
    bool masked = false;
};

enum class HeaderStatus : std::uint8_t {
    Complete,       // `out` is filled; out.header_length bytes were read
    Incomplete,     // fewer bytes than the header needs: call again with more
    LengthTopBit,   // a 64-bit length with its most significant bit set: a protocol error (1002)
};

HeaderStatus parse_frame_header(const char* data, std::size_t size, FrameHeader& out) noexcept;

// Writes a header for `payload_length` bytes into `out` (at least kMaxFrameHeaderBytes long) and returns its
// length. Lengths use the shortest of the 7/16/64-bit forms, as the RFC requires. With `mask`, the MASK bit is set
// and the key written; masking the payload is the caller's (apply_mask_copy).
std::size_t encode_frame_header(char* out, Opcode opcode, std::uint64_t payload_length, bool fin = true,
                                bool rsv1 = false, const MaskKey* mask = nullptr) noexcept;

// Length of the header encode_frame_header() writes for these arguments.
constexpr std::size_t frame_header_length(std::uint64_t payload_length, bool masked) noexcept {
    return 2 + (payload_length < 126 ? 0 : payload_length <= 0xFFFF ? 2 : 8) + (masked ? 4 : 0);
}

}  // namespace surge
