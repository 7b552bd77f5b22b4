// Test support: the blocking recv() and send() of the tests' own clients, made again when interrupted (EINTR).
// The tests set a receive timeout (SO_RCVTIMEO), under which the kernel does not restart an interrupted call, and
// a thread that once used io_uring can be interrupted so by the ring's teardown long after (task work the kernel
// queues to the ring's submitter): taken as an error, that looked like the server ending the connection.
#pragma once

#include <sys/socket.h>

#include <cerrno>
#include <cstddef>

namespace surge::test {

inline ssize_t recv_retrying(int fd, void* into, std::size_t size, int flags = 0) {
    ssize_t n;
    do n = ::recv(fd, into, size, flags);
    while (n < 0 && errno == EINTR);
    return n;
}

inline ssize_t send_retrying(int fd, const void* data, std::size_t size, int flags = MSG_NOSIGNAL) {
    ssize_t n;
    do n = ::send(fd, data, size, flags);
    while (n < 0 && errno == EINTR);
    return n;
}

}  // namespace surge::test
