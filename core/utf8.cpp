#include "surge/core/utf8.hpp"

#include <array>
#include <cstring>

namespace surge {
namespace {

// Byte classes: the lead bytes that constrain the second byte (E0, ED, F0, F4) get classes of their own, and
// continuation bytes are split by the ranges those constraints name.
enum Class : std::uint8_t {
    kAscii,      // 00..7F
    kCont80,     // 80..8F
    kCont90,     // 90..9F
    kContA0,     // A0..BF
    kInvalid,    // C0, C1, F5..FF: never valid anywhere
    kLead2,      // C2..DF
    kLeadE0,     // E0: second byte A0..BF (no overlongs)
    kLead3,      // E1..EC, EE, EF
    kLeadED,     // ED: second byte 80..9F (no surrogates)
    kLeadF0,     // F0: second byte 90..BF (no overlongs)
    kLead4,      // F1..F3
    kLeadF4,     // F4: second byte 80..8F (nothing above U+10FFFF)
    kClassCount
};

constexpr std::array<std::uint8_t, 256> make_classes() {
    std::array<std::uint8_t, 256> c{};
    for (int b = 0; b < 256; ++b) {
        if (b < 0x80) c[b] = kAscii;
        else if (b < 0x90) c[b] = kCont80;
        else if (b < 0xA0) c[b] = kCont90;
        else if (b < 0xC0) c[b] = kContA0;
        else if (b < 0xC2) c[b] = kInvalid;  // NOLINT(bugprone-branch-clone): overlong leads, as past 0xF4
        else if (b < 0xE0) c[b] = kLead2;
        else if (b == 0xE0) c[b] = kLeadE0;
        else if (b == 0xED) c[b] = kLeadED;
        else if (b < 0xF0) c[b] = kLead3;
        else if (b == 0xF0) c[b] = kLeadF0;
        else if (b < 0xF4) c[b] = kLead4;
        else if (b == 0xF4) c[b] = kLeadF4;
        else c[b] = kInvalid;
    }
    return c;
}
constexpr auto kClasses = make_classes();

// States: 0 accept, 1 reject, then "what the next byte must be".
enum State : std::uint8_t {
    kAccept = Utf8Validator::kAccept,
    kReject = Utf8Validator::kReject,
    kNeed1,     // one continuation byte 80..BF
    kNeed2,     // two continuation bytes
    kNeed3,     // three continuation bytes
    kAfterE0,   // A0..BF, then one more
    kAfterED,   // 80..9F, then one more
    kAfterF0,   // 90..BF, then two more
    kAfterF4,   // 80..8F, then two more
    kStateCount
};

constexpr std::array<std::array<std::uint8_t, kClassCount>, kStateCount> make_transitions() {
    std::array<std::array<std::uint8_t, kClassCount>, kStateCount> t{};
    for (auto& row : t) row.fill(kReject);
    auto& a = t[kAccept];
    a[kAscii] = kAccept;
    a[kLead2] = kNeed1;
    a[kLeadE0] = kAfterE0;
    a[kLead3] = kNeed2;
    a[kLeadED] = kAfterED;
    a[kLeadF0] = kAfterF0;
    a[kLead4] = kNeed3;
    a[kLeadF4] = kAfterF4;
    for (auto cont : {kCont80, kCont90, kContA0}) {
        t[kNeed1][cont] = kAccept;
        t[kNeed2][cont] = kNeed1;
        t[kNeed3][cont] = kNeed2;
    }
    t[kAfterE0][kContA0] = kNeed1;
    t[kAfterED][kCont80] = kNeed1;
    t[kAfterED][kCont90] = kNeed1;
    t[kAfterF0][kCont90] = kNeed2;
    t[kAfterF0][kContA0] = kNeed2;
    t[kAfterF4][kCont80] = kNeed2;
    return t;
}
constexpr auto kTransitions = make_transitions();

constexpr std::uint64_t kHighBits = 0x8080808080808080ULL;

}  // namespace

bool Utf8Validator::feed(const void* data, std::size_t size) noexcept {
    const auto* p = static_cast<const std::uint8_t*>(data);
    const auto* end = p + size;
    std::uint8_t state = state_;
    while (p < end) {
        if (state == kAccept) {
            // Fast path: skip ASCII 16 then 8 bytes at a time while between characters.
            while (end - p >= 16) {
                std::uint64_t a, b;
                std::memcpy(&a, p, 8);
                std::memcpy(&b, p + 8, 8);
                if ((a | b) & kHighBits) break;
                p += 16;
            }
            while (end - p >= 8) {
                std::uint64_t a;
                std::memcpy(&a, p, 8);
                if (a & kHighBits) break;
                p += 8;
            }
            if (p == end) break;
        }
        state = kTransitions[state][kClasses[*p]];
        if (state == kReject) break;
        ++p;
    }
    state_ = state;
    return state != kReject;
}

bool is_valid_utf8(std::string_view bytes) noexcept {
    Utf8Validator v;
    return v.feed(bytes) && v.complete();
}

}  // namespace surge
