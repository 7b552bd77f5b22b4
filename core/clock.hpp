// Monotonic milliseconds, for timeouts and timer-wheel ticks. Layer: core. Safe from any thread.
#pragma once

#include <ctime>

namespace surge {

inline long long monotonic_ms() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace surge
