// wyrand: a tiny, fast PRNG for masking keys and handshake nonces in surge::Client and the load tools. Layer: core.
// Not cryptographic; RFC 6455 asks masking keys to be unpredictable to intermediaries, which a load generator on
// loopback has none of, and the point is that choosing a key costs nothing next to the frame it masks.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>

namespace surge {

class FastRng {
public:
    explicit FastRng(std::uint64_t seed) noexcept : state_(seed) {}
    std::uint64_t next() noexcept {
        state_ += 0xa0761d6478bd642fULL;
        const __uint128_t product = static_cast<__uint128_t>(state_) * (state_ ^ 0xe7037ed1a0b428dbULL);
        return static_cast<std::uint64_t>(product >> 64) ^ static_cast<std::uint64_t>(product);
    }
    template <std::size_t N>
    std::array<std::uint8_t, N> bytes() noexcept {
        std::array<std::uint8_t, N> out{};
        for (std::size_t i = 0; i < N; i += 8) {
            const std::uint64_t word = next();
            std::memcpy(out.data() + i, &word, N - i < 8 ? N - i : 8);
        }
        return out;
    }

private:
    std::uint64_t state_;
};

}  // namespace surge
