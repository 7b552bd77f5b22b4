// Monotonic time, for timeouts, timer-wheel ticks and connection ages, and the wall clock where another machine
// must understand a time. Layer: core. Safe from any thread.
#pragma once

#include <ctime>

namespace surge {

inline long long monotonic_ms() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// Monotonic nanoseconds (the same clock in every process of a machine).
inline unsigned long long monotonic_ns() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<unsigned long long>(ts.tv_sec) * 1000000000ULL + static_cast<unsigned long long>(ts.tv_nsec);
}

// Wall-clock milliseconds since 1970 (what a broker shared by several machines stamps its history with).
inline long long unix_ms() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace surge
