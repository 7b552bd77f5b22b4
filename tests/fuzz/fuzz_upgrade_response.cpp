// libFuzzer target for the HTTP response parser and the client's upgrade checks: what a client reads from a
// server it does not trust. The same bytes fed whole, byte by byte and split at a point the input chooses must
// give the same answer; every view points into the input; an accepted response really carries our accept key.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tests/fuzz/fuzz_support.hpp"
#include "surge/ws/client_handshake.hpp"
#include "surge/ws/http_request.hpp"
#include "surge/ws/upgrade.hpp"

using namespace surge;
using namespace surge::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    HttpResponse whole_response;
    const Answer whole = parse_three_ways<HttpResponseParser>(input, whole_response);
    if (whole.status != ParseStatus::Complete) return 0;

    check(whole.head_bytes <= size);
    check(whole_response.status >= 100 && whole_response.status <= 999);
    check(inside(whole_response.reason, input));
    for (std::size_t i = 0; i < whole_response.header_count; ++i) {
        check(inside(whole_response.headers[i].name, input) && inside(whole_response.headers[i].value, input));
    }
    constexpr std::string_view key = "dGhlIHNhbXBsZSBub25jZQ==";
    const ClientUpgradeCheck verdict = check_upgrade_response(whole_response, key, "chat, superchat");
    if (verdict.accepted) {
        check(whole_response.status == 101);
        check(whole_response.find("Sec-WebSocket-Accept")->value == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        check(verdict.subprotocol.empty() || verdict.subprotocol == "chat" || verdict.subprotocol == "superchat");
    } else {
        check(!verdict.why.empty());
    }
    return 0;
}
