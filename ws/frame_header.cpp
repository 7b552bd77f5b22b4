#include "surge/ws/frame_header.hpp"

namespace surge {

HeaderStatus parse_frame_header(const char* data, std::size_t size, FrameHeader& out) noexcept {
    const auto* p = reinterpret_cast<const std::uint8_t*>(data);
    if (size < 2) return HeaderStatus::Incomplete;
    const std::uint8_t b0 = p[0];
    const std::uint8_t b1 = p[1];
    out.fin = (b0 & 0x80) != 0;
    out.rsv1 = (b0 & 0x40) != 0;
    out.rsv2 = (b0 & 0x20) != 0;
    out.rsv3 = (b0 & 0x10) != 0;
    out.opcode = b0 & 0x0F;
    out.masked = (b1 & 0x80) != 0;
    const std::uint8_t length7 = b1 & 0x7F;
    std::size_t offset = 2;
    if (length7 < 126) {
        out.payload_length = length7;
    } else if (length7 == 126) {
        if (size < 4) return HeaderStatus::Incomplete;
        out.payload_length = (std::uint64_t{p[2]} << 8) | p[3];
        offset = 4;
    } else {
        if (size < 10) return HeaderStatus::Incomplete;
        if (p[2] & 0x80) return HeaderStatus::LengthTopBit;
        std::uint64_t length = 0;
        for (int i = 2; i < 10; ++i) length = (length << 8) | p[i];
        out.payload_length = length;
        offset = 10;
    }
    if (out.masked) {
        if (size < offset + 4) return HeaderStatus::Incomplete;
        out.mask = {p[offset], p[offset + 1], p[offset + 2], p[offset + 3]};
        offset += 4;
    }
    out.header_length = static_cast<std::uint8_t>(offset);
    return HeaderStatus::Complete;
}

std::size_t encode_frame_header(char* out, Opcode opcode, std::uint64_t payload_length, bool fin, bool rsv1,
                                const MaskKey* mask) noexcept {
    auto* p = reinterpret_cast<std::uint8_t*>(out);
    p[0] = static_cast<std::uint8_t>((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | static_cast<std::uint8_t>(opcode));
    const std::uint8_t mask_bit = mask ? 0x80 : 0;
    std::size_t offset;
    if (payload_length < 126) {
        p[1] = static_cast<std::uint8_t>(mask_bit | payload_length);
        offset = 2;
    } else if (payload_length <= 0xFFFF) {
        p[1] = mask_bit | 126;
        p[2] = static_cast<std::uint8_t>(payload_length >> 8);
        p[3] = static_cast<std::uint8_t>(payload_length);
        offset = 4;
    } else {
        p[1] = mask_bit | 127;
        for (int i = 0; i < 8; ++i) p[2 + i] = static_cast<std::uint8_t>(payload_length >> (56 - 8 * i));
        offset = 10;
    }
    if (mask) {
        for (int i = 0; i < 4; ++i) p[offset + i] = (*mask)[i];
        offset += 4;
    }
    return offset;
}

}  // namespace surge
