#include "tools/push/worker_mesh.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "surge/core/log.hpp"
#include "surge/ws/server.hpp"

namespace surge::push {
namespace {

// A datagram: the opcode, the topic's length (2 bytes, little end first), the topic, then the message.
constexpr std::size_t kDatagramHeader = 3;

socklen_t address_of(pid_t group, unsigned worker, sockaddr_un& address) {
    std::memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    // Abstract namespace (leading NUL): nothing on disk to clean up, gone with the last socket.
    const int n = std::snprintf(address.sun_path + 1, sizeof address.sun_path - 1, "surge-push/%d/%u",
                                static_cast<int>(group), worker);
    return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + static_cast<std::size_t>(n));
}

}  // namespace

WorkerMesh::WorkerMesh(unsigned self, unsigned workers, pid_t group, std::size_t max_message)
    : self_(self), workers_(workers), group_(group), max_datagram_(kDatagramHeader + kMaxTopicBytes + max_message) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    // Room for bursts: the default queue holds few datagrams.
    const int buffer = 4 * 1024 * 1024;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
    sockaddr_un address;
    const socklen_t length = address_of(group_, self_, address);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0) {
        SURGE_LOG_ERROR("worker %u: cannot bind its publish socket: %s", self_, std::strerror(errno));
        ::close(fd_);
        fd_ = -1;
    }
}

WorkerMesh::~WorkerMesh() {
    stopping_.store(true, std::memory_order_release);
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);  // wakes the receiving thread
    if (receiver_.joinable()) receiver_.join();
    if (fd_ >= 0) ::close(fd_);
}

void WorkerMesh::start(Deliver deliver) {
    receiver_ = std::thread([this, deliver = std::move(deliver)] { receive_loop(deliver); });
}

unsigned WorkerMesh::forward(std::string_view topic, std::string_view message, Opcode opcode) noexcept {
    if (fd_ < 0 || workers_ < 2) return 0;
    const unsigned char header[kDatagramHeader] = {static_cast<unsigned char>(opcode),
                                                   static_cast<unsigned char>(topic.size() & 0xFF),
                                                   static_cast<unsigned char>(topic.size() >> 8)};
    iovec iov[3] = {{const_cast<unsigned char*>(header), kDatagramHeader},
                    {const_cast<char*>(topic.data()), topic.size()},
                    {const_cast<char*>(message.data()), message.size()}};
    unsigned reached = 0;
    for (unsigned worker = 0; worker < workers_; ++worker) {
        if (worker == self_) continue;
        sockaddr_un address;
        msghdr m{};
        m.msg_name = &address;
        m.msg_namelen = address_of(group_, worker, address);
        m.msg_iov = iov;
        m.msg_iovlen = 3;
        if (::sendmsg(fd_, &m, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) ++reached;
    }
    return reached;
}

void WorkerMesh::receive_loop(const Deliver& deliver) {
    std::vector<char> datagram(max_datagram_);
    while (!stopping_.load(std::memory_order_acquire)) {
        const ssize_t n = ::recv(fd_, datagram.data(), datagram.size(), 0);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            return;  // shut down
        }
        const auto size = static_cast<std::size_t>(n);
        if (size < kDatagramHeader) continue;
        const std::size_t topic_size = static_cast<unsigned char>(datagram[1]) |
                                       (static_cast<std::size_t>(static_cast<unsigned char>(datagram[2])) << 8);
        if (kDatagramHeader + topic_size > size) continue;
        deliver({datagram.data() + kDatagramHeader, topic_size},
                {datagram.data() + kDatagramHeader + topic_size, size - kDatagramHeader - topic_size},
                static_cast<Opcode>(datagram[0]));
    }
}

}  // namespace surge::push
