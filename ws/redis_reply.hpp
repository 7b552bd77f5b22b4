// Reading hiredis's replies: an owning handle and the conversions the Redis broker's files share. Layer: ws
// (surge_redis's own: it needs hiredis's headers, so only that library's .cpp files include it; not part of the
// API, and not installed).
#pragma once

#include <hiredis/hiredis.h>

#include <charconv>
#include <cstdint>
#include <memory>
#include <string_view>

#include "surge/ws/opcode.hpp"

namespace surge::detail {

struct FreeReply {
    void operator()(redisReply* reply) const noexcept {
        if (reply) freeReplyObject(reply);
    }
};
using Reply = std::unique_ptr<redisReply, FreeReply>;

// A string, status or error reply's text; empty for any other.
inline std::string_view text_of(const redisReply* reply) noexcept {
    if (!reply || (reply->type != REDIS_REPLY_STRING && reply->type != REDIS_REPLY_STATUS &&
                   reply->type != REDIS_REPLY_ERROR)) {
        return {};
    }
    return {reply->str, reply->len};
}

// An integer reply, or a string of digits.
inline bool number_of(const redisReply* reply, std::uint64_t& value) noexcept {
    if (!reply) return false;
    if (reply->type == REDIS_REPLY_INTEGER) {
        value = static_cast<std::uint64_t>(reply->integer);
        return true;
    }
    const std::string_view text = text_of(reply);
    return !text.empty() && std::from_chars(text.data(), text.data() + text.size(), value).ec == std::errc{};
}

// Redis's answer to an EVALSHA of a script it does not have (a restart forgets them): nothing was run.
inline bool unknown_script(const redisReply* reply) noexcept {
    return reply && reply->type == REDIS_REPLY_ERROR && text_of(reply).starts_with("NOSCRIPT");
}

// A publication's kind as the scripts store it: "1" text, "2" binary.
inline Opcode opcode_of(std::string_view kind) noexcept { return kind == "1" ? Opcode::Text : Opcode::Binary; }

}  // namespace surge::detail
