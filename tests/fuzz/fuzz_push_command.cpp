// libFuzzer target for surge-push's client-facing parsers: the JSON subscribe/unsubscribe command, and the
// percent-decoding of query strings and publish paths.
// Beyond "no crash": a command that parses, written back as JSON, parses to the same command; a topic list never
// holds an empty name; decoding never produces more bytes than it was given.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_support.hpp"
#include "surge/core/json_string.hpp"
#include "tools/push/command.hpp"

using namespace surge;
using namespace surge::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    push::Command command;
    std::string error;
    if (push::parse_command(input, command, error)) {
        // Written back (members in another order), it reads the same.
        std::string again = "{";
        if (command.since) again += "\"since\":" + std::to_string(*command.since) + ",";
        if (!command.id_json.empty()) again += "\"id\":" + command.id_json + ",";
        if (!command.epoch.empty()) {
            again += "\"epoch\":";
            append_json_string(again, command.epoch);
            again += ",";
        }
        again += command.action == push::Action::Subscribe ? "\"subscribe\":" : "\"unsubscribe\":";
        append_json_string(again, command.topic);
        again.push_back('}');
        push::Command reparsed;
        check(push::parse_command(again, reparsed, error));
        check(reparsed.action == command.action && reparsed.topic == command.topic &&
              reparsed.since == command.since && reparsed.epoch == command.epoch && reparsed.id_json == command.id_json);
    } else {
        check(!error.empty());
    }
    push::QueryPositions positions;
    if (push::positions_from_query(input, positions, error)) {
        for (const auto& [topic, offset] : positions.since) check(!topic.empty() && topic.size() <= size);
    }

    for (const std::string& topic : push::topics_from_query(input)) check(!topic.empty() && topic.size() <= size);
    std::string decoded;
    if (push::percent_decode(input, decoded, false)) check(decoded.size() <= size);
    return 0;
}
