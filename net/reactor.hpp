// The reactor seam: one event loop per shard, with interchangeable backends (io_uring and epoll).
// Layer: net. A reactor belongs to one thread (its shard): every call but wake() must come from that thread.
// The seam is completion-shaped so that both readiness (epoll) and completion (io_uring) backends fit:
//  - received bytes arrive through on_data() in a buffer the reactor owns, valid only during the call;
//  - send() hands over iovecs whose bytes stay the caller's and must stay valid until on_sent() reports the
//    send done; at most one send per connection is in flight; on_sent() never runs inside send(); a send may
//    complete having written nothing (result 0), and the caller then sends what is left again;
//  - close() stops all I/O on the connection; on_closed() follows once no operation is in flight, and only
//    then may the caller reuse the token's slot.
//  - connect() (the client role) starts an outgoing connection; on_connected() reports it from the loop, and
//    from then on the connection is as one given to add_connection(). A connection still connecting is closed
//    with close() like any other (on_connected() then does not come).
// Tokens are the caller's (a slot index plus a generation), never pointers or raw descriptors.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <sys/uio.h>

namespace surge::net {

enum class Backend : std::uint8_t { Auto, IoUring, Epoll };

std::string_view backend_name(Backend backend) noexcept;
// Parses "auto", "io_uring" or "epoll".
bool parse_backend(std::string_view text, Backend& out) noexcept;

// One entry of Reactor::try_write_batch(): a connection's bytes, and what became of them.
struct BatchedWrite {
    int fd;
    int count;         // iovecs, at least 1
    const iovec* iov;  // read only during the call
    long result;       // set by the call: bytes written (0 when the socket is full) or -errno
};

class ReactorHandler {
public:
    // A listener accepted `fd` (non-blocking, close-on-exec). The handler owns it from here.
    virtual void on_accept(std::uint64_t listener_token, int fd) = 0;
    // The connect() of `token` finished: 0 (connected: data now arrives through on_data) or -errno. Handlers
    // that never connect (servers) need not override it.
    virtual void on_connected(std::uint64_t /*token*/, int /*result*/) {}
    // Bytes received on a connection. Return false when the connection was closed inside the call, so that the
    // reactor stops reading it.
    virtual bool on_data(std::uint64_t token, std::span<char> bytes) = 0;
    // The peer finished sending (result 0) or the connection failed (-errno). No on_data follows.
    virtual void on_recv_end(std::uint64_t token, int result) = 0;
    // The send in flight finished: `result` bytes were written (fewer than asked, even 0, when the socket
    // could not take more; send the rest again), or -errno.
    virtual void on_sent(std::uint64_t token, int result) = 0;
    // close(token) has finished: nothing is in flight any more, the slot may be reused.
    virtual void on_closed(std::uint64_t token) = 0;
    // wake() was called (from any thread) since the last time this ran.
    virtual void on_wake() = 0;
    // The descriptor of the live connection `token` names, or -1 when the token is stale (its slot was freed or
    // reused). Lets a backend find descriptors without a table of its own.
    virtual int fd_of(std::uint64_t token) const noexcept = 0;
    // One byte in the connection's slot that belongs to the backend (what it has in flight), so that a backend
    // keeps no per-connection table of its own. Zero when add_connection() is called; the pointer stays valid
    // until on_closed(); nullptr when the token is stale.
    virtual std::uint8_t* io_state(std::uint64_t token) noexcept = 0;

protected:
    ~ReactorHandler() = default;
};

class Reactor {
public:
    virtual ~Reactor() = default;

    virtual Backend backend() const noexcept = 0;
    // Starts accepting on a listening socket; accepted descriptors arrive through on_accept. 0 or -errno.
    virtual int add_listener(int fd, std::uint64_t token) noexcept = 0;
    // Stops accepting on a listener added with add_listener() and closes `fd`. No on_accept follows.
    virtual void close_listener(int fd) noexcept = 0;
    // Starts receiving on a connected socket. 0 or -errno.
    virtual int add_connection(int fd, std::uint64_t token) noexcept = 0;
    // Connects `fd` (a non-blocking stream socket, bound or not) to `address`, which must stay valid until
    // on_connected(). 0: under way, on_connected() follows (never inside this call); -errno: it failed at once
    // and nothing follows.
    virtual int connect(std::uint64_t token, int fd, const sockaddr* address, socklen_t length) noexcept = 0;
    // Writes what it can right now, without waiting, and returns the bytes written (0 when the socket is full)
    // or -errno. No callback follows. Used for the common case where the socket takes everything at once.
    virtual long try_write(int fd, const iovec* iov, int count) noexcept = 0;
    // try_write() for many connections at once (a broadcast's fan-out), each getting its own result. A backend
    // may hand the whole batch to the kernel in one call (io_uring); the default writes them one by one.
    virtual void try_write_batch(std::span<BatchedWrite> writes) noexcept;
    // `fd` (a connection this reactor was given) is going to be in try_write_batch() calls: it subscribed to a
    // topic. A backend may prepare for that now, so that the first broadcast does not pay for it: io_uring
    // registers it in its batch writer's file table at the end of the loop turn. Free to call more than once.
    virtual void expect_batch_writes(int fd) noexcept { (void)fd; }
    // Queues a send of up to 64 iovecs; on_sent() reports it from the loop. A backend may take only a prefix of
    // them (io_uring takes kMaxUringIovecs); on_sent() then reports a short write and the caller sends the rest. The iovec array is read only
    // during this call (a backend that needs it later keeps its own copy); the bytes it points at must stay
    // valid and unchanged until on_sent().
    virtual void send(std::uint64_t token, int fd, const iovec* iov, int count) noexcept = 0;
    // Stops I/O on the connection and closes `fd`; on_closed() follows from the loop.
    virtual void close(std::uint64_t token, int fd) noexcept = 0;
    // Waits up to timeout_ms (-1: no limit) for events and dispatches them to the handler. Returns the number
    // of events handled, or -errno.
    virtual int run_once(int timeout_ms) noexcept = 0;
    // Makes a run_once() in progress return soon and on_wake() run. Safe from any thread.
    virtual void wake() noexcept = 0;
    // Under load, a run_once() that may wait waits for `events` completions (not the first one), for at most
    // `max_delay_us`: fewer wake-ups of the thread, each handling more, for up to max_delay_us more latency.
    // A thread that was idle wakes at the first completion as usual. io_uring on kernel 6.13 or later has the
    // kernel wait for the batch (its "min wait": idle means nothing came for max_delay_us); older kernels, and
    // epoll, which has no such wait, take "under load" to mean that the last run_once() handled something, and
    // then sleep up to max_delay_us and take what is ready (epoll), or wait for the batch with max_delay_us as
    // the timeout (io_uring). 1 (the default): wake at the first. For servers whose clients can take a little
    // latency (push, fan-in), and for load generators sharing the machine with the server they measure (on
    // loopback the sender pays for waking the receiver).
    virtual void set_wait_batch(unsigned events, unsigned max_delay_us) noexcept = 0;
};

inline constexpr int kMaxSendIovecs = 64;
inline constexpr std::size_t kReadBufferBytes = 64 * 1024;

struct ReactorResult {
    std::unique_ptr<Reactor> reactor;
    int error = 0;          // -errno when no reactor could be made
    std::string why;  // why this backend was chosen, or why none could be made, for the start-up log
};

// Makes a reactor of the asked backend. Auto picks io_uring where the kernel allows it and has every feature
// the backend needs (probed, never assumed), and epoll otherwise, saying why in `why`.
ReactorResult make_reactor(Backend backend, ReactorHandler& handler);

}  // namespace surge::net
