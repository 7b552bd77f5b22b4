// What surge-push reads from its clients: the JSON commands a subscriber may send over its WebSocket
// ({"subscribe":"t","since":17,"epoch":"...","id":1}, {"unsubscribe":"t"}) and the URLs' parameters
// (/ws?topics=a,b&since=a:17&epoch=...&format=raw, /publish/<topic>), which are percent-encoded. Layer: tools.
// Pure functions on bytes, with no sockets, so they are unit tested and fuzzed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

namespace surge::push {

enum class Action { Subscribe, Unsubscribe };

struct Command {
    Action action = Action::Subscribe;
    std::string topic;
    std::optional<std::uint64_t> since;  // subscribe from this offset (history first)
    std::string epoch;                   // ... of this epoch ("" : not checked)
    std::string id_json;                 // the command's "id", as JSON (a string or an integer), to echo; "" if none
};

// Parses one command: a JSON object with one member "subscribe" or "unsubscribe" whose value is a string (JSON
// escapes, \u included, are decoded to UTF-8), and optionally "since" (an integer, 0 to 2^64-1), "epoch" (a
// string) and "id" (a string or an integer), in any order, each once. Whitespace as JSON allows. False for
// anything else, with `error` saying what.
bool parse_command(std::string_view json, Command& out, std::string& error);

// Whether `topic` may name a topic here: 1 to `max_bytes` bytes of valid UTF-8 with no control characters, so
// that every answer and every frame that names it is valid JSON in a valid text frame.
bool valid_topic(std::string_view topic, std::size_t max_bytes);

// Decodes %XX escapes and '+' (as a space, in query strings only). False on a malformed escape.
bool percent_decode(std::string_view in, std::string& out, bool plus_is_space);

// The topics in a query string's `topics` parameter (comma separated, percent-encoded; empty names skipped);
// several `topics=` parameters add up. Other parameters are ignored.
std::vector<std::string> topics_from_query(std::string_view query);

// A query string's resume positions: `since=news:17,sport:4` (each a percent-encoded topic, a colon, an offset;
// the last colon separates them) and `epoch=E`. False, with `error`, for a malformed entry.
struct QueryPositions {
    std::vector<std::pair<std::string, std::uint64_t>> since;
    std::string epoch;
};
bool positions_from_query(std::string_view query, QueryPositions& out, std::string& error);

// The value of parameter `name` in a query string, percent-decoded ("" when absent or malformed).
std::string query_parameter(std::string_view query, std::string_view name);

}  // namespace surge::push
