#include "surge/core/log.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <unistd.h>

namespace surge {
namespace {

LogLevel initial_level() noexcept {
    LogLevel level = LogLevel::Info;
    if (const char* env = std::getenv("SURGE_LOG"); env && !parse_log_level(env, level)) {
        // Said once, at start-up, rather than ignored: a typo would otherwise silence the debug lines asked for.
        // write(2): this runs during static initialisation, before anything else may be set up.
        char line[256];
        const int n = std::snprintf(line, sizeof line,
                                    "surge: SURGE_LOG=%.64s is not a level (trace, debug, info, warn, error, off): "
                                    "logging at info\n",
                                    env);
        if (n > 0) (void)!::write(2, line, static_cast<std::size_t>(std::min(n, static_cast<int>(sizeof line) - 1)));
    }
    return level;
}

constexpr const char* kLevelNames[] = {"trace", "debug", "info", "warn", "error", "off"};

}  // namespace

namespace detail {
std::atomic<LogLevel> g_log_level{initial_level()};
}

void set_log_level(LogLevel level) noexcept { detail::g_log_level.store(level, std::memory_order_relaxed); }
LogLevel log_level() noexcept { return detail::g_log_level.load(std::memory_order_relaxed); }

bool parse_log_level(std::string_view text, LogLevel& out) noexcept {
    for (int i = 0; i <= static_cast<int>(LogLevel::Off); ++i) {
        if (text == kLevelNames[i]) {
            out = static_cast<LogLevel>(i);
            return true;
        }
    }
    return false;
}

void log_write(LogLevel level, const char* format, ...) noexcept {
    char line[1024];
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    tm utc{};
    gmtime_r(&now.tv_sec, &utc);
    int used = std::snprintf(line, sizeof line, "%02d:%02d:%02d.%03ld surge %-5s ", utc.tm_hour, utc.tm_min,
                             utc.tm_sec, now.tv_nsec / 1000000, kLevelNames[static_cast<int>(level)]);
    va_list args;
    va_start(args, format);
    int body = std::vsnprintf(line + used, sizeof line - static_cast<size_t>(used) - 1, format, args);
    va_end(args);
    size_t length = static_cast<size_t>(used) + (body < 0 ? 0 : static_cast<size_t>(body));
    if (length > sizeof line - 2) length = sizeof line - 2;  // cut, keep room for the newline
    line[length++] = '\n';
    // One write(2) per line: atomic for lines below PIPE_BUF, so shards never interleave within a line.
    ssize_t ignored = ::write(STDERR_FILENO, line, length);
    (void)ignored;
}

}  // namespace surge
