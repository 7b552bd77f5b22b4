#include "surge/net/uring_probe.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "surge/net/provided_buffers.hpp"
#include "surge/net/uring_compat.hpp"

namespace surge::net {
namespace {

constexpr std::uint64_t kAcceptData = 1;
constexpr std::uint64_t kRecvData = 2;

std::string failed(const char* what, int error) {
    return std::string(what) + ": " + std::strerror(error < 0 ? -error : error);
}

// Waits up to a second for the next completion and copies it out.
int next_completion(io_uring& ring, io_uring_cqe& out) {
    __kernel_timespec timeout{1, 0};
    io_uring_cqe* cqe = nullptr;
    const int waited = io_uring_wait_cqe_timeout(&ring, &cqe, &timeout);
    if (waited != 0) return waited;
    out = *cqe;
    io_uring_cqe_seen(&ring, cqe);
    return 0;
}

// A listening Unix socket with a kernel-chosen abstract name, so that the probe needs no network and no files.
int unix_listener(sockaddr_un& address, socklen_t& length) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    sockaddr_un autobind{};
    autobind.sun_family = AF_UNIX;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&autobind), sizeof(sa_family_t)) != 0 || ::listen(fd, 4) != 0) {
        const int error = -errno;
        ::close(fd);
        return error;
    }
    length = sizeof address;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        const int error = -errno;
        ::close(fd);
        return error;
    }
    return fd;
}

std::string probe_sockets(io_uring& ring, ProvidedBuffers& buffers, int& listener, int& client, int& accepted) {
    sockaddr_un address{};
    socklen_t length = 0;
    listener = unix_listener(address, length);
    if (listener < 0) return failed("probe socket", listener);

    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    io_uring_prep_multishot_accept(sqe, listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, kAcceptData);
    io_uring_submit(&ring);
    client = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (client < 0 || ::connect(client, reinterpret_cast<sockaddr*>(&address), length) != 0) {
        return failed("probe connect", errno);
    }
    io_uring_cqe cqe{};
    int waited = next_completion(ring, cqe);
    if (waited != 0) return failed("multishot accept (kernel 5.19)", waited);
    if (cqe.res < 0) return failed("multishot accept (kernel 5.19)", cqe.res);
    accepted = cqe.res;
    if (!(cqe.flags & IORING_CQE_F_MORE)) return "multishot accept (kernel 5.19): ended after one connection";

    sqe = io_uring_get_sqe(&ring);
    io_uring_prep_recv_multishot(sqe, accepted, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = buffers.group();
    io_uring_sqe_set_data64(sqe, kRecvData);
    io_uring_submit(&ring);
    if (::write(client, "x", 1) != 1) return failed("probe write", errno);
    waited = next_completion(ring, cqe);
    if (waited != 0) return failed("multishot recv (kernel 6.0)", waited);
    if (cqe.user_data != kRecvData || cqe.res != 1 || !(cqe.flags & IORING_CQE_F_BUFFER)) {
        return failed("multishot recv with provided buffers (kernel 6.0)", cqe.res < 0 ? cqe.res : EPROTO);
    }
    if (!(cqe.flags & IORING_CQE_F_MORE)) return "multishot recv (kernel 6.0): ended after one completion";
    return {};
}

std::string run_probe() {
    io_uring ring{};
    const int made = io_uring_queue_init(8, &ring, 0);
    if (made != 0) return failed("io_uring_setup", made);

    std::string why;
    if (!(ring.features & IORING_FEAT_NODROP)) why = "completions may be dropped (no IORING_FEAT_NODROP, kernel 5.5)";
    if (why.empty()) {
        io_uring_probe* ops = io_uring_get_probe_ring(&ring);
        if (!ops) {
            why = "no opcode probe (kernel 5.6)";
        } else {
            for (const int op : {IORING_OP_ACCEPT, IORING_OP_RECV, IORING_OP_SENDMSG, IORING_OP_ASYNC_CANCEL,
                                 IORING_OP_CLOSE, IORING_OP_READ, IORING_OP_CONNECT}) {
                if (!io_uring_opcode_supported(ops, op)) why = "opcode " + std::to_string(op) + " missing";
            }
            io_uring_free_probe(ops);
        }
    }
    {
        ProvidedBuffers buffers;
        if (why.empty()) {
            const int registered = buffers.init(ring, 0, 64, 4, 4);
            if (registered != 0) why = failed("provided-buffer ring (kernel 5.19)", registered);
        }
        int listener = -1, client = -1, accepted = -1;
        if (why.empty()) why = probe_sockets(ring, buffers, listener, client, accepted);
        for (const int fd : {accepted, client, listener}) {
            if (fd >= 0) ::close(fd);
        }
        io_uring_queue_exit(&ring);  // cancels what is still armed before the buffers are unmapped
    }
    return why;
}

}  // namespace

const std::string& uring_unsupported_reason() {
    static const std::string reason = run_probe();
    return reason;
}

}  // namespace surge::net
