// Monotonic time, for timeouts, timer-wheel ticks and connection ages. Layer: core. Safe from any thread.
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

}  // namespace surge
