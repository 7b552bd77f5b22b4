// What the io_uring backend needs from <liburing.h>, with the constants that older liburing headers (Debian 12
// ships 2.3) lack defined here. Layer: net.
// A constant defined here says nothing about the running kernel: every feature it names is probed at run time
// (uring_probe.hpp) before the backend relies on it.
#pragma once

#include <liburing.h>

// Setup flags (kernel 6.0 and 6.1; liburing 2.3 has them, older headers do not).
#ifndef IORING_SETUP_SUBMIT_ALL
#define IORING_SETUP_SUBMIT_ALL (1U << 7)
#endif
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif

// Multishot accept and recv (kernel 5.19 and 6.0).
#ifndef IORING_ACCEPT_MULTISHOT
#define IORING_ACCEPT_MULTISHOT (1U << 0)
#endif
#ifndef IORING_RECV_MULTISHOT
#define IORING_RECV_MULTISHOT (1U << 1)
#endif

// Cancel every request on a descriptor (kernel 5.19).
#ifndef IORING_ASYNC_CANCEL_ALL
#define IORING_ASYNC_CANCEL_ALL (1U << 0)
#endif
#ifndef IORING_ASYNC_CANCEL_FD
#define IORING_ASYNC_CANCEL_FD (1U << 1)
#endif

// The batch wait (kernel 6.13): io_uring_getevents_arg's former pad is min_wait_usec, flagged by this feature.
#ifndef IORING_FEAT_MIN_TIMEOUT
#define IORING_FEAT_MIN_TIMEOUT (1U << 15)
#endif

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace surge::net {

// Debian's liburing 2.3 declares io_uring_enable_rings() but its shared library does not export it (the symbol is
// missing from the 2.3 version map), so the register call is made directly. 0 or -errno.
inline int enable_rings(io_uring& ring) noexcept {
    const long done = ::syscall(__NR_io_uring_register, ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
    return done < 0 ? -errno : 0;
}

// Makes the SQEs prepared since the last submission visible to the kernel without entering it (what liburing's
// io_uring_submit does before its io_uring_enter, which is private in 2.3), so that one io_uring_enter can both
// submit them and wait. Returns how many are pending submission. Not for SQPOLL rings.
inline unsigned flush_submissions(io_uring& ring) noexcept {
    io_uring_sq& sq = ring.sq;
    const unsigned tail = sq.sqe_tail;
    if (sq.sqe_head != tail) {
        // Slot i of the submission array names SQE i (liburing 2.3 maps them so at set-up already; written again
        // here so as not to depend on it).
        for (unsigned i = sq.sqe_head; i != tail; ++i) sq.array[i & sq.ring_mask] = i & sq.ring_mask;
        sq.sqe_head = tail;
        __atomic_store_n(sq.ktail, tail, __ATOMIC_RELEASE);
    }
    return tail - __atomic_load_n(sq.khead, __ATOMIC_ACQUIRE);
}

// The layout of io_uring_getevents_arg from kernel 6.13 on (the pad became min_wait_usec).
struct GeteventsArg {
    __u64 sigmask;
    __u32 sigmask_sz;
    __u32 min_wait_usec;
    __u64 ts;
};
static_assert(sizeof(GeteventsArg) == sizeof(io_uring_getevents_arg));

}  // namespace surge::net
