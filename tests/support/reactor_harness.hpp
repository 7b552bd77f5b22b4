// Test support for driving a net::Reactor directly (tests/unit/reactor_test.cpp, bench/close_storm.cpp): TCP
// connections over loopback, both ends in this process, and a handler with a slot per token that counts what the
// reactor reports; and the backends every test runs on. No doctest here (the benchmark uses it too): failures are
// returned, not asserted.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "surge/net/reactor.hpp"

namespace surge::test {

// The backends every integration test runs on. Asking for io_uring by name fails rather than falling back, so a
// machine without it fails these tests instead of passing them on epoll twice.
inline std::vector<net::Backend> test_backends() { return {net::Backend::IoUring, net::Backend::Epoll}; }

// `count` TCP connections over loopback: the accepted ends (`ours`, non-blocking, to give a reactor) and the
// connecting ends (`peers`, blocking, closed with the object). With `small_buffers`, both ends' buffers are small
// and fixed (no autotuning), so that a peer that reads nothing leaves a send waiting for room for as long as the
// caller likes. `error` is 0, or the errno of the first call that failed (then fewer pairs are there).
struct LoopbackPairs {
    std::vector<int> ours, peers;
    int error = 0;

    explicit LoopbackPairs(std::size_t count, bool small_buffers = false) {
        const int small = 4096;
        const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof address;
        if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
            ::listen(listener, 1024) != 0 ||
            ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
            error = errno;
            if (listener >= 0) ::close(listener);
            return;
        }
        for (std::size_t i = 0; i < count && error == 0; ++i) {
            const int peer = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (peer < 0) {
                error = errno;
                break;
            }
            peers.push_back(peer);
            if ((small_buffers && ::setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof small) != 0) ||
                ::connect(peer, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
                error = errno;
                break;
            }
            const int accepted = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (accepted < 0) {
                error = errno;
                break;
            }
            ours.push_back(accepted);
            if (small_buffers && ::setsockopt(accepted, SOL_SOCKET, SO_SNDBUF, &small, sizeof small) != 0) {
                error = errno;
            }
        }
        ::close(listener);
    }
    ~LoopbackPairs() {
        for (const int fd : peers) ::close(fd);
    }
    LoopbackPairs(const LoopbackPairs&) = delete;
    LoopbackPairs& operator=(const LoopbackPairs&) = delete;
};

// A handler with a slot per token (0 .. slots - 1): the descriptor and the reactor's byte of state live there, as in
// a real handler, and what the reactor reports is counted.
class SlotHandler : public net::ReactorHandler {
public:
    explicit SlotHandler(std::size_t slots) : fds_(slots, -1), states_(slots, 0), received_(slots, 0) {}
    void hold(std::uint64_t token, int fd) {
        fds_[token] = fd;
        states_[token] = 0;
    }
    void forget(std::uint64_t token) { fds_[token] = -1; }
    std::size_t received(std::uint64_t token) const { return received_[token]; }
    std::size_t received_total() const { return received_total_; }
    int closed = 0, sent = 0, ended = 0;

    void on_accept(std::uint64_t, int fd) override { ::close(fd); }
    bool on_data(std::uint64_t token, std::span<char> bytes) override {
        received_[token] += bytes.size();
        received_total_ += bytes.size();
        return true;
    }
    void on_recv_end(std::uint64_t, int) override { ++ended; }
    void on_sent(std::uint64_t, int) override { ++sent; }
    void on_closed(std::uint64_t) override { ++closed; }
    void on_wake() override {}
    int fd_of(std::uint64_t token) const noexcept override { return token < fds_.size() ? fds_[token] : -1; }
    std::uint8_t* io_state(std::uint64_t token) noexcept override {
        return token < states_.size() ? &states_[token] : nullptr;
    }

private:
    std::vector<int> fds_;
    std::vector<std::uint8_t> states_;
    std::vector<std::size_t> received_;
    std::size_t received_total_ = 0;
};

}  // namespace surge::test
