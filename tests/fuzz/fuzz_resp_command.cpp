// libFuzzer target for the workers' hub's command parser (tools/push/resp.hpp): what a connection to the hub may
// send. Beyond "no crash": a command that parses, written back, parses to the same arguments and length; every
// shorter prefix of it is Incomplete (never Invalid, never another command); a refusal says why.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tests/fuzz/fuzz_support.hpp"
#include "tools/push/resp.hpp"

using namespace surge;
using namespace surge::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    push::RespLimits limits;
    limits.max_arguments = 16;
    limits.max_bulk_bytes = 4096;
    std::vector<std::string_view> arguments;
    std::size_t consumed = 0;
    std::string why;
    const push::RespParse parsed = push::parse_command(input, limits, arguments, consumed, why);
    if (parsed == push::RespParse::Invalid) check(!why.empty());
    if (parsed != push::RespParse::Complete) return 0;
    check(consumed <= size && !arguments.empty() && arguments.size() <= limits.max_arguments);
    std::string again;
    push::append_array_header(again, arguments.size());
    for (std::string_view argument : arguments) push::append_bulk(again, argument);
    std::vector<std::string_view> reparsed;
    std::size_t reconsumed = 0;
    check(push::parse_command(again, limits, reparsed, reconsumed, why) == push::RespParse::Complete);
    check(reconsumed == again.size() && reparsed == arguments);
    for (std::size_t cut = 0; cut < consumed; cut += 1 + consumed / 64) {
        std::vector<std::string_view> partial;
        std::size_t ignored = 0;
        check(push::parse_command(input.substr(0, cut), limits, partial, ignored, why) == push::RespParse::Incomplete);
    }
    return 0;
}
