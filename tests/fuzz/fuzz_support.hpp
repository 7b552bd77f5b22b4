// What the HTTP head fuzz targets share: feeding a parser the input in pieces, and the checks that abort.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <string_view>

#include "surge/ws/http_request.hpp"

namespace surge::fuzz {

struct Answer {
    ParseStatus status;
    std::size_t head_bytes;
    int http_status;
    bool operator==(const Answer&) const = default;
};

// Feeds `input` to a fresh Parser (limit 1024, so that 431 is reachable) as a prefix growing by `step` bytes,
// the first cut at `first_cut` when not 0, until it answers or the input is used up.
template <class Parser, class Head>
Answer parse_in_pieces(std::string_view input, std::size_t step, std::size_t first_cut, Head& head) {
    Parser parser(1024);
    std::size_t end = first_cut ? first_cut : step;
    for (;;) {
        if (end > input.size()) end = input.size();
        const ParseResult r = parser.parse(input.substr(0, end), head);
        if (r.status != ParseStatus::Incomplete || end == input.size()) return {r.status, r.head_bytes, r.http_status};
        end += step;
    }
}

// Whole, byte by byte, and split where the input's first byte says: the three must agree. Returns the whole
// answer, with `head` filled from the whole parse.
template <class Parser, class Head>
Answer parse_three_ways(std::string_view input, Head& head) {
    const Answer whole = parse_in_pieces<Parser>(input, input.size() + 1, 0, head);
    Head other;
    const Answer bytewise = parse_in_pieces<Parser>(input, 1, 0, other);
    const std::size_t cut = input.empty() ? 0 : 1 + static_cast<unsigned char>(input[0]) % input.size();
    const Answer split = parse_in_pieces<Parser>(input, input.size() + 1, cut, other);
    if (!(bytewise == whole) || !(split == whole)) std::abort();
    return whole;
}

inline void check(bool condition) {
    if (!condition) std::abort();
}

inline bool inside(std::string_view view, std::string_view buffer) {
    return view.empty() || (view.data() >= buffer.data() && view.data() + view.size() <= buffer.data() + buffer.size());
}

}  // namespace surge::fuzz
