#include "surge/net/fd_limit.hpp"

#include <sys/resource.h>

namespace surge::net {

FdLimit fd_limit() noexcept {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return {};
    return {limit.rlim_cur, limit.rlim_max};
}

std::uint64_t raise_fd_limit(std::uint64_t wanted) noexcept {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
    if (limit.rlim_cur >= wanted) return limit.rlim_cur;
    const rlim_t target = wanted < limit.rlim_max ? wanted : limit.rlim_max;
    rlimit raised{target, limit.rlim_max};
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) return target;
    return limit.rlim_cur;
}

}  // namespace surge::net
