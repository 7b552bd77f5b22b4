// TCP listening sockets for shards. Layer: net.
// Each shard opens its own listener on the same address with SO_REUSEPORT, so the kernel spreads new
// connections over the shards without a shared accept queue. Functions return a descriptor, or -errno as
// io_uring's res does; they never throw. Callable from any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace surge::net {

struct ListenOptions {
    std::string_view address = "0.0.0.0";  // an IPv4 or IPv6 literal
    std::uint16_t port = 0;                 // 0: the kernel picks one (see bound_port)
    int backlog = 4096;
    bool reuse_port = true;
    bool nonblocking = true;
};

// A bound, listening socket (SOCK_CLOEXEC, and SOCK_NONBLOCK unless asked otherwise), or -errno.
int open_listener(const ListenOptions& options) noexcept;

// 0 when nothing listens on `address`:`port` yet, -EADDRINUSE when something does (a socket bound without
// SO_REUSEPORT finds out, where one with it would silently join that listener's group), or another -errno. A
// connection in TIME_WAIT does not count.
int check_port_free(std::string_view address, std::uint16_t port) noexcept;

// The local port a socket is bound to, or -errno.
int bound_port(int fd) noexcept;

}  // namespace surge::net
