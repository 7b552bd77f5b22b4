#include "surge/net/epoll_reactor.hpp"

#include <cerrno>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>

#include "surge/core/clock.hpp"
#include "surge/core/log.hpp"
#include "surge/net/socket_io.hpp"

namespace surge::net {
namespace {

// epoll_wait() without glibc's cancellation-point wrapper (see recv_direct() in socket_io.hpp), as epoll_pwait
// with no signal mask: the one every architecture has.
int epoll_wait_direct(int epoll_fd, epoll_event* events, int max_events, int timeout_ms) noexcept {
    return static_cast<int>(::syscall(SYS_epoll_pwait, epoll_fd, events, max_events, timeout_ms, nullptr, 0));
}

// epoll data for the wake-up eventfd and listeners; connection tokens are the caller's and never have the top
// two bits set (a shard's tokens are slot + generation < 2^62).
constexpr std::uint64_t kWakeTag = 1ULL << 63;
constexpr std::uint64_t kListenerTag = 1ULL << 62;
constexpr int kMaxEvents = 256;
constexpr long long kAcceptPauseMs = 100;

}  // namespace

std::unique_ptr<EpollReactor> EpollReactor::create(ReactorHandler& handler, int& error) {
    const int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd < 0) {
        error = -errno;
        return nullptr;
    }
    const int wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd < 0) {
        error = -errno;
        ::close(epoll_fd);
        return nullptr;
    }
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = kWakeTag;
    if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &event) != 0) {
        error = -errno;
        ::close(wake_fd);
        ::close(epoll_fd);
        return nullptr;
    }
    error = 0;
    return std::unique_ptr<EpollReactor>(new EpollReactor(handler, epoll_fd, wake_fd));
}

EpollReactor::EpollReactor(ReactorHandler& handler, int epoll_fd, int wake_fd)
    : handler_(handler), epoll_fd_(epoll_fd), wake_fd_(wake_fd), read_buffer_(new char[kReadBufferBytes]) {}

EpollReactor::~EpollReactor() {
    ::close(wake_fd_);
    ::close(epoll_fd_);
}

int EpollReactor::add_listener(int fd, std::uint64_t token) noexcept {
    epoll_event event{};
    event.events = EPOLLIN;  // level-triggered: a backlog left behind (EMFILE) is seen again
    event.data.u64 = kListenerTag | listeners_.size();
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) return -errno;
    listeners_.push_back({fd, token, false, false});
    return 0;
}

void EpollReactor::close_listener(int fd) noexcept {
    for (Listener& listener : listeners_) {
        if (listener.fd == fd) listener.closed = true;  // never watched again: its number may be reused
    }
    ::close(fd);  // also removes it from the epoll set
}

int EpollReactor::add_connection(int fd, std::uint64_t token) noexcept {
    epoll_event event{};
    event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    event.data.u64 = token;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) return -errno;
    return 0;
}

int EpollReactor::connect(std::uint64_t token, int fd, const sockaddr* address, socklen_t length) noexcept {
    if (::connect(fd, address, length) == 0) {
        const int added = add_connection(fd, token);
        if (added != 0) return added;
        completions_.push_back({Completion::Connected, token, 0});
        return 0;
    }
    if (errno != EINPROGRESS) return -errno;
    // Watched as a connection from now on: the first edge (EPOLLOUT, or EPOLLERR with it) says how it went.
    const int added = add_connection(fd, token);
    if (added != 0) return added;
    connecting_.insert(token);
    return 0;
}

void EpollReactor::connect_done(std::uint64_t token) noexcept {
    const int fd = handler_.fd_of(token);
    if (fd < 0) return;
    int error = 0;
    socklen_t length = sizeof error;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
    handler_.on_connected(token, -error);
}

long EpollReactor::try_write(int fd, const iovec* iov, int count) noexcept {
    return send_without_waiting(fd, iov, count);
}

void EpollReactor::send(std::uint64_t token, int fd, const iovec* iov, int count) noexcept {
    const long n = try_write(fd, iov, std::min(count, kMaxSendIovecs));
    if (n == 0) {
        waiting_.insert(token);  // no room: the next EPOLLOUT edge completes it
        return;
    }
    completions_.push_back({Completion::Sent, token, static_cast<int>(n)});
}

void EpollReactor::writable(std::uint64_t token) noexcept {
    // Nothing was written; the caller still holds the bytes and sends them again now that there is room.
    if (waiting_.erase(token) != 0) completions_.push_back({Completion::Sent, token, 0});
}

void EpollReactor::close(std::uint64_t token, int fd) noexcept {
    waiting_.erase(token);  // a waiting send is abandoned: its completion is not reported
    connecting_.erase(token);
    ::close(fd);            // also removes it from the epoll set
    completions_.push_back({Completion::Closed, token, 0});
}

void EpollReactor::accept_all(Listener& listener) noexcept {
    for (;;) {
        const int fd = ::accept4(listener.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            handler_.on_accept(listener.token, fd);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            // Out of descriptors or memory: stop watching this listener for a while instead of spinning on a
            // backlog we cannot take. Connections wait in the kernel's queue meanwhile.
            // Said once a second at most.
            const long long now = monotonic_ms();
            if (now - last_accept_warning_ms_ >= 1000) {
                last_accept_warning_ms_ = now;
                SURGE_LOG_WARN("accept: %s; pausing accepts for %lld ms (raise the descriptor limit or run more "
                               "--workers)", errno == EMFILE ? "EMFILE, the process's descriptor limit is reached"
                                                             : "out of resources", kAcceptPauseMs);
            }
            epoll_event event{};
            event.data.u64 = kListenerTag | static_cast<std::uint64_t>(&listener - listeners_.data());
            ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listener.fd, &event);
            listener.paused = true;
            pause_until_ms_ = monotonic_ms() + kAcceptPauseMs;
        }
        return;  // EAGAIN: drained
    }
}

void EpollReactor::resume_paused_listeners() noexcept {
    if (pause_until_ms_ == 0 || monotonic_ms() < pause_until_ms_) return;
    pause_until_ms_ = 0;
    for (std::size_t i = 0; i < listeners_.size(); ++i) {
        if (!listeners_[i].paused || listeners_[i].closed) continue;
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.u64 = kListenerTag | i;
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listeners_[i].fd, &event);
        listeners_[i].paused = false;
    }
}

void EpollReactor::read_all(std::uint64_t token, bool peer_closed) noexcept {
    // Edge-triggered: read until the socket is empty, or the handler closed the connection. A short read means
    // empty, except when the peer's FIN came with this edge: then read on to see the end of the stream.
    for (;;) {
        const int fd = handler_.fd_of(token);
        if (fd < 0) return;  // closed while handling an earlier event of this batch
        const ssize_t n = recv_direct(fd, read_buffer_.get(), kReadBufferBytes, 0);
        if (n > 0) {
            if (!handler_.on_data(token, {read_buffer_.get(), static_cast<std::size_t>(n)})) return;
            if (!peer_closed && static_cast<std::size_t>(n) < kReadBufferBytes) return;
            continue;
        }
        if (n == 0) {
            handler_.on_recv_end(token, 0);
            return;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) handler_.on_recv_end(token, -errno);
        return;
    }
}

void EpollReactor::deliver_completions() noexcept {
    // A completion may queue more (a send finished, the handler sends the next batch): take them in rounds.
    // The two vectors trade places, so both keep their capacity and a steady loop allocates nothing.
    while (!completions_.empty()) {
        delivering_.swap(completions_);
        for (const Completion& c : delivering_) {
            if (c.kind == Completion::Sent) handler_.on_sent(c.token, c.result);
            else if (c.kind == Completion::Connected) handler_.on_connected(c.token, c.result);
            else handler_.on_closed(c.token);
        }
        delivering_.clear();
    }
}

int EpollReactor::wait(epoll_event* events, int timeout_ms) noexcept {
    if (wait_batch_ <= 1 || !busy_ || timeout_ms == 0) {
        return epoll_wait_direct(epoll_fd_, events, kMaxEvents, timeout_ms);
    }
    // epoll has no wait for a batch: under load (the last turn had events), what is ready is taken without
    // sleeping, and when that is less than a batch the thread sleeps wait_batch_us first and takes what came
    // meanwhile: one timer wake-up per turn instead of one wake-up per event. Nothing ready even then: the thread
    // is idle and waits as usual.
    const int ready = epoll_wait_direct(epoll_fd_, events, kMaxEvents, 0);
    if (ready < 0 || ready >= std::min(wait_batch_, kMaxEvents)) return ready;
    const long long delay_us =
        timeout_ms < 0 ? wait_batch_us_ : std::min<long long>(wait_batch_us_, timeout_ms * 1000LL);
    const timespec delay{static_cast<time_t>(delay_us / 1000000), static_cast<long>(delay_us % 1000000) * 1000};
    ::clock_nanosleep(CLOCK_MONOTONIC, 0, &delay, nullptr);
    const int more = epoll_wait_direct(epoll_fd_, events + ready, kMaxEvents - ready, 0);
    if (more < 0) return ready > 0 ? ready : more;
    if (ready + more > 0) return ready + more;
    return epoll_wait_direct(epoll_fd_, events, kMaxEvents, timeout_ms);
}

int EpollReactor::run_once(int timeout_ms) noexcept {
    resume_paused_listeners();
    if (!completions_.empty()) timeout_ms = 0;
    if (pause_until_ms_ != 0 && (timeout_ms < 0 || timeout_ms > kAcceptPauseMs)) timeout_ms = kAcceptPauseMs;
    epoll_event events[kMaxEvents];
    const int n = wait(events, timeout_ms);
    busy_ = n > 0;
    if (n < 0) {
        if (errno != EINTR) return -errno;
        deliver_completions();
        return 0;
    }
    for (int i = 0; i < n; ++i) {
        const std::uint64_t data = events[i].data.u64;
        const std::uint32_t flags = events[i].events;
        if (data == kWakeTag) {
            // One read takes the whole count and zeroes it (no EFD_SEMAPHORE). A second read, to see EAGAIN, made
            // a wake-up cost 1.11-1.12x a bare epoll_wait() and read() here instead of 1.02-1.03x (bench/wake-cost,
            // about 1.3 us). A wake() that lands after this read leaves the descriptor readable, and this
            // level-triggered entry comes back at the next wait.
            std::uint64_t count;
            const ssize_t ignored = ::read(wake_fd_, &count, sizeof count);
            (void)ignored;
            handler_.on_wake();
        } else if (data & kListenerTag) {
            Listener& listener = listeners_[data & ~kListenerTag];
            if (!listener.closed) accept_all(listener);
        } else if (!connecting_.empty() && connecting_.erase(data) != 0) {
            // The connect's first edge: connected, or failed. Bytes that came with it are read by the next
            // edge or by this one's EPOLLIN once connected.
            connect_done(data);
            if ((flags & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) && !(flags & EPOLLERR)) {
                read_all(data, (flags & (EPOLLRDHUP | EPOLLHUP)) != 0);
            }
        } else {
            if (flags & EPOLLOUT) writable(data);
            if (flags & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                read_all(data, (flags & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
            }
        }
    }
    deliver_completions();
    return n;
}

void EpollReactor::wake() noexcept { signal_eventfd(wake_fd_); }

}  // namespace surge::net
