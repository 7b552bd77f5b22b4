// Test support: runs the server side of the opening handshake over bytes that arrive in pieces, as a
// connection would, and returns the status and response it produced.
#pragma once

#include <string>
#include <vector>

#include "surge/ws/http_request.hpp"
#include "surge/ws/upgrade.hpp"

namespace surge::test {

struct HandshakeOutcome {
    int status = 0;  // 0 while the request is incomplete
    std::string response;
    std::size_t head_bytes = 0;
};

inline HandshakeOutcome run_handshake(const std::string& wire, const std::vector<std::size_t>& cuts,
                                      const UpgradePolicy& policy = {},
                                      std::size_t max_head = kDefaultMaxHeaderBytes) {
    HttpRequestParser parser(max_head);
    HttpRequest request;
    std::vector<std::size_t> ends = cuts;
    ends.push_back(wire.size());
    char response[4096];
    for (std::size_t end : ends) {
        const ParseResult r = parser.parse(std::string_view(wire).substr(0, end), request);
        if (r.status == ParseStatus::Incomplete) continue;
        if (r.status == ParseStatus::Error) {
            const std::size_t n = write_refusal(response, r.http_status, "malformed or oversized request");
            return {r.http_status, std::string(response, n), 0};
        }
        const UpgradeDecision decision = check_upgrade(request, policy);
        const std::size_t n = decision.status == 101 ? write_upgrade_response(response, decision)
                                                     : write_refusal(response, decision.status, decision.reason);
        return {decision.status, std::string(response, n), r.head_bytes};
    }
    return {};
}

}  // namespace surge::test
