// Writing whole small frames: close frames (with a code and a reason) and other control frames, for both
// roles. Layer: ws. Data frames are written as a header from encode_frame_header() followed by the caller's
// payload, so that a payload is never copied just to be framed. All output goes to caller-provided space.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "surge/ws/frame_header.hpp"

namespace surge {

inline constexpr std::size_t kMaxControlFrameBytes = kMaxFrameHeaderBytes + kMaxControlPayload;

// Writes a close payload: the code in network order, then the reason, cut to fit 125 bytes at a UTF-8
// character boundary. Returns its length. `out` holds at least kMaxControlPayload bytes.
std::size_t encode_close_payload(char* out, std::uint16_t code, std::string_view reason) noexcept;

// Writes a whole control frame (Ping, Pong or Close) with `payload` (at most 125 bytes; longer is cut) and
// returns its length. With `mask` (the client role) the payload is masked. `out` holds kMaxControlFrameBytes.
std::size_t encode_control_frame(char* out, Opcode opcode, std::string_view payload,
                                 const MaskKey* mask = nullptr) noexcept;

// A whole close frame carrying `code` and `reason`.
std::size_t encode_close_frame(char* out, std::uint16_t code, std::string_view reason = {},
                               const MaskKey* mask = nullptr) noexcept;

}  // namespace surge
