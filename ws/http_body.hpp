// How long a request's body is, from its head alone (RFC 9112 section 6), or why it is refused. Layer: ws.
// Sans-I/O: the server asks this once a head is parsed, before it waits for or reads any body byte, so the
// rules (which framings are accepted, the size limit, the status and reason of each refusal) live here and are
// tested without sockets.
#pragma once

#include <cstddef>
#include <string_view>

#include "ws/http_request.hpp"

namespace surge {

struct BodyFraming {
    int status = 0;           // 0: accepted, the body is the `length` bytes after the head; else the HTTP status
    std::string_view reason;  // with a refusal: the reason phrase's detail, for the response
    std::size_t length = 0;
};

// Requests without a body framing header have none (length 0). Refusals: 411 for a Transfer-Encoding body,
// 400 for a Content-Length that is not a number or does not fit 64 bits, 400 for several that disagree (the
// same value repeated is one length), 413 for one past `max_body_bytes`.
BodyFraming frame_request_body(const HttpRequest& request, std::size_t max_body_bytes) noexcept;

}  // namespace surge
