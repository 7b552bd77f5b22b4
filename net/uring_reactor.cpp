#include "surge/net/uring_reactor.hpp"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "surge/core/clock.hpp"
#include "surge/core/log.hpp"
#include "surge/net/socket_io.hpp"

namespace surge::net {
namespace {

// user_data layout. Connection tokens are below 2^62 (the seam's promise), so a recv carries the token as it
// is and the top two bits name every other kind of operation.
constexpr std::uint64_t kKindShift = 62;
constexpr std::uint64_t kRecvKind = 0;
constexpr std::uint64_t kSendKind = 1;
constexpr std::uint64_t kAcceptKind = 2;
constexpr std::uint64_t kOtherKind = 3;
constexpr std::uint64_t kPayloadMask = (1ULL << kKindShift) - 1;
constexpr std::uint64_t kWakeData = (kOtherKind << kKindShift) | 1;
constexpr std::uint64_t kIgnoredData = (kOtherKind << kKindShift) | 2;  // a cancel: nothing to report
// A connect: kOtherKind with bit 61 set and the token (below 2^61 for a client: id + generation) in the rest.
constexpr std::uint64_t kConnectTag = (kOtherKind << kKindShift) | (1ULL << 61);
constexpr std::uint64_t kConnectTokenMask = (1ULL << 61) - 1;
// A send's retry timer (on_send_done()): kOtherKind with bit 60 set (bit 61 clear) and the send's key below.
constexpr std::uint64_t kSendRetryTag = (kOtherKind << kKindShift) | (1ULL << 60);
// A send (and its retry timer) is named by its op's index in the low 32 bits and the op's use count in the next
// 28, so that a cancel meant for one use of an op, still queued when that use ends and the op is taken again in
// the same loop turn, cannot find the next use.
constexpr std::uint64_t kSendUseShift = 32;
constexpr std::uint64_t kSendUseMask = (1ULL << 28) - 1;
constexpr std::uint64_t kSendIndexMask = (1ULL << kSendUseShift) - 1;

// io_state() bits.
constexpr std::uint8_t kRecvArmed = 1;
constexpr std::uint8_t kSendBusy = 2;
constexpr std::uint8_t kClosing = 4;
constexpr std::uint8_t kCloseDue = 8;  // on_closed() is queued
constexpr std::uint8_t kConnectBusy = 16;
constexpr std::uint8_t kInFlight = kRecvArmed | kSendBusy | kConnectBusy;

constexpr unsigned kSqEntries = 512;
constexpr unsigned kCqEntries = 4096;  // a run_once() takes up to this many; a burst past it waits in the kernel (FEAT_NODROP)
// The rings are mapped into the process and count in its RSS once touched (16 B per CQE, 64 B per SQE), so they
// are sized for one run_once(), not for the connection count.
constexpr std::uint16_t kBufferGroup = 0;
// 32 KiB buffers: a small message touches one page of one, bulk data arrives 32 KiB per completion.
constexpr std::uint32_t kBufferBytes = 32 * 1024;
constexpr std::uint32_t kInitialBuffers = 16;
constexpr std::uint32_t kMaxBuffers = 128;
constexpr long long kAcceptPauseMs = 100;
constexpr int kMaxCompletionsPerRun = 4096;  // then timers get their turn

std::uint64_t pack(std::uint64_t kind, std::uint64_t payload) { return (kind << kKindShift) | payload; }

bool out_of_descriptors(int error) {
    return error == -EMFILE || error == -ENFILE || error == -ENOBUFS || error == -ENOMEM;
}

}  // namespace

std::unique_ptr<UringReactor> UringReactor::create(ReactorHandler& handler, int& error, std::string& why) {
    std::unique_ptr<UringReactor> reactor(new UringReactor(handler));
    // The strongest setup first, then without what older kernels lack (-EINVAL names an unknown flag).
    struct Attempt {
        unsigned flags;
        const char* name;
    };
    const Attempt attempts[] = {
        {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED, "single issuer, deferred task run"},
        {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_R_DISABLED, "single issuer"},
        {0, "no single issuer"},
    };
    int made = -EINVAL;
    for (const Attempt& attempt : attempts) {
        io_uring_params params{};
        params.flags = attempt.flags | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
        params.cq_entries = kCqEntries;
        made = io_uring_queue_init_params(kSqEntries, &reactor->ring_, &params);
        if (made == 0) {
            reactor->disabled_ = (attempt.flags & IORING_SETUP_R_DISABLED) != 0;
            reactor->batch_wait_ = (params.features & IORING_FEAT_MIN_TIMEOUT) != 0;
            why = attempt.name;
            break;
        }
        if (made != -EINVAL) break;
    }
    if (made != 0) {
        error = made;
        why = std::string("io_uring_setup: ") + std::strerror(-made);
        return nullptr;
    }
    reactor->ring_made_ = true;
    const int registered =
        reactor->buffers_.init(reactor->ring_, kBufferGroup, kBufferBytes, kInitialBuffers, kMaxBuffers);
    if (registered != 0) {
        error = registered;
        why = std::string("provided-buffer ring: ") + std::strerror(-registered);
        return nullptr;
    }
    reactor->wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (reactor->wake_fd_ < 0) {
        error = -errno;
        why = std::string("eventfd: ") + std::strerror(errno);
        return nullptr;
    }
    reactor->arm_wake();
    error = 0;
    return reactor;
}

UringReactor::UringReactor(ReactorHandler& handler) : handler_(handler) {}

UringReactor::~UringReactor() {
    if (ring_made_) io_uring_queue_exit(&ring_);  // cancels whatever is still armed; then buffers_ unmaps
    if (wake_fd_ >= 0) ::close(wake_fd_);
}

io_uring_sqe* UringReactor::next_sqe() noexcept {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    while (!sqe) {
        // The submission queue is full: hand it to the kernel now. Before the ring is enabled there is nothing
        // to submit to; kSqEntries is far above what set-up queues.
        if (io_uring_submit(&ring_) < 0 && disabled_) return nullptr;
        sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
}

int UringReactor::add_listener(int fd, std::uint64_t token) noexcept {
    listeners_.push_back({fd, token, false, false, 0});
    arm_accept(static_cast<std::uint32_t>(listeners_.size() - 1));
    return 0;
}

void UringReactor::arm_accept(std::uint32_t index) noexcept {
    Listener& listener = listeners_[index];
    io_uring_sqe* sqe = next_sqe();
    if (!sqe) return;
    io_uring_prep_multishot_accept(sqe, listener.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, pack(kAcceptKind, index));
    listener.armed = true;
}

void UringReactor::close_listener(int fd) noexcept {
    for (Listener& listener : listeners_) {
        if (listener.fd != fd || listener.closed) continue;
        listener.closed = true;
        if (listener.armed) cancel(pack(kAcceptKind, static_cast<std::uint32_t>(&listener - listeners_.data())));
        ::close(fd);  // the armed accept holds the socket until the cancel ends it; what it accepts then is closed
        return;
    }
    ::close(fd);
}

int UringReactor::add_connection(int fd, std::uint64_t token) noexcept {
    std::uint8_t* state = handler_.io_state(token);
    if (!state) return -EINVAL;
    return arm_recv(token, fd, *state) ? 0 : -EBUSY;
}

int UringReactor::connect(std::uint64_t token, int fd, const sockaddr* address, socklen_t length) noexcept {
    std::uint8_t* state = handler_.io_state(token);
    if (!state || token > kConnectTokenMask) return -EINVAL;
    io_uring_sqe* sqe = next_sqe();
    if (!sqe) return -EBUSY;
    io_uring_prep_connect(sqe, fd, address, length);
    io_uring_sqe_set_data64(sqe, kConnectTag | token);
    *state |= kConnectBusy;
    return 0;
}

void UringReactor::on_connect_done(std::uint64_t token, int result) noexcept {
    std::uint8_t* state = handler_.io_state(token);
    if (!state) return;
    *state &= static_cast<std::uint8_t>(~kConnectBusy);
    if (*state & kClosing) {  // closed while connecting: no report
        finish_if_idle(token, *state);
        return;
    }
    if (result == 0) {
        const int fd = handler_.fd_of(token);
        if (fd >= 0) arm_recv(token, fd, *state);
    }
    handler_.on_connected(token, result);
}

bool UringReactor::arm_recv(std::uint64_t token, int fd, std::uint8_t& state) noexcept {
    io_uring_sqe* sqe = next_sqe();
    if (!sqe) return false;  // the submission queue is full before the ring is enabled
    io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = buffers_.group();
    io_uring_sqe_set_data64(sqe, pack(kRecvKind, token));
    state |= kRecvArmed;
    return true;
}

void UringReactor::arm_wake() noexcept {
    io_uring_sqe* sqe = next_sqe();
    if (!sqe) return;
    io_uring_prep_read(sqe, wake_fd_, &wake_value_, sizeof wake_value_, 0);
    io_uring_sqe_set_data64(sqe, kWakeData);
}

long UringReactor::try_write(int fd, const iovec* iov, int count) noexcept {
    return send_without_waiting(fd, iov, count);
}

void UringReactor::send(std::uint64_t token, int fd, const iovec* iov, int count) noexcept {
    std::uint8_t* state = handler_.io_state(token);
    if (!state) return;
    std::uint32_t index;
    if (free_send_ops_.empty()) {
        index = static_cast<std::uint32_t>(send_ops_.size());
        send_ops_.push_back(std::make_unique<SendOp>());
    } else {
        index = free_send_ops_.back();
        free_send_ops_.pop_back();
    }
    SendOp& op = *send_ops_[index];
    // Only the first kMaxUringIovecs go out in this send; its completion reports what was written and the
    // caller sends the rest, as after any short write.
    const int taken = std::min(count, kMaxUringIovecs);
    std::copy(iov, iov + taken, op.iov);
    op.message = msghdr{};
    op.message.msg_iov = op.iov;
    op.message.msg_iovlen = static_cast<std::size_t>(taken);
    op.token = token;
    ++op.uses;
    submit_send(index, fd);
    sends_by_token_[token] = index;
    *state |= kSendBusy;
}

std::uint64_t UringReactor::send_key(std::uint32_t index) const noexcept {
    return ((send_ops_[index]->uses & kSendUseMask) << kSendUseShift) | index;
}

void UringReactor::submit_send(std::uint32_t index, int fd) noexcept {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_sendmsg(sqe, fd, &send_ops_[index]->message, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, pack(kSendKind, send_key(index)));
}

void UringReactor::cancel(std::uint64_t user_data) noexcept {
    io_uring_sqe* sqe = next_sqe();
    if (!sqe) return;
    io_uring_prep_cancel64(sqe, user_data, 0);
    io_uring_sqe_set_data64(sqe, kIgnoredData);
}

void UringReactor::stop_in_flight(std::uint64_t token, int fd, std::uint8_t state) noexcept {
    if (state & kRecvArmed) {
        // Shutting the read side ends the multishot receive by itself, in constant time and with nothing on the
        // wire: the socket wakes its waiters, the receive runs again and reads the end of the stream (0). A cancel
        // by user_data would walk a bucket of the ring's cancel table (a 128th of the shard's connections).
        if (::shutdown(fd, SHUT_RD) != 0) cancel(pack(kRecvKind, token));
    }
    if (state & kSendBusy) {  // the wake-up above usually ends a waiting send too (-EAGAIN); this makes sure
        const auto send = sends_by_token_.find(token);
        if (send != sends_by_token_.end()) {  // in the kernel, or waiting for its retry timer: one cancel finds it
            cancel(pack(kSendKind, send_key(send->second)));
            cancel(kSendRetryTag | send_key(send->second));
        }
    }
    if (state & kConnectBusy) cancel(kConnectTag | token);
}

void UringReactor::close(std::uint64_t token, int fd) noexcept {
    batch_writer_.forget(fd);
    std::uint8_t* state = handler_.io_state(token);
    if (!state) {
        ::close(fd);
        return;
    }
    *state |= kClosing;
    if (*state & kInFlight) stop_in_flight(token, fd, *state);
    // Operations still in flight hold their own reference to the socket, which closes when the last of them
    // ends; nothing here names the descriptor after this, so its number may be reused at once.
    ::close(fd);
    finish_if_idle(token, *state);
}

void UringReactor::finish_if_idle(std::uint64_t token, std::uint8_t& state) noexcept {
    if ((state & kInFlight) || (state & kCloseDue) || !(state & kClosing)) return;
    state |= kCloseDue;
    closed_.push_back(token);
}

void UringReactor::enable() noexcept {
    if (!disabled_) return;
    // The calling thread becomes the ring's single issuer.
    const int enabled = enable_rings(ring_);
    if (enabled != 0) SURGE_LOG_ERROR("io_uring: enabling the ring failed: %s", std::strerror(-enabled));
    disabled_ = false;
    // Fewer descriptor lookups per enter; optional, so failure is fine.
    ring_fd_registered_ = io_uring_register_ring_fd(&ring_) == 1;
}

int UringReactor::wait(int timeout_ms) noexcept {
    io_uring_cqe* cqe = nullptr;
    int waited;
    if (timeout_ms == 0) {
        waited = io_uring_submit_and_get_events(&ring_);
    } else if (wait_batch_ > 1 && batch_wait_) {
        waited = wait_for_batch(timeout_ms);
    } else if (wait_batch_ > 1 && busy_) {
        // Kernels before the batch wait: the thread is woken only once `wait_batch_` completions are pending (with
        // DEFER_TASKRUN) or the delay has passed. Only while completions keep coming: an idle thread waits for the
        // first as usual, rather than waking every wait_batch_us for nothing.
        const long long limit_us =
            timeout_ms < 0 ? wait_batch_us_ : std::min<long long>(wait_batch_us_, timeout_ms * 1000LL);
        __kernel_timespec timeout{limit_us / 1000000, (limit_us % 1000000) * 1000};
        waited = io_uring_submit_and_wait_timeout(&ring_, &cqe, wait_batch_, &timeout, nullptr);
    } else if (timeout_ms < 0) {
        waited = io_uring_submit_and_wait(&ring_, 1);
    } else {
        __kernel_timespec timeout{timeout_ms / 1000, static_cast<long long>(timeout_ms % 1000) * 1000000};
        waited = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &timeout, nullptr);
    }
    if (waited >= 0 || waited == -ETIME || waited == -EINTR || waited == -EAGAIN || waited == -EBUSY) return 0;
    return waited;
}

int UringReactor::wait_for_batch(int timeout_ms) noexcept {
    // One io_uring_enter submits what is queued and waits: for wait_batch_ completions within wait_batch_us_ of
    // its start; past that, for any one (returning at once if some came meanwhile), until timeout_ms. So a
    // thread that was idle for wait_batch_us_ wakes at the first completion with no delay, and one under load
    // wakes once per batch instead of once per completion.
    __kernel_timespec timeout{timeout_ms / 1000, static_cast<long long>(timeout_ms % 1000) * 1000000};
    GeteventsArg arg{};
    arg.min_wait_usec = wait_batch_us_;
    if (timeout_ms > 0) arg.ts = reinterpret_cast<std::uint64_t>(&timeout);
    const unsigned pending = flush_submissions(ring_);
    unsigned flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
    int fd = ring_.ring_fd;
    if (ring_fd_registered_) {
        flags |= IORING_ENTER_REGISTERED_RING;
        fd = ring_.enter_ring_fd;
    }
    return io_uring_enter2(static_cast<unsigned>(fd), pending, wait_batch_, flags,
                           reinterpret_cast<sigset_t*>(&arg), sizeof arg);
}

int UringReactor::drain() noexcept {
    // Completions are copied out and the queue advanced before any is handled: a handler may queue work whose
    // own completions then find room.
    int handled = 0;
    while (handled < kMaxCompletionsPerRun) {
        struct Copy {
            std::uint64_t user_data;
            int result;
            std::uint32_t flags;
        } batch[256];
        unsigned count = 0;
        unsigned head;
        io_uring_cqe* cqe;
        io_uring_for_each_cqe(&ring_, head, cqe) {
            batch[count++] = {cqe->user_data, cqe->res, cqe->flags};
            if (count == std::size(batch)) break;
        }
        if (count == 0) break;
        io_uring_cq_advance(&ring_, count);
        for (unsigned i = 0; i < count; ++i) dispatch(batch[i].user_data, batch[i].result, batch[i].flags);
        handled += static_cast<int>(count);
    }
    return handled;
}

void UringReactor::dispatch(std::uint64_t user_data, int result, std::uint32_t flags) noexcept {
    const std::uint64_t payload = user_data & kPayloadMask;
    switch (user_data >> kKindShift) {
    case kRecvKind: on_recv_done(payload, result, flags); break;
    case kSendKind: on_send_done(static_cast<std::uint32_t>(payload & kSendIndexMask), result); break;
    case kAcceptKind: on_accept_done(static_cast<std::uint32_t>(payload), result, flags); break;
    default:
        if (user_data == kWakeData) {
            handler_.on_wake();
            arm_wake();
        } else if ((user_data & kConnectTag) == kConnectTag) {
            on_connect_done(user_data & kConnectTokenMask, result);
        } else if ((user_data & kSendRetryTag) == kSendRetryTag) {
            retry_send(static_cast<std::uint32_t>(user_data & kSendIndexMask));
        }
        break;
    }
}

void UringReactor::on_accept_done(std::uint32_t index, int result, std::uint32_t flags) noexcept {
    Listener& listener = listeners_[index];
    if (!(flags & IORING_CQE_F_MORE)) listener.armed = false;
    if (listener.closed) {
        if (result >= 0) ::close(result);
        return;
    }
    if (result >= 0) {
        handler_.on_accept(listener.token, result);
    } else if (out_of_descriptors(result)) {
        // Stop accepting for a while instead of spinning on a backlog we cannot take; connections wait in the
        // kernel's queue meanwhile. Said once a second at most.
        const long long now = monotonic_ms();
        listener.resume_at_ms = now + kAcceptPauseMs;
        pause_until_ms_ = listener.resume_at_ms;
        if (now - last_accept_warning_ms_ >= 1000) {
            last_accept_warning_ms_ = now;
            SURGE_LOG_WARN("accept: %s; pausing accepts for %lld ms (raise the descriptor limit or run more "
                           "--workers)", result == -EMFILE ? "EMFILE, the process's descriptor limit is reached"
                                                           : "out of resources", kAcceptPauseMs);
        }
    }
    if (!listener.armed && listener.resume_at_ms == 0) arm_accept(index);
}

void UringReactor::resume_paused_listeners() noexcept {
    if (pause_until_ms_ == 0 || monotonic_ms() < pause_until_ms_) return;
    pause_until_ms_ = 0;
    for (std::uint32_t i = 0; i < listeners_.size(); ++i) {
        Listener& listener = listeners_[i];
        if (listener.resume_at_ms == 0) continue;
        listener.resume_at_ms = 0;
        if (!listener.armed && !listener.closed) arm_accept(i);
    }
}

void UringReactor::on_recv_done(std::uint64_t token, int result, std::uint32_t flags) noexcept {
    const bool has_buffer = (flags & IORING_CQE_F_BUFFER) != 0;
    const auto buffer = static_cast<std::uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
    std::uint8_t* state = handler_.io_state(token);
    if (!state) {  // cannot happen while on_closed() waits for this recv; kept so a bug leaks no buffer
        if (has_buffer) buffers_.recycle(buffer);
        return;
    }
    if (!(flags & IORING_CQE_F_MORE)) *state &= static_cast<std::uint8_t>(~kRecvArmed);
    if (*state & kClosing) {
        if (has_buffer) buffers_.recycle(buffer);
        finish_if_idle(token, *state);
        return;
    }
    if (result > 0) {
        handler_.on_data(token, buffers_.bytes(buffer, static_cast<std::uint32_t>(result)));
        buffers_.recycle(buffer);
        if (*state & kClosing) {  // closed inside on_data()
            finish_if_idle(token, *state);
            return;
        }
        if (!(*state & kRecvArmed)) {  // the multishot ended (CQ overflow): arm it again
            const int fd = handler_.fd_of(token);
            if (fd >= 0) arm_recv(token, fd, *state);
        }
        return;
    }
    if (result == -ENOBUFS) {
        // Every published buffer was in use: publish more (up to the maximum) and receive again.
        if (buffers_.grow()) SURGE_LOG_DEBUG("io_uring: receive buffers ran out; %u now published", buffers_.published());
        const int fd = handler_.fd_of(token);
        if (fd >= 0) arm_recv(token, fd, *state);
        return;
    }
    handler_.on_recv_end(token, result);  // 0: the peer finished sending; otherwise the connection failed
}

void UringReactor::on_send_done(std::uint32_t index, int result) noexcept {
    SendOp& op = *send_ops_[index];
    std::uint8_t* state = handler_.io_state(op.token);
    if (result == -EAGAIN && state && !(*state & kClosing)) {
        // The socket is full, yet the kernel did not wait for room: once the peer has shut its side, io_uring's
        // poll reports that hang-up to every request (POLLRDHUP is always in its mask), so a send, or a poll for
        // POLLOUT, completes at once, every time. Reported, the caller would send again at once and spin. So the
        // send is tried again after a short delay instead, still in flight; the caller hears of it when it writes.
        io_uring_sqe* sqe = next_sqe();
        io_uring_prep_timeout(sqe, &send_retry_delay_, 0, 0);
        io_uring_sqe_set_data64(sqe, kSendRetryTag | send_key(index));
        return;
    }
    const std::uint64_t token = op.token;
    free_send_ops_.push_back(index);
    sends_by_token_.erase(token);
    if (!state) return;
    *state &= static_cast<std::uint8_t>(~kSendBusy);
    if (*state & kClosing) {
        finish_if_idle(token, *state);
        return;
    }
    handler_.on_sent(token, result);
}

void UringReactor::retry_send(std::uint32_t index) noexcept {
    const std::uint64_t token = send_ops_[index]->token;
    const std::uint8_t* state = handler_.io_state(token);
    const int fd = state && !(*state & kClosing) ? handler_.fd_of(token) : -1;
    if (fd < 0) {
        on_send_done(index, -ECANCELED);  // closed meanwhile: it ends here, unreported
        return;
    }
    submit_send(index, fd);
}

void UringReactor::deliver_closed() noexcept {
    while (!closed_.empty()) {
        delivering_.swap(closed_);
        for (const std::uint64_t token : delivering_) handler_.on_closed(token);
        delivering_.clear();
    }
}

int UringReactor::run_once(int timeout_ms) noexcept {
    enable();
    resume_paused_listeners();
    if (!closed_.empty()) timeout_ms = 0;
    if (pause_until_ms_ != 0 && (timeout_ms < 0 || timeout_ms > kAcceptPauseMs)) timeout_ms = kAcceptPauseMs;
    const int waited = wait(timeout_ms);
    if (waited < 0) return waited;
    const int handled = drain();
    busy_ = handled > 0;
    deliver_closed();
    batch_writer_.register_prepared();  // the connections that subscribed during this turn
    return handled;
}

void UringReactor::wake() noexcept { signal_eventfd(wake_fd_); }

}  // namespace surge::net
