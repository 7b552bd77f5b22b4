#include "surge/net/uring_batch_writer.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "surge/core/log.hpp"
#include "surge/net/fd_limit.hpp"
#include "surge/net/socket_io.hpp"

namespace surge::net {
namespace {

constexpr int kSendFlags = MSG_NOSIGNAL | MSG_DONTWAIT;  // MSG_DONTWAIT: -EAGAIN at once, never a poll armed
constexpr std::size_t kFirstTable = 1024;    // the smallest table, when the descriptor limit is lower still
constexpr std::size_t kBigTable = 1u << 16;  // the first table's largest size: 512 KiB of the kernel's
constexpr std::uint64_t kMaxTable = 1u << 20;  // IORING_MAX_FIXED_FILES
constexpr long kNoResult = std::numeric_limits<long>::min();  // not reported yet

}  // namespace

UringBatchWriter::~UringBatchWriter() {
    if (state_ == State::Ready) io_uring_queue_exit(&ring_);
}

bool UringBatchWriter::ready() noexcept {
    if (state_ != State::Untried) return state_ == State::Ready;
    // The strongest setup first: single issuer and deferred task run keep the kernel from running work for this
    // ring on other CPUs. The completion queue holds two batches, so it can never overflow.
    const unsigned attempts[] = {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_SINGLE_ISSUER,
                                 0};
    int made = -EINVAL;
    for (const unsigned flags : attempts) {
        io_uring_params params{};
        params.flags = flags | IORING_SETUP_SUBMIT_ALL;
        made = io_uring_queue_init_params(kEntries, &ring_, &params);
        if (made != -EINVAL) break;
    }
    if (made != 0) {
        state_ = State::Unavailable;
        SURGE_LOG_WARN("io_uring: no ring for batched sends (%s); sending one at a time", std::strerror(-made));
        return false;
    }
    io_uring_register_ring_fd(&ring_);  // optional: fewer descriptor lookups per enter
    state_ = State::Ready;
    return true;
}

void UringBatchWriter::write(std::span<BatchedWrite> writes) noexcept {
    while (!writes.empty()) {
        const std::span<BatchedWrite> batch = writes.first(std::min<std::size_t>(writes.size(), kEntries));
        const std::size_t done = ready() ? submit_and_reap(batch) : 0;
        for (BatchedWrite& w : batch.subspan(done)) w.result = send_without_waiting(w.fd, w.iov, w.count);
        writes = writes.subspan(batch.size());
    }
}

std::size_t UringBatchWriter::submit_and_reap(std::span<BatchedWrite> writes) noexcept {
    register_new(writes);
    for (std::size_t i = 0; i < writes.size(); ++i) {
        BatchedWrite& w = writes[i];
        w.result = kNoResult;
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);  // never null: the queue is empty between batches
        const bool fixed = in_file_table(w.fd);
        if (w.count == 1) {
            // One piece (a broadcast frame, most often): send skips sendmsg's copy of the header and iovecs.
            io_uring_prep_send(sqe, w.fd, w.iov[0].iov_base, w.iov[0].iov_len, kSendFlags);
        } else {
            headers_[i] = msghdr{};
            headers_[i].msg_iov = const_cast<iovec*>(w.iov);
            headers_[i].msg_iovlen = static_cast<std::size_t>(w.count);
            io_uring_prep_sendmsg(sqe, w.fd, &headers_[i], kSendFlags);
        }
        if (fixed) sqe->flags |= IOSQE_FIXED_FILE;  // the table's index is the descriptor itself
        io_uring_sqe_set_data64(sqe, i);
    }
    int submitted;
    do {
        submitted = io_uring_submit_and_wait(&ring_, static_cast<unsigned>(writes.size()));
    } while (submitted == -EINTR);
    // The kernel takes entries in order: a short submission took the first ones, which complete as usual.
    const std::size_t taken = submitted > 0 ? std::min<std::size_t>(static_cast<std::size_t>(submitted), writes.size())
                                            : 0;
    std::size_t reaped = 0;
    while (reaped < taken) {
        io_uring_cqe* cqe = nullptr;
        const int waited = io_uring_wait_cqe(&ring_, &cqe);
        if (waited == -EINTR) continue;
        if (waited < 0) {
            // Issued sends the kernel no longer reports: whether they were written is unknown, so their
            // connections get an error rather than the same bytes twice.
            for (std::size_t i = 0; i < taken; ++i) {
                if (writes[i].result == kNoResult) writes[i].result = -EIO;
            }
            give_up("completion", -waited);
            return taken;
        }
        const std::uint64_t i = io_uring_cqe_get_data64(cqe);
        const int res = cqe->res;
        io_uring_cqe_seen(&ring_, cqe);
        if (i >= taken || writes[i].result != kNoResult) continue;
        writes[i].result = (res == -EAGAIN || res == -EWOULDBLOCK) ? 0 : res;
        ++reaped;
    }
    if (taken < writes.size()) {
        // Entries the kernel did not take must never be submitted later, against iovecs gone by then: the ring is
        // closed with them still queued, and the caller sends them itself.
        give_up("submission", submitted < 0 ? -submitted : EAGAIN);
    }
    return taken;
}

void UringBatchWriter::set_state(int fd, FdState state) {
    const auto index = static_cast<std::size_t>(fd);
    if (index >= fd_states_.size()) fd_states_.resize(std::max<std::size_t>(index + 1, fd_states_.size() * 2));
    fd_states_[index] = state;
}

void UringBatchWriter::prepare(int fd) noexcept {
    if (fd < 0 || table_failed_ || state_ == State::Unavailable || state_of(fd) != FdState::None) return;
    set_state(fd, FdState::Prepared);
    prepared_.push_back(fd);
}

void UringBatchWriter::register_prepared() noexcept {
    if (prepared_.empty()) return;
    fresh_.clear();
    for (const int fd : prepared_) {
        if (state_of(fd) == FdState::Prepared) fresh_.push_back(fd);  // not forgotten, nor registered by a write
    }
    prepared_.clear();
    if (!fresh_.empty() && ready()) register_fresh();
    for (const int fd : fresh_) {
        if (state_of(fd) == FdState::Prepared) set_state(fd, FdState::None);  // refused: a plain descriptor
    }
}

void UringBatchWriter::register_new(std::span<const BatchedWrite> writes) noexcept {
    fresh_.clear();
    for (const BatchedWrite& w : writes) {
        if (w.fd >= 0 && !in_file_table(w.fd)) fresh_.push_back(w.fd);
    }
    if (!fresh_.empty()) register_fresh();
}

void UringBatchWriter::register_fresh() noexcept {
    if (table_failed_) return;
    std::sort(fresh_.begin(), fresh_.end());
    fresh_.erase(std::unique(fresh_.begin(), fresh_.end()), fresh_.end());  // a batch may write one twice
    const auto highest = static_cast<std::size_t>(fresh_.back());
    if (highest >= table_size_ && !grow_table(highest + 1)) return;
    register_runs(fresh_);
}

void UringBatchWriter::register_runs(std::span<const int> fds) noexcept {
    // Descriptors of one shard's connections are mostly close together: a run spans gaps of up to kMaxGap slots
    // (left as they are, IORING_REGISTER_FILES_SKIP), so one update covers it.
    constexpr int kMaxGap = 64;
    std::size_t first = 0;
    while (first < fds.size()) {
        std::size_t last = first;
        while (last + 1 < fds.size() && fds[last + 1] - fds[last] <= kMaxGap) ++last;
        const int base = fds[first];
        slots_.assign(static_cast<std::size_t>(fds[last] - base) + 1, IORING_REGISTER_FILES_SKIP);
        for (std::size_t i = first; i <= last; ++i) slots_[static_cast<std::size_t>(fds[i] - base)] = fds[i];
        // The kernel updates the slots in order and stops at the first it cannot take, returning how many it did
        // (or the error, when that is the first): the run goes on after that one, which stays a plain descriptor.
        const int done = io_uring_register_files_update(&ring_, static_cast<unsigned>(base), slots_.data(),
                                                        static_cast<unsigned>(slots_.size()));
        const int refused = done < 0 ? 0 : done;
        std::size_t next = last + 1;
        for (std::size_t i = first; i <= last; ++i) {
            const int offset = fds[i] - base;
            if (offset < refused) set_state(fds[i], FdState::Registered);
            if (offset == refused) next = i + 1;
        }
        first = next;
    }
}

bool UringBatchWriter::grow_table(std::size_t needed) noexcept {
    // The table cannot grow in place: a larger one replaces it and every descriptor it held is registered again.
    // So the first is as large as the process's descriptor limit (8 bytes a slot in the kernel) up to kBigTable,
    // and only a process allowed more than that doubles it when it must.
    const std::uint64_t limit = std::min<std::uint64_t>(fd_limit().soft, kMaxTable);  // the kernel's bounds
    std::size_t size = table_size_ == 0 ? std::min<std::size_t>(limit, kBigTable) : table_size_ * 2;
    size = std::min<std::size_t>(std::max<std::size_t>({size, needed, kFirstTable}), limit);
    if (size < needed) {
        table_failed_ = true;
        return false;
    }
    std::vector<int> held;  // registered now, to register again in the new table (fresh_ is the caller's)
    for (std::size_t i = 0; i < fd_states_.size(); ++i) {
        if (fd_states_[i] == FdState::Registered) {
            held.push_back(static_cast<int>(i));
            fd_states_[i] = FdState::None;
        }
    }
    if (table_size_ != 0) io_uring_unregister_files(&ring_);
    table_size_ = 0;
    int made = io_uring_register_files_sparse(&ring_, static_cast<unsigned>(size));
    if (made == -EINVAL) {  // before Linux 5.19: a table of empty slots, passed in whole
        const std::vector<int> empty(size, -1);
        made = io_uring_register_files(&ring_, empty.data(), static_cast<unsigned>(size));
    }
    if (made != 0) {
        SURGE_LOG_WARN("io_uring: no file table of %zu for batched sends (%s); using plain descriptors", size,
                       std::strerror(-made));
        table_failed_ = true;
        return false;
    }
    table_size_ = size;
    register_runs(held);
    return true;
}

void UringBatchWriter::forget(int fd) noexcept {
    const FdState state = state_of(fd);
    if (state == FdState::None) return;
    if (state == FdState::Registered) {
        int none = -1;
        io_uring_register_files_update(&ring_, static_cast<unsigned>(fd), &none, 1);
    }
    fd_states_[static_cast<std::size_t>(fd)] = FdState::None;
}

void UringBatchWriter::give_up(const char* what, int error) noexcept {
    SURGE_LOG_ERROR("io_uring: batched send %s failed (%s); sending one at a time from now on", what,
                    std::strerror(error));
    io_uring_queue_exit(&ring_);
    state_ = State::Unavailable;
    fd_states_.clear();
    prepared_.clear();
    table_size_ = 0;
}

}  // namespace surge::net
