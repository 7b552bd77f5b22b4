// libFuzzer target for the HTTP request parser and the upgrade validator.
// Beyond "no crash": the same bytes fed whole, one byte at a time and split at a point the input chooses must
// give the same answer, every view must point into the input, and a response must always fit its reserve.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tests/fuzz/fuzz_support.hpp"
#include "surge/ws/http_request.hpp"
#include "surge/ws/upgrade.hpp"

using namespace surge;
using namespace surge::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    HttpRequest whole_request;
    const Answer whole = parse_three_ways<HttpRequestParser>(input, whole_request);
    if (whole.status != ParseStatus::Complete) return 0;

    check(whole.head_bytes <= size);
    check(inside(whole_request.method, input) && inside(whole_request.target, input));
    for (std::size_t i = 0; i < whole_request.header_count; ++i) {
        check(inside(whole_request.headers[i].name, input) && inside(whole_request.headers[i].value, input));
    }
    auto choose = [](const TokenList& offered) -> std::string_view {
        std::string_view last;
        offered.for_each([&](std::string_view token) {
            last = token;
            return true;
        });
        return last;
    };
    UpgradePolicy policy;
    policy.choose_subprotocol = choose;
    const UpgradeDecision decision = check_upgrade(whole_request, policy);
    char response[kUpgradeResponseReserve + 1024];
    if (decision.status == 101) {
        check(is_valid_websocket_key(decision.key));
        // Any subprotocol that fits in the head fits in the reserve plus the head's size.
        check(write_upgrade_response(response, decision) > 0);
    } else {
        check(decision.status >= 400 && decision.status < 600);
        check(write_refusal(response, decision.status, decision.reason) > 0);
    }
    return 0;
}
