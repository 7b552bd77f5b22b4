// Test support: a connected pair of non-blocking Unix stream sockets for the tests of code that writes to a
// descriptor (net/socket_io.hpp, the io_uring batch writer). Both ends close with the object; a test that needs
// one end gone earlier (to see the other end's end of stream, or a write to a closed peer) closes it itself.
#pragma once

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <utility>

namespace surge::test {

class SocketPair {
public:
    SocketPair() {
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
        ours_ = fds[0];
        theirs_ = fds[1];
    }
    SocketPair(SocketPair&& other) noexcept
        : ours_(std::exchange(other.ours_, -1)), theirs_(std::exchange(other.theirs_, -1)) {}
    SocketPair& operator=(SocketPair&&) = delete;
    ~SocketPair() {
        close_ours();
        close_theirs();
    }

    int ours() const { return ours_; }      // the end the code under test writes to
    int theirs() const { return theirs_; }  // the peer, which the test reads

    void close_ours() {
        if (ours_ >= 0) ::close(ours_);
        ours_ = -1;
    }
    void close_theirs() {
        if (theirs_ >= 0) ::close(theirs_);
        theirs_ = -1;
    }

    // Everything the peer can read now, without waiting.
    std::string drain() const {
        std::string out;
        char buffer[65536];
        for (;;) {
            const ssize_t n = ::recv(theirs_, buffer, sizeof buffer, MSG_DONTWAIT);
            if (n <= 0) return out;
            out.append(buffer, static_cast<std::size_t>(n));
        }
    }

private:
    int ours_ = -1;
    int theirs_ = -1;
};

}  // namespace surge::test
