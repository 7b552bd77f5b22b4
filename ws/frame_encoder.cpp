#include "surge/ws/frame_encoder.hpp"

#include <cstring>

namespace surge {

std::size_t encode_close_payload(char* out, std::uint16_t code, std::string_view reason) noexcept {
    out[0] = static_cast<char>(code >> 8);
    out[1] = static_cast<char>(code & 0xFF);
    std::size_t length = reason.size() < kMaxControlPayload - 2 ? reason.size() : kMaxControlPayload - 2;
    // Do not cut a multi-byte character in two: step back over continuation bytes (10xxxxxx).
    if (length < reason.size()) {
        while (length > 0 && (static_cast<unsigned char>(reason[length]) & 0xC0) == 0x80) --length;
    }
    if (length > 0) std::memcpy(out + 2, reason.data(), length);
    return 2 + length;
}

std::size_t encode_control_frame(char* out, Opcode opcode, std::string_view payload, const MaskKey* mask) noexcept {
    if (payload.size() > kMaxControlPayload) payload = payload.substr(0, kMaxControlPayload);
    const std::size_t header = encode_frame_header(out, opcode, payload.size(), true, false, mask);
    if (mask) {
        apply_mask_copy(out + header, payload.data(), payload.size(), *mask);
    } else if (!payload.empty()) {
        std::memcpy(out + header, payload.data(), payload.size());
    }
    return header + payload.size();
}

std::size_t encode_close_frame(char* out, std::uint16_t code, std::string_view reason, const MaskKey* mask) noexcept {
    char payload[kMaxControlPayload];
    const std::size_t length = encode_close_payload(payload, code, reason);
    return encode_control_frame(out, Opcode::Close, {payload, length}, mask);
}

}  // namespace surge
