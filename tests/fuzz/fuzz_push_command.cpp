// libFuzzer target for surge-push's client-facing parsers: the JSON subscribe/unsubscribe command, and the
// percent-decoding of query strings and publish paths.
// Beyond "no crash": a command that parses, written back as JSON, parses to the same command; a topic list never
// holds an empty name; decoding never produces more bytes than it was given.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_support.hpp"
#include "tools/json_string.hpp"
#include "tools/push/command.hpp"

using namespace surge;
using namespace surge::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    push::Command command;
    if (push::parse_command(input, command)) {
        std::string again = command.action == push::Action::Subscribe ? "{\"subscribe\":" : "{\"unsubscribe\":";
        tools::append_json_string(again, command.topic);
        again.push_back('}');
        push::Command reparsed;
        check(push::parse_command(again, reparsed));
        check(reparsed.action == command.action && reparsed.topic == command.topic);
    }

    for (const std::string& topic : push::topics_from_query(input)) check(!topic.empty() && topic.size() <= size);
    std::string decoded;
    if (push::percent_decode(input, decoded, false)) check(decoded.size() <= size);
    return 0;
}
