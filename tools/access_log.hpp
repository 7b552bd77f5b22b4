// The servers' access log (--access-log FILE, or - for standard output): a line per HTTP answer, upgrade and
// refusal, from ServerConfig::on_access. Layer: tools.
//   2026-12-01T11:20:03.123Z 203.0.113.5:50412 "POST /publish/news" 200 34
// Time (UTC, milliseconds), the client (the one trusted proxies named, if any), method and target (bytes outside
// printable ASCII, quotes and backslashes written \xHH, so a line is always one line), status, body bytes. A request
// refused before its head was read shows "-". Each line is one write() to a file opened O_APPEND, so the shard
// threads, and --workers processes sharing the file, never interleave within a line.
#pragma once

#include <string>

#include "surge/ws/server.hpp"

namespace surge::tools {

class AccessLog {
public:
    // Opens `path` for appending ("-": standard output). False with `error` set when it cannot.
    bool open(const std::string& path, std::string& error);
    ~AccessLog();

    void write(const AccessRecord& record) const noexcept;
    // The line write() writes for `record` at `unix_ms`, for tests.
    static std::string line(const AccessRecord& record, long long unix_ms);

private:
    int fd_ = -1;
    bool own_ = false;
};

}  // namespace surge::tools
