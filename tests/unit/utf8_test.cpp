#include "surge/core/utf8.hpp"

#include <doctest/doctest.h>

#include <string>

using surge::is_valid_utf8;
using surge::Utf8Validator;

namespace {

// Reference: decode code points by the RFC 3629 rules, one whole string at a time.
bool reference_valid(const std::string& s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        int n;
        std::uint32_t cp;
        if (c < 0x80) { ++i; continue; }
        if (c >= 0xC2 && c <= 0xDF) { n = 1; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { n = 2; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { n = 3; cp = c & 0x07; }
        else return false;
        for (int k = 1; k <= n; ++k) {
            if (i + static_cast<std::size_t>(k) >= s.size()) return false;
            const auto d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (d & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF) return false;
        if (cp >= 0xD800 && cp <= 0xDFFF) return false;
        i += static_cast<std::size_t>(n) + 1;
    }
    return true;
}

}  // namespace

TEST_CASE("valid UTF-8") {
    for (const char* s : {"", "plain ascii", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", "\xf0\x9f\x98\x80",
                          "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf", "\xed\x9f\xbf", "\xee\x80\x80", "\xc2\x80"}) {
        INFO(s);
        CHECK(is_valid_utf8(s));
    }
}

TEST_CASE("invalid UTF-8") {
    for (const char* s : {"\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf", "\xed\xa0\x80",
                          "\xed\xbf\xbf", "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
                          "\xff", "\xfe", "\xc2", "\xe2\x82", "\xf0\x9f\x98", "a\xc2z"}) {
        INFO(s);
        CHECK_FALSE(is_valid_utf8(s));
    }
}

TEST_CASE("every one- and two-byte sequence agrees with the reference") {
    for (int a = 0; a < 256; ++a) {
        std::string one(1, static_cast<char>(a));
        CHECK(is_valid_utf8(one) == reference_valid(one));
        for (int b = 0; b < 256; ++b) {
            std::string two{static_cast<char>(a), static_cast<char>(b)};
            if (is_valid_utf8(two) != reference_valid(two)) FAIL_CHECK("mismatch at " << a << "," << b);
        }
    }
}

TEST_CASE("every three-byte sequence led by E0..F4 agrees with the reference, fed whole and byte by byte") {
    for (int a = 0xE0; a <= 0xF4; ++a) {
        for (int b = 0x70; b < 0xC8; ++b) {
            for (int c = 0x70; c < 0xC8; ++c) {
                std::string s{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c), 'x'};
                const bool expect = reference_valid(s);
                Utf8Validator v;
                bool ok = true;
                for (char ch : s) ok = v.feed(&ch, 1) && ok;
                if (is_valid_utf8(s) != expect || (ok && v.complete()) != expect) {
                    FAIL_CHECK("mismatch at " << a << "," << b << "," << c);
                }
            }
        }
    }
}

TEST_CASE("fails at the first byte that cannot continue, not later") {
    Utf8Validator v;
    CHECK(v.feed("abc\xe0", 4));  // E0 may still be followed by A0..BF
    CHECK_FALSE(v.complete());
    CHECK_FALSE(v.feed("\x80", 1));  // but not by 80: overlong, known now
    CHECK(v.failed());
    CHECK_FALSE(v.feed("a", 1));  // stays failed

    Utf8Validator w;
    CHECK_FALSE(w.feed("\xf5", 1));
    Utf8Validator x;
    CHECK(x.feed("\xed", 1));
    CHECK_FALSE(x.feed("\xa0", 1));  // surrogate half
}

TEST_CASE("the ASCII fast path hands over to the state machine at any alignment") {
    const std::string euro = "\xe2\x82\xac";
    for (std::size_t prefix = 0; prefix < 40; ++prefix) {
        std::string s = std::string(prefix, 'a') + euro + std::string(prefix, 'b');
        CHECK(is_valid_utf8(s));
        std::string bad = std::string(prefix, 'a') + "\xe2\x28\xa1" + std::string(prefix, 'b');
        CHECK_FALSE(is_valid_utf8(bad));
        std::string cut = std::string(prefix, 'a') + "\xe2\x82";
        CHECK_FALSE(is_valid_utf8(cut));
    }
}
