// The io_uring batch writer (net/uring_batch_writer.hpp): every entry of a batch gets the result a send() of
// its own would have got, with the bytes on the wire in order, across several submissions; and a descriptor's
// file-table slot never outlives the socket it named.
#include "surge/net/uring_batch_writer.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "surge/net/uring_probe.hpp"
#include "tests/support/socket_pair.hpp"

using namespace surge::net;
using surge::test::SocketPair;

namespace {

bool ring_expected() { return uring_unsupported_reason().empty(); }

}  // namespace

TEST_CASE("a batch larger than one submission: every entry, of one piece or three, is written whole and in order") {
    UringBatchWriter writer;
    constexpr int kConnections = 2 * UringBatchWriter::kEntries + 7;  // three submissions, the last short
    std::vector<SocketPair> pairs(kConnections);
    std::vector<std::string> heads, tails;
    std::vector<iovec> iov(3 * kConnections);
    std::vector<BatchedWrite> batch;
    for (int i = 0; i < kConnections; ++i) {
        heads.push_back("head " + std::to_string(i) + ";");
        tails.push_back(std::string(static_cast<std::size_t>(i % 50), static_cast<char>('a' + i % 26)));
    }
    for (int round = 0; round < 2; ++round) {  // the second round finds every descriptor registered already
        batch.clear();
        for (int i = 0; i < kConnections; ++i) {
            iovec* piece = &iov[3 * static_cast<std::size_t>(i)];
            piece[0] = {heads[i].data(), heads[i].size()};
            piece[1] = {const_cast<char*>("|"), 1};
            piece[2] = {tails[i].data(), tails[i].size()};
            const int count = i % 2 == 0 ? 1 : 3;
            batch.push_back({pairs[i].ours(), count, piece, -12345});
        }
        writer.write(batch);
        for (int i = 0; i < kConnections; ++i) {
            const std::string expected = i % 2 == 0 ? heads[i] : heads[i] + "|" + tails[i];
            CHECK(batch[i].result == static_cast<long>(expected.size()));
            CHECK(pairs[i].drain() == expected);
        }
    }
    if (ring_expected()) CHECK(writer.ring_in_use());
    for (const SocketPair& p : pairs) writer.forget(p.ours());  // before the pairs close
}

TEST_CASE("a full socket gets 0, a larger write a short count, a closed peer -EPIPE, each apart from the others") {
    UringBatchWriter writer;
    SocketPair full, big, gone, fine;
    const std::string filler(4096, 'f');
    while (::send(full.ours(), filler.data(), filler.size(), MSG_DONTWAIT) > 0) {
    }
    gone.close_theirs();
    const std::string large(4 * 1024 * 1024, 'L');  // more than a socket buffer holds
    const std::string small = "still delivered";
    iovec pieces[4] = {{const_cast<char*>(small.data()), small.size()},
                       {const_cast<char*>(large.data()), large.size()},
                       {const_cast<char*>(small.data()), small.size()},
                       {const_cast<char*>(small.data()), small.size()}};
    BatchedWrite batch[4] = {{full.ours(), 1, &pieces[0], -1},
                             {big.ours(), 1, &pieces[1], -1},
                             {gone.ours(), 1, &pieces[2], -1},
                             {fine.ours(), 1, &pieces[3], -1}};
    writer.write(batch);
    CHECK(batch[0].result == 0);
    CHECK(batch[1].result > 0);
    CHECK(batch[1].result < static_cast<long>(large.size()));
    CHECK(batch[2].result == -EPIPE);
    CHECK(batch[3].result == static_cast<long>(small.size()));
    const std::string got = big.drain();
    CHECK(got.size() == static_cast<std::size_t>(batch[1].result));
    CHECK(got == large.substr(0, got.size()));
    CHECK(fine.drain() == small);
    for (const SocketPair* p : {&full, &big, &gone, &fine}) writer.forget(p->ours());
}

TEST_CASE("a descriptor forgotten and closed: its socket really ends, and its number reused reaches the new one") {
    UringBatchWriter writer;
    SocketPair old_pair;
    std::string first = "to the old socket";
    iovec piece{first.data(), first.size()};
    BatchedWrite one{old_pair.ours(), 1, &piece, -1};
    writer.write({&one, 1});  // registers the descriptor
    REQUIRE(one.result == static_cast<long>(first.size()));
    CHECK(old_pair.drain() == first);

    const int old_number = old_pair.ours();
    writer.forget(old_number);
    old_pair.close_ours();
    // Had the ring kept a reference, the old socket would still be open and its peer would see no end of stream.
    char byte;
    CHECK(::recv(old_pair.theirs(), &byte, 1, MSG_DONTWAIT) == 0);

    SocketPair new_pair;  // the lowest free number: the old one
    CHECK(new_pair.ours() == old_number);
    std::string second = "to the new socket";
    piece = {second.data(), second.size()};
    one = {new_pair.ours(), 1, &piece, -1};
    writer.write({&one, 1});
    CHECK(one.result == static_cast<long>(second.size()));
    CHECK(new_pair.drain() == second);
    writer.forget(new_pair.ours());
}

TEST_CASE("one batch registers every new descriptor: runs with gaps, one written twice, and a table that grows") {
    if (!ring_expected()) return;
    // A low descriptor limit makes the first table small, so a descriptor numbered past it needs a larger one,
    // into which the ones already registered must be carried.
    rlimit saved{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
    REQUIRE(saved.rlim_cur >= 4096);
    struct RestoreLimit {
        rlimit limit;
        ~RestoreLimit() { ::setrlimit(RLIMIT_NOFILE, &limit); }  // for the tests after this one, even on failure
    } restore{saved};
    rlimit low = saved;
    low.rlim_cur = 1024;
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);

    UringBatchWriter writer;
    std::vector<SocketPair> pairs(40);
    // Two far apart (gaps wider than one update spans) and one the first table cannot hold.
    const int far = ::fcntl(pairs[0].ours(), F_DUPFD_CLOEXEC, 600);
    REQUIRE(far >= 600);
    std::string message = "registered";
    iovec piece{message.data(), message.size()};
    std::vector<BatchedWrite> batch;
    for (std::size_t i = 1; i < pairs.size(); i += 2) batch.push_back({pairs[i].ours(), 1, &piece, -1});
    batch.push_back({pairs[1].ours(), 1, &piece, -1});  // the same descriptor twice in one batch
    batch.push_back({far, 1, &piece, -1});
    writer.write(batch);
    for (const BatchedWrite& w : batch) {
        CHECK(w.result == static_cast<long>(message.size()));
        CHECK(writer.in_file_table(w.fd));
    }
    CHECK(!writer.in_file_table(pairs[2].ours()));  // not written: not registered

    REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);
    const int beyond = ::fcntl(pairs[2].ours(), F_DUPFD_CLOEXEC, 3000);
    REQUIRE(beyond >= 3000);
    BatchedWrite more[2] = {{beyond, 1, &piece, -1}, {pairs[3].ours(), 1, &piece, -1}};
    writer.write(more);
    CHECK(more[0].result == static_cast<long>(message.size()));
    CHECK(more[1].result == static_cast<long>(message.size()));
    CHECK(writer.in_file_table(beyond));
    for (const BatchedWrite& w : batch) CHECK(writer.in_file_table(w.fd));  // carried into the larger table

    // Everything written arrived once: the batch's pieces plus the second round's.
    CHECK(pairs[0].drain() == message);            // through `far`
    CHECK(pairs[1].drain() == message + message);  // twice in the batch
    CHECK(pairs[2].drain() == message);            // through `beyond`
    CHECK(pairs[3].drain() == message + message);  // in the batch, then beside `beyond`
    for (int fd : {far, beyond}) {
        writer.forget(fd);
        ::close(fd);
    }
    for (const SocketPair& p : pairs) writer.forget(p.ours());
}

TEST_CASE("prepared descriptors are registered before their first write, and one forgotten first never is") {
    if (!ring_expected()) return;
    UringBatchWriter writer;
    std::vector<SocketPair> pairs(6);
    for (const SocketPair& p : pairs) {
        writer.prepare(p.ours());
        writer.prepare(p.ours());  // a second subscription: nothing more
    }
    CHECK(!writer.in_file_table(pairs[0].ours()));  // not before the end of the loop turn
    writer.register_prepared();
    for (const SocketPair& p : pairs) CHECK(writer.in_file_table(p.ours()));

    // Closed before its registration: the number, reused by a socket nobody prepared, stays a plain descriptor,
    // and a write to it reaches the new socket.
    SocketPair gone;
    const int number = gone.ours();
    writer.prepare(number);
    writer.forget(number);
    gone.close_ours();
    SocketPair reused;
    REQUIRE(reused.ours() == number);
    writer.register_prepared();
    CHECK(!writer.in_file_table(number));
    std::string message = "to the socket now at that number";
    iovec piece{message.data(), message.size()};
    BatchedWrite one{number, 1, &piece, -1};
    writer.write({&one, 1});
    CHECK(one.result == static_cast<long>(message.size()));
    CHECK(reused.drain() == message);
    CHECK(writer.in_file_table(number));  // registered by the write itself

    // Written before the end of the turn: the write registers it, and the turn's end finds nothing left to do.
    SocketPair early;
    writer.prepare(early.ours());
    one = {early.ours(), 1, &piece, -1};
    writer.write({&one, 1});
    writer.register_prepared();
    CHECK(writer.in_file_table(early.ours()));
    CHECK(early.drain() == message);

    for (const SocketPair* p : {&reused, &early}) writer.forget(p->ours());
    for (const SocketPair& p : pairs) writer.forget(p.ours());
}
