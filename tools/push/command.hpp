// What surge-push reads from its clients: the JSON commands a subscriber may send over its WebSocket
// ({"subscribe":"t"}, {"unsubscribe":"t"}) and the topic lists of URLs (/ws?topics=a,b, /publish/<topic>), which
// are percent-encoded. Layer: tools. Pure functions on bytes, with no sockets, so they are unit tested and fuzzed.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace surge::push {

enum class Action { Subscribe, Unsubscribe };

struct Command {
    Action action;
    std::string topic;
};

// Parses one command: a JSON object with exactly one member, "subscribe" or "unsubscribe", whose value is a
// string (JSON escapes, \u included, are decoded to UTF-8). Whitespace as JSON allows. False for anything else.
bool parse_command(std::string_view json, Command& out);

// Whether `topic` may name a topic here: 1 to `max_bytes` bytes of valid UTF-8 with no control characters, so
// that every answer and every frame that names it is valid JSON in a valid text frame.
bool valid_topic(std::string_view topic, std::size_t max_bytes);

// Decodes %XX escapes and '+' (as a space, in query strings only). False on a malformed escape.
bool percent_decode(std::string_view in, std::string& out, bool plus_is_space);

// The topics in a query string's `topics` parameter (comma separated, percent-encoded; empty names skipped);
// several `topics=` parameters add up. Other parameters are ignored.
std::vector<std::string> topics_from_query(std::string_view query);

}  // namespace surge::push
