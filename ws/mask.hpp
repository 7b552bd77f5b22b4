// XOR masking of WebSocket payloads (RFC 6455 section 5.3), in place. Layer: ws.
// The key is the four masking bytes as they appear on the wire. `phase` is how many payload bytes of the frame
// were already masked (mod 4), so a payload that arrives in pieces is unmasked piece by piece; the return value
// is the phase for the next piece. Works a machine word (and, where the compiler vectorizes, a vector) at a
// time; no alignment is required of `data`.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace surge {

using MaskKey = std::array<std::uint8_t, 4>;

std::size_t apply_mask(void* data, std::size_t size, MaskKey key, std::size_t phase = 0) noexcept;

// Masks `size` bytes from `src` into `dst` (a client writing a frame into its send buffer). May not overlap
// unless dst == src.
std::size_t apply_mask_copy(void* dst, const void* src, std::size_t size, MaskKey key,
                            std::size_t phase = 0) noexcept;

}  // namespace surge
