#include "tools/access_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

namespace surge::tools {

namespace {

void append_escaped(std::string& out, std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte >= 0x7f || c == '"' || c == '\\') {
            out += "\\x";
            out += kHex[byte >> 4];
            out += kHex[byte & 15];
        } else {
            out += c;
        }
    }
}

}  // namespace

bool AccessLog::open(const std::string& path, std::string& error) {
    if (path == "-") {
        fd_ = STDOUT_FILENO;
        return true;
    }
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) {
        error = std::strerror(errno);
        return false;
    }
    own_ = true;
    return true;
}

AccessLog::~AccessLog() {
    if (own_) ::close(fd_);
}

std::string AccessLog::line(const AccessRecord& record, long long unix_ms) {
    const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
    std::tm utc{};
    ::gmtime_r(&seconds, &utc);
    char time[40];
    const std::size_t n = std::strftime(time, sizeof time, "%Y-%m-%dT%H:%M:%S", &utc);
    std::string out(time, n);
    char millis[8];
    std::snprintf(millis, sizeof millis, ".%03lldZ ", unix_ms % 1000);
    out += millis;
    const std::string client = record.client.text();
    out += client.empty() ? "-" : client;
    out += " \"";
    if (record.method.empty()) {
        out += '-';
    } else {
        append_escaped(out, record.method);
        out += ' ';
        append_escaped(out, record.target);
    }
    out += "\" " + std::to_string(record.status) + " " + std::to_string(record.body_bytes) + "\n";
    return out;
}

void AccessLog::write(const AccessRecord& record) const noexcept {
    if (fd_ < 0) return;
    try {
        const auto now = std::chrono::system_clock::now().time_since_epoch();
        const std::string text = line(record, std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
        [[maybe_unused]] const ssize_t written = ::write(fd_, text.data(), text.size());  // a full disk loses a line
    } catch (const std::bad_alloc&) {
        // No memory for a log line: the request was served; the line is lost.
    }
}

}  // namespace surge::tools
