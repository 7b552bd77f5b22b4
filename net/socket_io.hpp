// Small socket calls both reactor backends make the same way. Layer: net.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace surge::net {

// One non-blocking send: the bytes written (0 when the socket is full) or -errno. Never raises SIGPIPE.
// A single piece (a broadcast frame, most of the time) goes through send(), which skips sendmsg's copy of the
// message header and iovec array from user memory. In perf of a 10,000-subscriber loopback fan-out, sendmsg's
// entry path was 4.8% of the server's samples and send()'s is 2.8%.
inline long send_without_waiting(int fd, const iovec* iov, int count) noexcept {
    ssize_t n;
    if (count == 1) {
        n = ::send(fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL | MSG_DONTWAIT);
    } else {
        msghdr message{};
        message.msg_iov = const_cast<iovec*>(iov);
        message.msg_iovlen = static_cast<std::size_t>(count);
        n = ::sendmsg(fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    if (n >= 0) return n;
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
}

// Bumps an eventfd so that the loop waiting on it wakes; safe from any thread.
inline void signal_eventfd(int fd) noexcept {
    const std::uint64_t one = 1;
    const ssize_t ignored = ::write(fd, &one, sizeof one);
    (void)ignored;  // full (2^64 - 2 pending) or closed: a wake-up is pending or moot either way
}

}  // namespace surge::net
