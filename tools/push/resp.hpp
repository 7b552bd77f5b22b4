// The subset of Redis's protocol (RESP2) that surge::RedisBroker speaks, for surge-push's worker hub
// (worker_hub.hpp): commands in, replies and pub/sub messages out. Layer: tools. Sans-I/O.
// A command is an array of bulk strings ("*2\r\n$4\r\nPING\r\n..."), which is all hiredis sends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace surge::push {

enum class RespParse : std::uint8_t { Complete, Incomplete, Invalid };

struct RespLimits {
    std::size_t max_arguments = 64;
    std::size_t max_bulk_bytes = 16 * 1024 * 1024;
};

// Parses the command at the front of `input`. Complete: `arguments` views into `input`, `consumed` its length.
// Incomplete: more bytes are needed (nothing is set). Invalid: not a command of this subset, or past a limit;
// `why` says which (the connection should be answered with it and closed).
RespParse parse_command(std::string_view input, const RespLimits& limits, std::vector<std::string_view>& arguments,
                        std::size_t& consumed, std::string& why);

// Replies.
void append_status(std::string& out, std::string_view status);     // +OK
void append_error(std::string& out, std::string_view message);     // -ERR ...
void append_integer(std::string& out, std::int64_t value);         // :17
void append_bulk(std::string& out, std::string_view bytes);        // $3\r\nabc
void append_array_header(std::string& out, std::size_t elements);  // *2

}  // namespace surge::push
