// How a request's body is framed (RFC 9112 section 6), or why it is refused, and the chunked coding's decoder
// (section 7.1). Layer: ws. Sans-I/O: the server asks frame_request_body() once a head is parsed, before it waits
// for any body byte, and decode_chunked() each time more of a chunked body has arrived, so the rules (which
// framings are accepted, the size limit, the status and reason of each refusal) live here and are tested
// without sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "surge/ws/http_request.hpp"

namespace surge {

struct BodyFraming {
    int status = 0;           // 0: accepted; else the HTTP status of the refusal
    std::string_view reason;  // with a refusal: the reason phrase's detail, for the response
    std::size_t length = 0;   // accepted and not chunked: the body is the `length` bytes after the head
    bool chunked = false;     // accepted: the body follows in the chunked coding (decode_chunked())
};

// Requests without a body framing header have none (length 0). Accepted: Content-Length, or Transfer-Encoding
// chunked alone. Refusals: 501 for any other transfer coding; 400 for Transfer-Encoding with Content-Length (a
// request two parties could frame differently); 400 for a Content-Length that is not a number or does not fit 64
// bits, or several that disagree (the same value repeated is one length); 413 for one past `max_body_bytes`.
BodyFraming frame_request_body(const HttpRequest& request, std::size_t max_body_bytes) noexcept;

enum class ChunkedStatus : std::uint8_t { Complete, Incomplete, Error };

struct ChunkedBody {
    ChunkedStatus status = ChunkedStatus::Incomplete;
    std::size_t consumed = 0;  // with Complete: the coded bytes, last chunk and trailer section included
    std::size_t size = 0;      // with Complete: the decoded body's length
    int http_status = 0;       // with Error: 400 (malformed) or 413 (past the limit)
    std::string_view reason;   // with Error
};

// Reads a chunked body from the start of `coded` (chunk extensions and trailer fields are read and dropped;
// lines end in CRLF or a bare LF): Incomplete until the last chunk's trailer section has ended. Stateless: call
// it again from the start when more bytes have arrived. With `out`, it writes the decoded bytes there as it reads,
// so pass `out` only once a call without it has answered Complete. `out` may be `coded`'s own first byte:
// decoding never writes ahead of where it reads.
ChunkedBody decode_chunked(std::string_view coded, std::size_t max_body_bytes, char* out = nullptr) noexcept;

}  // namespace surge
