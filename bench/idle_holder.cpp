// idle_holder: opens N WebSocket connections to a server, completes each handshake, then holds them idle for a
// number of seconds and exits. The client half of bench/idle-memory.sh (surge-stress will supersede it).
// Connections are spread over source addresses 127.0.0.2.. so that no single source runs out of ports.
// Usage: idle_holder PORT COUNT HOLD_SECONDS
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr std::size_t kPerSource = 20000;

int open_upgraded(std::uint16_t port, std::size_t index) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    const int one = 1;
    ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    from.sin_addr.s_addr = htonl(0x7F000002 + static_cast<std::uint32_t>(index / kPerSource));
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
        ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
        ::close(fd);
        return -1;
    }
    static const std::string request =
        "GET /idle HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
        ::close(fd);
        return -1;
    }
    std::string response;
    char buffer[512];
    while (response.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) {
            ::close(fd);
            return -1;
        }
        response.append(buffer, static_cast<std::size_t>(n));
    }
    if (response.rfind("HTTP/1.1 101", 0) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: idle_holder PORT COUNT HOLD_SECONDS\n");
        return 2;
    }
    const auto port = static_cast<std::uint16_t>(std::atoi(argv[1]));
    const auto count = static_cast<std::size_t>(std::atoll(argv[2]));
    const int hold = std::atoi(argv[3]);
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);

    std::vector<int> fds;
    fds.reserve(count);
    std::size_t failed = 0;
    for (std::size_t i = 0; i < count; ++i) {
        const int fd = open_upgraded(port, i);
        if (fd >= 0) fds.push_back(fd);
        else ++failed;
    }
    std::printf("held %zu failed %zu\n", fds.size(), failed);
    std::fflush(stdout);
    ::sleep(static_cast<unsigned>(hold));
    for (int fd : fds) ::close(fd);
    return failed == 0 ? 0 : 1;
}
