// libFuzzer target for the HTTP request parser and the upgrade validator.
// Beyond "no crash": the same bytes fed whole, one byte at a time and split at a point the input chooses must
// give the same answer, every view must point into the input, and a response must always fit its reserve.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ws/http_request.hpp"
#include "ws/upgrade.hpp"

using namespace surge;

namespace {

struct Answer {
    ParseStatus status;
    std::size_t head_bytes;
    int http_status;
};

Answer parse_in_pieces(std::string_view input, std::size_t step, std::size_t first_cut, HttpRequest& request) {
    HttpRequestParser parser(1024);  // a small limit so that 431 is reachable
    std::size_t end = first_cut ? first_cut : step;
    for (;;) {
        if (end > input.size()) end = input.size();
        const ParseResult r = parser.parse(input.substr(0, end), request);
        if (r.status != ParseStatus::Incomplete || end == input.size()) return {r.status, r.head_bytes, r.http_status};
        end += step;
    }
}

void check(bool condition) {
    if (!condition) std::abort();
}

bool inside(std::string_view view, std::string_view buffer) {
    return view.empty() || (view.data() >= buffer.data() && view.data() + view.size() <= buffer.data() + buffer.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    HttpRequest whole_request;
    const Answer whole = parse_in_pieces(input, input.size() + 1, 0, whole_request);
    HttpRequest other;
    const Answer bytewise = parse_in_pieces(input, 1, 0, other);
    const Answer split = parse_in_pieces(input, input.size() + 1, size ? 1 + data[0] % size : 0, other);
    for (const Answer& a : {bytewise, split}) {
        check(a.status == whole.status && a.head_bytes == whole.head_bytes && a.http_status == whole.http_status);
    }
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
