#include "surge/ws/mask.hpp"

#include <bit>
#include <cstring>

namespace surge {
namespace {

// The key repeated over eight bytes, rotated so that byte 0 of the word lines up with payload byte `phase`.
// Bytes are loaded in memory order, so on a little-endian machine "rotate to byte `phase`" is a right rotate.
std::uint64_t wide_key(MaskKey key, std::size_t phase) noexcept {
    std::uint32_t narrow;
    std::memcpy(&narrow, key.data(), 4);
    if constexpr (std::endian::native == std::endian::little) {
        narrow = std::rotr(narrow, static_cast<int>(8 * (phase & 3)));
    } else {
        narrow = std::rotl(narrow, static_cast<int>(8 * (phase & 3)));
    }
    return (std::uint64_t{narrow} << 32) | narrow;
}

}  // namespace

std::size_t apply_mask_copy(void* dst, const void* src, std::size_t size, MaskKey key,
                            std::size_t phase) noexcept {
    auto* out = static_cast<std::uint8_t*>(dst);
    const auto* in = static_cast<const std::uint8_t*>(src);
    const std::uint64_t k = wide_key(key, phase);
    std::size_t i = 0;
    // 32 bytes per iteration in four independent words: GCC and Clang turn this into vector XORs.
    for (; i + 32 <= size; i += 32) {
        std::uint64_t w[4];
        std::memcpy(w, in + i, 32);
        w[0] ^= k;
        w[1] ^= k;
        w[2] ^= k;
        w[3] ^= k;
        std::memcpy(out + i, w, 32);
    }
    for (; i + 8 <= size; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, in + i, 8);
        w ^= k;
        std::memcpy(out + i, &w, 8);
    }
    // Whole words keep the phase; only the tail advances it.
    for (; i < size; ++i) out[i] = in[i] ^ key[(phase + i) & 3];
    return (phase + size) & 3;
}

std::size_t apply_mask(void* data, std::size_t size, MaskKey key, std::size_t phase) noexcept {
    return apply_mask_copy(data, data, size, key, phase);
}

}  // namespace surge
