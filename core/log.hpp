// Levelled logging for surge: printf-style, one line per call, written to stderr with one write(2) so that
// lines from different shards never interleave. Layer: core.
// The level is process-wide (set_log_level, or the SURGE_LOG environment variable: trace, debug, info, warn,
// error, off) and is checked before the arguments are formatted, so a disabled level costs one load.
// Safe to call from any thread; never allocates (lines longer than 1 KiB are cut).
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

namespace surge {

enum class LogLevel : std::uint8_t { Trace, Debug, Info, Warn, Error, Off };

namespace detail {
extern std::atomic<LogLevel> g_log_level;
}

inline bool log_enabled(LogLevel level) noexcept {
    return level >= detail::g_log_level.load(std::memory_order_relaxed);
}
void set_log_level(LogLevel level) noexcept;
LogLevel log_level() noexcept;
// Parses "trace", "debug", "info", "warn", "error" or "off"; returns false and leaves `out` alone otherwise.
bool parse_log_level(std::string_view text, LogLevel& out) noexcept;

void log_write(LogLevel level, const char* format, ...) noexcept __attribute__((format(printf, 2, 3)));

}  // namespace surge

#define SURGE_LOG(level, ...)                                                                          \
    do {                                                                                               \
        if (::surge::log_enabled(level)) ::surge::log_write(level, __VA_ARGS__);                       \
    } while (0)
#define SURGE_LOG_TRACE(...) SURGE_LOG(::surge::LogLevel::Trace, __VA_ARGS__)
#define SURGE_LOG_DEBUG(...) SURGE_LOG(::surge::LogLevel::Debug, __VA_ARGS__)
#define SURGE_LOG_INFO(...) SURGE_LOG(::surge::LogLevel::Info, __VA_ARGS__)
#define SURGE_LOG_WARN(...) SURGE_LOG(::surge::LogLevel::Warn, __VA_ARGS__)
#define SURGE_LOG_ERROR(...) SURGE_LOG(::surge::LogLevel::Error, __VA_ARGS__)
