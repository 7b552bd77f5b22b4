#include "surge/ws/mask.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace surge;

namespace {
std::string mask_bytewise(std::string s, MaskKey key, std::size_t phase) {
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>(s[i] ^ key[(phase + i) & 3]);
    return s;
}
}  // namespace

TEST_CASE("apply_mask agrees with the byte-at-a-time definition for every length, phase and alignment") {
    const MaskKey key = {0x12, 0x9A, 0xFE, 0x01};
    std::string source(300, '\0');
    for (std::size_t i = 0; i < source.size(); ++i) source[i] = static_cast<char>(i * 7 + 3);
    for (std::size_t offset = 0; offset < 8; ++offset) {
        for (std::size_t length = 0; length + offset <= 200; length += (length < 70 ? 1 : 13)) {
            for (std::size_t phase = 0; phase < 4; ++phase) {
                std::string buffer = source;
                const std::size_t next = apply_mask(buffer.data() + offset, length, key, phase);
                CHECK(next == (phase + length) % 4);
                const std::string expect = mask_bytewise(source.substr(offset, length), key, phase);
                if (buffer.substr(offset, length) != expect) FAIL_CHECK("length " << length << " phase " << phase);
                CHECK(buffer.substr(0, offset) == source.substr(0, offset));                    // untouched before
                CHECK(buffer.substr(offset + length) == source.substr(offset + length));      // and after
            }
        }
    }
}

TEST_CASE("masking in pieces equals masking whole, and masking twice restores the input") {
    const MaskKey key = {0x37, 0xFA, 0x21, 0x3D};
    std::string data(1000, 'q');
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i);
    std::string whole = data;
    apply_mask(whole.data(), whole.size(), key);
    for (std::size_t cut : {1, 3, 5, 8, 333, 999}) {
        std::string pieces = data;
        const std::size_t phase = apply_mask(pieces.data(), cut, key);
        apply_mask(pieces.data() + cut, pieces.size() - cut, key, phase);
        CHECK(pieces == whole);
    }
    apply_mask(whole.data(), whole.size(), key);
    CHECK(whole == data);
}

TEST_CASE("apply_mask_copy leaves the source alone") {
    const MaskKey key = {1, 2, 3, 4};
    const std::string src = "Hello, masked world! 0123456789abcdef";
    std::string dst(src.size(), '\0');
    apply_mask_copy(dst.data(), src.data(), src.size(), key);
    CHECK(dst == mask_bytewise(src, key, 0));
}
