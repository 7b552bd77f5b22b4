// Incremental UTF-8 validation (RFC 3629) for WebSocket text messages. Layer: core.
// The validator is fed a message in pieces (frames, fragments, partial reads) and fails at the first byte after
// which no valid continuation exists (so 0xC0, 0xF5, an overlong 0xE0 0x80 or a surrogate 0xED 0xA0 fail on that
// byte, without waiting for the rest of the message), as RFC 6455 section 8.1 asks. Runs of ASCII are skipped
// eight bytes at a time. One byte of state; no allocation; not thread-safe (one validator per message).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace surge {

class Utf8Validator {
public:
    // Returns false as soon as the bytes seen so far cannot be the start of valid UTF-8; once failed, stays so.
    bool feed(const void* data, std::size_t size) noexcept;
    bool feed(std::string_view bytes) noexcept { return feed(bytes.data(), bytes.size()); }

    // True when everything fed so far is valid and ends on a character boundary: a message may end here.
    bool complete() const noexcept { return state_ == kAccept; }
    bool failed() const noexcept { return state_ == kReject; }
    void reset() noexcept { state_ = kAccept; }

    static constexpr std::uint8_t kAccept = 0;
    static constexpr std::uint8_t kReject = 1;

private:
    std::uint8_t state_ = kAccept;
};

// Whole-buffer check: valid UTF-8 that ends on a character boundary.
bool is_valid_utf8(std::string_view bytes) noexcept;

}  // namespace surge
