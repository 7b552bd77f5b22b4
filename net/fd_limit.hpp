// The per-process descriptor limit (RLIMIT_NOFILE), told plainly. Layer: net.
// A server that needs more descriptors than the limit allows says so at start, with the fix, instead of
// failing with EMFILE under load. Callable from any thread; raise_fd_limit() changes process-wide state.
#pragma once

#include <cstdint>

namespace surge::net {

struct FdLimit {
    std::uint64_t soft = 0;
    std::uint64_t hard = 0;
};

// The current limits, or {0, 0} if they cannot be read.
FdLimit fd_limit() noexcept;

// Raises the soft limit toward `wanted`, capped at the hard limit. Returns the soft limit now in force.
std::uint64_t raise_fd_limit(std::uint64_t wanted) noexcept;

}  // namespace surge::net
