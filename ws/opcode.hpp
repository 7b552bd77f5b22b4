// WebSocket opcodes and close codes (RFC 6455 sections 5.2 and 7.4). Layer: ws.
#pragma once

#include <cstdint>

namespace surge {

enum class Opcode : std::uint8_t {
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA,
};

constexpr bool is_control(Opcode op) noexcept { return (static_cast<std::uint8_t>(op) & 0x8) != 0; }
constexpr bool is_known_opcode(std::uint8_t op) noexcept { return op <= 0x2 || (op >= 0x8 && op <= 0xA); }

// Close codes surge sends or checks.
namespace close_code {
inline constexpr std::uint16_t kNormal = 1000;
inline constexpr std::uint16_t kGoingAway = 1001;
inline constexpr std::uint16_t kProtocolError = 1002;
inline constexpr std::uint16_t kUnsupportedData = 1003;
inline constexpr std::uint16_t kNoStatus = 1005;    // never on the wire: "the close frame had no code"
inline constexpr std::uint16_t kAbnormal = 1006;    // never on the wire: "closed without a close frame"
inline constexpr std::uint16_t kInvalidPayload = 1007;
inline constexpr std::uint16_t kPolicyViolation = 1008;
inline constexpr std::uint16_t kMessageTooBig = 1009;
inline constexpr std::uint16_t kInternalError = 1011;
}  // namespace close_code

// Whether `code` may appear in a received close frame: 1000-1003, 1007-1014 (registered or reserved for
// registration by IANA) and 3000-4999 (libraries, applications). 1004-1006, 1015, below 1000 and 1016-2999
// are protocol errors, as are codes of 5000 and above.
constexpr bool is_valid_wire_close_code(std::uint16_t code) noexcept {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

}  // namespace surge
