// Small socket calls that the reactor backends, the server and the client make the same way. Layer: net.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <cstdint>

namespace surge::net {

// glibc's send(), sendmsg() and recv() (and epoll_wait()) are cancellation points: in a process of more than one
// thread, as every server is, each call turns asynchronous cancellation on before the system call and off after
// (__pthread_enable_asynccancel and _disable_: 0.8% of an echo server's samples at half load on epoll, where a
// single-threaded peer pays nothing). surge never cancels a thread, so its per-message calls go to the kernel
// directly; the result and errno are those of the libc call.
inline ssize_t send_direct(int fd, const void* data, std::size_t size, int flags) noexcept {
    return ::syscall(SYS_sendto, fd, data, size, flags, nullptr, 0);
}
inline ssize_t sendmsg_direct(int fd, const msghdr* message, int flags) noexcept {
    return ::syscall(SYS_sendmsg, fd, message, flags);
}
inline ssize_t recv_direct(int fd, void* into, std::size_t size, int flags) noexcept {
    return ::syscall(SYS_recvfrom, fd, into, size, flags, nullptr, nullptr);
}

// Pieces adding up to at most this many bytes are copied together and sent with send() (see below).
inline constexpr std::size_t kCoalesceBytes = 512;

// One non-blocking send: the bytes written (0 when the socket is full) or -errno. Never raises SIGPIPE.
// A single piece (a broadcast frame, most of the time) goes through send(), which skips sendmsg's copy of the
// message header and iovec array from user memory. In perf of a 10,000-subscriber loopback fan-out, sendmsg's
// entry path was 4.8% of the server's samples and send()'s is 2.8%. So do several small pieces (a frame header
// and a short payload: an echo, a reply), copied into one buffer first, which costs less than the import.
inline long send_without_waiting(int fd, const iovec* iov, int count) noexcept {
    ssize_t n;
    std::size_t total = 0;  // of several pieces, counted only as far as kCoalesceBytes
    for (int i = 0; count > 1 && i < count && total <= kCoalesceBytes; ++i) total += iov[i].iov_len;
    if (count == 1) {
        n = send_direct(fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL | MSG_DONTWAIT);
    } else if (total <= kCoalesceBytes) {
        char joined[kCoalesceBytes];
        std::size_t at = 0;
        for (int i = 0; i < count; ++i) {
            if (iov[i].iov_len == 0) continue;  // an empty payload's base may be null, which memcpy may not take
            std::memcpy(joined + at, iov[i].iov_base, iov[i].iov_len);
            at += iov[i].iov_len;
        }
        n = send_direct(fd, joined, at, MSG_NOSIGNAL | MSG_DONTWAIT);
    } else {
        msghdr message{};
        message.msg_iov = const_cast<iovec*>(iov);
        message.msg_iovlen = static_cast<std::size_t>(count);
        n = sendmsg_direct(fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    if (n >= 0) return n;
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
}

// Small messages leave at once instead of waiting for more to fill a segment (a push server's traffic).
inline void set_no_delay(int fd) noexcept {
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// A socket of `family` (AF_INET or AF_INET6) for an outgoing TCP connection (non-blocking, close-on-exec, no
// delay), bound to `source` (IPv4 only) when it is not null. The descriptor, or -errno.
inline int open_client_socket(int family, const sockaddr_in* source) noexcept {
    if (source && family != AF_INET) return -EAFNOSUPPORT;
    const int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    set_no_delay(fd);
    if (source) {
        // Without this, bind() picks a port for the source address alone, and 64k ports cap every address at
        // 64k connections across all destinations; with it the port is chosen at connect() per 4-tuple.
        const int one = 1;
        ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (::bind(fd, reinterpret_cast<const sockaddr*>(source), sizeof *source) != 0) {
            const int error = errno;
            ::close(fd);
            return -error;
        }
    }
    return fd;
}

// The next close of `fd` resets the connection (RST, no TIME_WAIT on either side) instead of ending it cleanly.
inline void reset_on_close(int fd) noexcept {
    const linger rst{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof rst);
}

// No more bytes will be written (FIN); reading goes on until the peer's end of stream.
inline void shutdown_write(int fd) noexcept { ::shutdown(fd, SHUT_WR); }

// Bumps an eventfd so that the loop waiting on it wakes; safe from any thread.
inline void signal_eventfd(int fd) noexcept {
    const std::uint64_t one = 1;
    const ssize_t ignored = ::write(fd, &one, sizeof one);
    (void)ignored;  // full (2^64 - 2 pending) or closed: a wake-up is pending or moot either way
}

}  // namespace surge::net
