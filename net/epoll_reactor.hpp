// The epoll backend of the reactor seam. Layer: net.
// Edge-triggered: a connection is registered once for input and output, so there is no epoll_ctl per send.
// Reads go into one buffer per shard (no per-connection read buffer). A send the socket refuses outright is
// remembered by its token alone, in a set that holds only connections waiting for room; the next EPOLLOUT edge
// completes it with 0 bytes written and the caller, which owns the queue, sends again. Completions (on_sent,
// on_closed) are queued and delivered after the events of the same run_once(), never inside the call that
// caused them.
// With set_wait_batch(), a run_once() after one that had events takes what is ready at once if that is a batch,
// and otherwise sleeps the batch's delay first (epoll cannot wait for a number of events): a timer wake-up per
// turn under load instead of a wake-up per event.
#pragma once

#include <sys/epoll.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <unordered_set>
#include <vector>

#include "surge/net/reactor.hpp"

namespace surge::net {

class EpollReactor final : public Reactor {
public:
    // Returns nullptr and sets `error` (-errno) when epoll or the wake-up eventfd cannot be made.
    static std::unique_ptr<EpollReactor> create(ReactorHandler& handler, int& error);
    ~EpollReactor() override;

    Backend backend() const noexcept override { return Backend::Epoll; }
    int add_listener(int fd, std::uint64_t token) noexcept override;
    void close_listener(int fd) noexcept override;
    int add_connection(int fd, std::uint64_t token) noexcept override;
    int connect(std::uint64_t token, int fd, const sockaddr* address, socklen_t length) noexcept override;
    long try_write(int fd, const iovec* iov, int count) noexcept override;
    void send(std::uint64_t token, int fd, const iovec* iov, int count) noexcept override;
    void close(std::uint64_t token, int fd) noexcept override;
    int run_once(int timeout_ms) noexcept override;
    void wake() noexcept override;
    void set_wait_batch(unsigned events, unsigned max_delay_us) noexcept override {
        wait_batch_ = events && max_delay_us ? static_cast<int>(events) : 1;  // no delay: no batch
        wait_batch_us_ = max_delay_us;
    }

private:
    EpollReactor(ReactorHandler& handler, int epoll_fd, int wake_fd);

    struct Listener {
        int fd;
        std::uint64_t token;
        bool paused;  // out of descriptors: not watched until the next run_once after pause_until_ms
        bool closed;
    };
    struct Completion {
        enum Kind : std::uint8_t { Sent, Closed, Connected } kind;
        std::uint64_t token;
        int result;
    };

    void accept_all(Listener& listener) noexcept;
    void read_all(std::uint64_t token, bool peer_closed) noexcept;
    void writable(std::uint64_t token) noexcept;
    void connect_done(std::uint64_t token) noexcept;
    void resume_paused_listeners() noexcept;
    void deliver_completions() noexcept;
    int wait(epoll_event* events, int timeout_ms) noexcept;

    ReactorHandler& handler_;
    int epoll_fd_;
    int wake_fd_;
    std::vector<Listener> listeners_;
    std::unordered_set<std::uint64_t> waiting_;  // sends refused for lack of room, until EPOLLOUT
    std::unordered_set<std::uint64_t> connecting_;  // connect() under way, until its first event
    std::vector<Completion> completions_;
    std::vector<Completion> delivering_;  // completions_ swapped out while they are delivered
    std::unique_ptr<char[]> read_buffer_;
    int wait_batch_ = 1;  // set_wait_batch()
    unsigned wait_batch_us_ = 0;
    bool busy_ = false;  // the last run_once() handled events: set_wait_batch() applies to the next wait
    long long pause_until_ms_ = 0;
    long long last_accept_warning_ms_ = 0;
};

}  // namespace surge::net
