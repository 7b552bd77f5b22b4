// Writes a batch of non-blocking sends through one io_uring submission. Layer: net (used by the io_uring backend).
// A plain send() per connection pays a system call's entry, exit and descriptor lookup for each of them; a
// broadcast to thousands of connections hands them all to the kernel in one io_uring_enter instead (bench/
// fanout.sh measures the difference).
// The writer has its own small ring, apart from the reactor's: every send is flagged MSG_DONTWAIT, so the kernel
// completes each one inline during the submission (written, short, or -EAGAIN when the socket is full) and
// write() returns with every result in hand, exactly as a loop of send() calls would. Nothing stays in flight,
// and no completion of the reactor's (a receive that would run user code) is ever mixed into a batch.
// A descriptor is registered in the ring's file table (at its own number), which spares the kernel a descriptor
// lookup and reference count per send; the reactor drops it when it closes. Registering costs the kernel about
// as much as a send (a profile of a first publication to 500,000 subscribers found it at 4% of the machine), so
// it is done before the first broadcast where it can be: the reactor prepare()s a connection that subscribes and
// register_prepared() takes all of them at the end of its loop turn. Whatever the first write finds unregistered
// is registered then. Either way one system call takes a run of nearby descriptors, not one each, into a table
// made large enough for the process's descriptors at once (growing it means registering every descriptor again).
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <span>
#include <vector>

#include "surge/net/reactor.hpp"
#include "surge/net/uring_compat.hpp"

namespace surge::net {

class UringBatchWriter {
public:
    UringBatchWriter() = default;
    UringBatchWriter(const UringBatchWriter&) = delete;
    UringBatchWriter& operator=(const UringBatchWriter&) = delete;
    ~UringBatchWriter();

    // Writes each entry as far as its socket takes it and sets its result. The ring is made on first use, by the
    // calling thread (its single issuer); when it cannot be, or the kernel refuses a submission, the entries are
    // written one send() at a time and the ring is not tried again.
    void write(std::span<BatchedWrite> writes) noexcept;

    // `fd` is a connection that broadcasts are going to reach: it is registered at the next register_prepared(),
    // so that the first broadcast does not pay for that. Calls after the first are free.
    void prepare(int fd) noexcept;
    // Registers what prepare() was given since the last call, a run of nearby descriptors per system call. Called
    // by the thread that writes, between batches (the reactor: at the end of a loop turn); makes the ring if need be.
    void register_prepared() noexcept;

    // `fd` is being closed: its registration, if any, is dropped (and a prepare() not acted on yet forgotten), so
    // that the slot cannot keep the socket open nor name it once the number is reused. The reactor closes every
    // connection it was given through close(), which calls this first.
    void forget(int fd) noexcept;

    // Whether batches go through the ring (false before the first, or after the kernel refused it).
    bool ring_in_use() const noexcept { return state_ == State::Ready; }

    // Whether `fd` is in the ring's file table, so its sends skip the descriptor lookup.
    bool in_file_table(int fd) const noexcept { return state_of(fd) == FdState::Registered; }

    // Entries one submission takes (a larger batch goes in several).
    static constexpr unsigned kEntries = 256;

private:
    bool ready() noexcept;
    // Submits the entries (at most kEntries) and collects their results; returns how many it handled, the first
    // ones (fewer than all only when the kernel refused some, and then the ring is closed).
    std::size_t submit_and_reap(std::span<BatchedWrite> writes) noexcept;
    void give_up(const char* what, int error) noexcept;
    enum class FdState : unsigned char { None, Prepared, Registered };
    FdState state_of(int fd) const noexcept {
        const auto index = static_cast<std::size_t>(fd);
        return fd >= 0 && index < fd_states_.size() ? fd_states_[index] : FdState::None;
    }
    void set_state(int fd, FdState state);
    // Registers the batch's descriptors that are not in the file table yet, in as few calls as it can.
    void register_new(std::span<const BatchedWrite> writes) noexcept;
    // Registers `fresh_` (any order, repeats allowed): grows the table if one is past it, then register_runs().
    void register_fresh() noexcept;
    // Registers `fds` (ascending, distinct, within the table) with one update per run of nearby descriptors.
    void register_runs(std::span<const int> fds) noexcept;
    bool grow_table(std::size_t needed) noexcept;

    enum class State : unsigned char { Untried, Ready, Unavailable };
    io_uring ring_{};
    State state_ = State::Untried;
    std::vector<FdState> fd_states_;  // by descriptor
    std::size_t table_size_ = 0;      // slots in the ring's file table (0: none registered yet)
    bool table_failed_ = false;       // the kernel refused a table: plain descriptors from then on
    std::vector<int> prepared_;       // prepare()d since the last register_prepared() (some forgotten since)
    std::vector<int> fresh_;          // descriptors about to be registered
    std::vector<int> slots_;          // one update's array
    msghdr headers_[kEntries]{};  // for entries of several pieces (sendmsg); read by the kernel during submission
};

}  // namespace surge::net
