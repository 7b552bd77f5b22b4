#include "surge/net/listener.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace surge::net {
namespace {

// Parses `text` into `out`; returns the address length, or 0 when it is not an IP literal.
socklen_t parse_address(std::string_view text, std::uint16_t port, sockaddr_storage& out) noexcept {
    char buffer[INET6_ADDRSTRLEN] = {};
    if (text.size() >= sizeof buffer) return 0;
    std::memcpy(buffer, text.data(), text.size());
    std::memset(&out, 0, sizeof out);
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
    if (inet_pton(AF_INET, buffer, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        return sizeof(sockaddr_in);
    }
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
    if (inet_pton(AF_INET6, buffer, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        return sizeof(sockaddr_in6);
    }
    return 0;
}

}  // namespace

int open_listener(const ListenOptions& options) noexcept {
    sockaddr_storage address;
    const socklen_t length = parse_address(options.address, options.port, address);
    if (length == 0) return -EINVAL;
    const int type = SOCK_STREAM | SOCK_CLOEXEC | (options.nonblocking ? SOCK_NONBLOCK : 0);
    const int fd = ::socket(address.ss_family, type, 0);
    if (fd < 0) return -errno;
    const int one = 1;
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        (options.reuse_port && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) ||
        ::bind(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0 ||
        ::listen(fd, options.backlog) != 0) {
        const int error = errno;
        ::close(fd);
        return -error;
    }
    return fd;
}

int check_port_free(std::string_view text, std::uint16_t port) noexcept {
    sockaddr_storage address;
    const socklen_t length = parse_address(text, port, address);
    if (length == 0) return -EINVAL;
    const int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    const int one = 1;
    int result = 0;
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        ::bind(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0) {
        result = -errno;
    }
    ::close(fd);
    return result;
}

int bound_port(int fd) noexcept {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return -errno;
    if (address.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
    if (address.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
    return -EAFNOSUPPORT;
}

}  // namespace surge::net
