// The servers' access log lines: one line whatever the request held.
#include "tools/access_log.hpp"

#include <doctest/doctest.h>

using namespace surge;

TEST_CASE("access log: time, client, request, status and bytes, with the request's odd bytes escaped") {
    AccessRecord record;
    REQUIRE(net::IpAddress::parse("2001:db8::1", record.client.ip));
    record.client.port = 443;
    record.method = "GET";
    record.target = "/ws?topics=a\"b\\c\x01\xc3\xa9";
    record.status = 101;
    CHECK(tools::AccessLog::line(record, 1796118755123) ==
          "2026-12-01T09:52:35.123Z [2001:db8::1]:443 \"GET /ws?topics=a\\x22b\\x5cc\\x01\\xc3\\xa9\" 101 0\n");
    AccessRecord refused;  // at accept, before any request: no method, no target, no client known
    refused.status = 503;
    refused.body_bytes = 37;
    CHECK(tools::AccessLog::line(refused, 0) == "1970-01-01T00:00:00.000Z - \"-\" 503 37\n");
}
