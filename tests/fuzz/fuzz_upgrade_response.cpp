// libFuzzer target for the HTTP response parser and the client's upgrade checks: what a client reads from a
// server it does not trust. The same bytes fed whole, byte by byte and split at a point the input chooses must
// give the same answer; every view points into the input; an accepted response really carries our accept key.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ws/client_handshake.hpp"
#include "ws/http_request.hpp"
#include "ws/upgrade.hpp"

using namespace surge;

namespace {

struct Answer {
    ParseStatus status;
    std::size_t head_bytes;
    int http_status;
};

Answer parse_in_pieces(std::string_view input, std::size_t step, std::size_t first_cut, HttpResponse& response) {
    HttpResponseParser parser(1024);  // a small limit so that 431 is reachable
    std::size_t end = first_cut ? first_cut : step;
    for (;;) {
        if (end > input.size()) end = input.size();
        const ParseResult r = parser.parse(input.substr(0, end), response);
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
    HttpResponse whole_response;
    const Answer whole = parse_in_pieces(input, input.size() + 1, 0, whole_response);
    HttpResponse other;
    const Answer bytewise = parse_in_pieces(input, 1, 0, other);
    const Answer split = parse_in_pieces(input, input.size() + 1, size ? 1 + data[0] % size : 0, other);
    for (const Answer& a : {bytewise, split}) {
        check(a.status == whole.status && a.head_bytes == whole.head_bytes && a.http_status == whole.http_status);
    }
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
