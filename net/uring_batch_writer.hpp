// Writes a batch of non-blocking sends through one io_uring submission. Layer: net (used by the io_uring backend).
// A plain send() per connection pays a system call's entry, exit and descriptor lookup for each of them; a
// broadcast to thousands of connections hands them all to the kernel in one io_uring_enter instead (bench/
// fanout.sh measures the difference).
// The writer has its own small ring, apart from the reactor's: every send is flagged MSG_DONTWAIT, so the kernel
// completes each one inline during the submission (written, short, or -EAGAIN when the socket is full) and
// write() returns with every result in hand, exactly as a loop of send() calls would. Nothing stays in flight,
// and no completion of the reactor's (a receive that would run user code) is ever mixed into a batch.
// A descriptor is registered in the ring's file table (at its own number) the first time it is written, which
// spares the kernel a descriptor lookup and reference count per send; the reactor drops it when it closes. The
// first broadcast to many new subscribers registers them all: one system call per run of nearby descriptors, not
// one each, into a table made large enough for the process's descriptors at once (growing it means registering
// every descriptor again; a profile of a first publication to 200,000 subscribers found that and the calls per
// descriptor at 7% of the server's time).
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

    // `fd` is being closed: its registration, if any, is dropped, so that the slot cannot keep the socket open
    // nor name it once the number is reused. The reactor closes every connection it was given through close(),
    // which calls this first.
    void forget(int fd) noexcept;

    // Whether batches go through the ring (false before the first, or after the kernel refused it).
    bool ring_in_use() const noexcept { return state_ == State::Ready; }

    // Whether `fd` is in the ring's file table, so its sends skip the descriptor lookup.
    bool in_file_table(int fd) const noexcept {
        return fd >= 0 && static_cast<std::size_t>(fd) < in_table_.size() && in_table_[static_cast<std::size_t>(fd)];
    }

    // Entries one submission takes (a larger batch goes in several).
    static constexpr unsigned kEntries = 256;

private:
    bool ready() noexcept;
    // Submits the entries (at most kEntries) and collects their results; returns how many it handled, the first
    // ones (fewer than all only when the kernel refused some, and then the ring is closed).
    std::size_t submit_and_reap(std::span<BatchedWrite> writes) noexcept;
    void give_up(const char* what, int error) noexcept;
    // Registers the batch's descriptors that are not in the file table yet, in as few calls as it can.
    void register_new(std::span<const BatchedWrite> writes) noexcept;
    // Registers `fds` (ascending, distinct, within the table) with one update per run of nearby descriptors.
    void register_runs(std::span<const int> fds) noexcept;
    bool grow_table(std::size_t needed) noexcept;

    enum class State : unsigned char { Untried, Ready, Unavailable };
    io_uring ring_{};
    State state_ = State::Untried;
    std::vector<unsigned char> in_table_;  // by descriptor: registered in the ring's file table at that index
    bool table_failed_ = false;            // the kernel refused a table: plain descriptors from then on
    std::vector<int> fresh_;               // register_new's scratch: descriptors to register, and the update's array
    std::vector<int> slots_;
    msghdr headers_[kEntries]{};  // for entries of several pieces (sendmsg); read by the kernel during submission
};

}  // namespace surge::net
