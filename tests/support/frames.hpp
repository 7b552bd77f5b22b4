// Test support: builds frames as a peer would send them (masked for the server role), including malformed
// ones, from the encoder's pieces.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "surge/ws/frame_header.hpp"

namespace surge::test {

inline constexpr MaskKey kTestMask = {0x37, 0xFA, 0x21, 0x3D};

// A frame with an explicit first byte (FIN, RSV and opcode bits as given), masked with `mask` when `masked`.
inline std::string raw_frame(std::uint8_t first_byte, std::string_view payload, bool masked = true,
                             MaskKey mask = kTestMask) {
    char header[kMaxFrameHeaderBytes];
    std::size_t length = encode_frame_header(header, Opcode::Binary, payload.size(), true, false,
                                             masked ? &mask : nullptr);
    header[0] = static_cast<char>(first_byte);
    std::string out(header, length);
    std::string body(payload);
    if (masked) apply_mask(body.data(), body.size(), mask);
    return out + body;
}

inline std::string frame(Opcode opcode, std::string_view payload, bool fin = true, bool masked = true,
                         bool rsv1 = false) {
    const auto first = static_cast<std::uint8_t>((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) |
                                                 static_cast<std::uint8_t>(opcode));
    return raw_frame(first, payload, masked);
}

inline std::string close_frame(std::uint16_t code, std::string_view reason = {}, bool masked = true) {
    std::string payload;
    payload += static_cast<char>(code >> 8);
    payload += static_cast<char>(code & 0xFF);
    payload += reason;
    return frame(Opcode::Close, payload, true, masked);
}

}  // namespace surge::test
