// libFuzzer target for the chunked body decoder (ws/http_body.hpp). The first byte picks the size limit; the rest
// is the coded body. Every prefix must be incomplete unless the whole is already wrong; a complete body must
// decode to the same bytes in place as into a buffer of its own, and a refusal must carry 400 or 413.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "surge/ws/http_body.hpp"

using namespace surge;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::size_t limit = std::size_t{data[0]} * 16;
    const std::string coded(reinterpret_cast<const char*>(data + 1), size - 1);
    const ChunkedBody whole = decode_chunked(coded, limit);
    if (whole.status == ChunkedStatus::Error && whole.http_status != 400 && whole.http_status != 413) std::abort();
    for (std::size_t cut = 0; cut < coded.size(); cut += 1 + cut / 8) {
        const ChunkedBody prefix = decode_chunked(std::string_view(coded).substr(0, cut), limit);
        if (prefix.status == ChunkedStatus::Complete && prefix.consumed != whole.consumed) std::abort();
        if (prefix.status == ChunkedStatus::Error && whole.status != ChunkedStatus::Error) std::abort();
    }
    if (whole.status != ChunkedStatus::Complete) return 0;
    if (whole.size > limit || whole.consumed > coded.size()) std::abort();
    std::string apart(whole.size, '\0');
    std::string in_place = coded;
    const ChunkedBody a = decode_chunked(coded, limit, apart.data());
    const ChunkedBody b = decode_chunked(in_place, limit, in_place.data());
    if (a.size != whole.size || b.size != whole.size || in_place.compare(0, b.size, apart) != 0) std::abort();
    return 0;
}
