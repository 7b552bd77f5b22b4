// The io_uring backend of the reactor seam. Layer: net.
// One ring per shard, set up with SINGLE_ISSUER|DEFER_TASKRUN where the kernel has them (completions are then
// produced only when the shard's own thread asks for them, with no interrupts from other CPUs). The ring is
// made disabled and enabled by the first run_once(), so that the shard's thread, not the one that built the
// server, is its single issuer.
//  - Accept: one multishot accept per listener. Out of descriptors (EMFILE), accepting pauses for 100 ms.
//  - Receive: one multishot recv per connection, into the shard's provided-buffer ring; a connection owns no
//    receive buffer. A multishot that ends without IORING_CQE_F_MORE while the connection is open (ENOBUFS, CQ
//    overflow) is armed again; ENOBUFS also grows the buffer ring.
//  - Send: at most one sendmsg in flight per connection, gathering up to kMaxUringIovecs of what is pending
//    (the caller sends the rest when it completes). try_write() is a plain non-blocking sendmsg: most sends fit
//    the socket at once and need no ring round trip. try_write_batch() (a broadcast's fan-out) goes through a
//    second, private ring in one submission (uring_batch_writer.hpp).
//  - Connect (the client role): one IORING_OP_CONNECT; once it succeeds, the multishot recv is armed.
//  - Close: the armed receive is ended by shutting the socket's read side, a send or connect in flight is
//    cancelled by its user_data (never by descriptor: see stop_in_flight()), and the thread closes the
//    descriptor at once (operations in flight hold their own reference to the socket); on_closed() is
//    delivered only once the recv and send of that connection have both completed, so a slot is never reused
//    while the kernel may still complete an operation for it.
//  - Wait: with set_wait_batch(), the kernel's batch wait (IORING_FEAT_MIN_TIMEOUT, 6.13): one io_uring_enter
//    submits and waits for a batch of completions or its delay, whichever first; older kernels get the same
//    from a plain timed wait while the thread is busy.
// What a connection has in flight is kept in the byte ReactorHandler::io_state() lends, not in a table here.
// user_data: a recv carries the connection's token (slot + generation); a send carries the index of the
// reactor's send operation, which records the token, and that operation's use count (send_key()), so that a
// cancel meant for an earlier use finds nothing; a send's retry timer carries the same under kSendRetryTag; a
// connect carries the token under a tag of its own (the wake-up's and cancel's kind, with the token's bit 62
// free), and accept has its own kind.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "surge/net/provided_buffers.hpp"
#include "surge/net/reactor.hpp"
#include "surge/net/uring_batch_writer.hpp"
#include "surge/net/uring_compat.hpp"

namespace surge::net {

inline constexpr int kMaxUringIovecs = 32;

class UringReactor final : public Reactor {
public:
    // Returns nullptr and sets `error` (-errno) and `why` when the ring cannot be made. `why` otherwise says which
    // setup flags the kernel granted.
    static std::unique_ptr<UringReactor> create(ReactorHandler& handler, int& error, std::string& why);
    ~UringReactor() override;

    Backend backend() const noexcept override { return Backend::IoUring; }
    int add_listener(int fd, std::uint64_t token) noexcept override;
    void close_listener(int fd) noexcept override;
    int add_connection(int fd, std::uint64_t token) noexcept override;
    int connect(std::uint64_t token, int fd, const sockaddr* address, socklen_t length) noexcept override;
    long try_write(int fd, const iovec* iov, int count) noexcept override;
    void try_write_batch(std::span<BatchedWrite> writes) noexcept override { batch_writer_.write(writes); }
    void expect_batch_writes(int fd) noexcept override { batch_writer_.prepare(fd); }
    void send(std::uint64_t token, int fd, const iovec* iov, int count) noexcept override;
    void close(std::uint64_t token, int fd) noexcept override;
    int run_once(int timeout_ms) noexcept override;
    void wake() noexcept override;

private:
    explicit UringReactor(ReactorHandler& handler);

    struct Listener {
        int fd;
        std::uint64_t token;
        bool armed;
        bool closed;
        long long resume_at_ms;  // out of descriptors: not armed again before this
    };
    struct SendOp {
        msghdr message;
        iovec iov[kMaxUringIovecs];
        std::uint64_t token;
        std::uint64_t uses = 0;  // sends made with it: part of their user_data (send_key())
    };

    io_uring_sqe* next_sqe() noexcept;
    void arm_accept(std::uint32_t index) noexcept;
    bool arm_recv(std::uint64_t token, int fd, std::uint8_t& state) noexcept;
    void arm_wake() noexcept;
    // Cancels the operation `user_data` names, found through the ring's cancel table (a hash of user_data).
    void cancel(std::uint64_t user_data) noexcept;
    // Ends what is in flight on a connection being closed (`state`: its io_state bits). Never by descriptor: the
    // kernel finds a cancel by descriptor by walking every request armed on the ring, a receive per connection
    // of the shard, so closing N connections cost N x N (bench/close-storm: 229-260 us a close at 9,000
    // connections, 21-25x epoll's; now level with epoll's at any count).
    void stop_in_flight(std::uint64_t token, int fd, std::uint8_t state) noexcept;
    void enable() noexcept;
    int wait(int timeout_ms) noexcept;
    int wait_for_batch(int timeout_ms) noexcept;
    void set_wait_batch(unsigned events, unsigned max_delay_us) noexcept override {
        wait_batch_ = events && max_delay_us ? events : 1;  // no delay: no batch
        wait_batch_us_ = max_delay_us;
    }
    int drain() noexcept;
    void dispatch(std::uint64_t user_data, int result, std::uint32_t flags) noexcept;
    void on_accept_done(std::uint32_t index, int result, std::uint32_t flags) noexcept;
    void on_recv_done(std::uint64_t token, int result, std::uint32_t flags) noexcept;
    void on_send_done(std::uint32_t index, int result) noexcept;
    // What names the current use of send op `index` in user_data: its index and its use count.
    std::uint64_t send_key(std::uint32_t index) const noexcept;
    void submit_send(std::uint32_t index, int fd) noexcept;
    // The retry timer of a send that found the socket full has run out: the send goes again (or ends, closed).
    void retry_send(std::uint32_t index) noexcept;
    void on_connect_done(std::uint64_t token, int result) noexcept;
    void finish_if_idle(std::uint64_t token, std::uint8_t& state) noexcept;
    void resume_paused_listeners() noexcept;
    void deliver_closed() noexcept;

    ReactorHandler& handler_;
    io_uring ring_{};
    bool ring_made_ = false;
    unsigned wait_batch_ = 1;    // set_wait_batch()
    unsigned wait_batch_us_ = 0;
    bool busy_ = false;  // the last run_once() handled completions: set_wait_batch() applies to the next wait
    bool batch_wait_ = false;  // the kernel waits for a batch itself (IORING_FEAT_MIN_TIMEOUT)
    bool ring_fd_registered_ = false;
    bool disabled_ = false;  // made with IORING_SETUP_R_DISABLED; enabled by the first run_once()
    int wake_fd_ = -1;
    std::uint64_t wake_value_ = 0;  // the eventfd read lands here
    ProvidedBuffers buffers_;
    UringBatchWriter batch_writer_;  // the fan-out's writes, one submission per batch (its own ring)
    std::vector<Listener> listeners_;
    std::vector<std::unique_ptr<SendOp>> send_ops_;
    std::vector<std::uint32_t> free_send_ops_;
    std::unordered_map<std::uint64_t, std::uint32_t> sends_by_token_;  // the send in flight of each connection
    __kernel_timespec send_retry_delay_{0, 10'000'000};  // 10 ms; read by the kernel when a retry timer is submitted
    std::vector<std::uint64_t> closed_;      // connections whose on_closed() is due
    std::vector<std::uint64_t> delivering_;  // closed_ swapped out while delivered
    long long pause_until_ms_ = 0;
    long long last_accept_warning_ms_ = 0;
};

}  // namespace surge::net
