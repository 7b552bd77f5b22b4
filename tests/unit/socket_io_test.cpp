// send_without_waiting (net/socket_io.hpp): whichever call it makes (send() for one piece or for small pieces
// copied together, sendmsg() for larger ones), the result is what one send of all the pieces would give.
#include "surge/net/socket_io.hpp"

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "tests/support/socket_pair.hpp"

using namespace surge::net;
using surge::test::SocketPair;

namespace {

iovec piece(std::string& s) { return {s.data(), s.size()}; }

}  // namespace

TEST_CASE("send_without_waiting: small pieces together, large ones gathered, in order, with the count written") {
    for (const std::size_t size : {std::size_t{0}, std::size_t{1}, kCoalesceBytes / 3, kCoalesceBytes / 2,
                                   kCoalesceBytes, std::size_t{70'000}}) {
        CAPTURE(size);
        SocketPair pair;
        std::string a = "\x81\x05", b(size, 'b'), c = "tail";
        const iovec iov[3] = {piece(a), piece(b), piece(c)};
        const long n = send_without_waiting(pair.ours(), iov, 3);
        REQUIRE(n > 0);
        const std::string got = pair.drain();
        CHECK(got.size() == static_cast<std::size_t>(n));
        CHECK(got == (a + b + c).substr(0, static_cast<std::size_t>(n)));  // a short count names a prefix
        if (size <= kCoalesceBytes) CHECK(static_cast<std::size_t>(n) == a.size() + b.size() + c.size());
    }
}

TEST_CASE("send_without_waiting: an empty piece with no base (an empty payload) is skipped, the rest sent") {
    SocketPair pair;
    std::string head("\x82\x00", 2);  // a binary frame with an empty payload
    const iovec iov[2] = {piece(head), {nullptr, 0}};
    CHECK(send_without_waiting(pair.ours(), iov, 2) == 2);
    CHECK(pair.drain() == head);
}

TEST_CASE("send_without_waiting: a full socket gets 0 whichever call is made, a closed peer -EPIPE") {
    SocketPair pair;
    std::string fill(65536, 'f');
    const iovec big{fill.data(), fill.size()};
    while (send_without_waiting(pair.ours(), &big, 1) > 0) {
    }
    std::string a = "ab", b = "cd", large(4096, 'l');
    const iovec small[2] = {piece(a), piece(b)};
    const iovec gathered[2] = {piece(a), piece(large)};
    CHECK(send_without_waiting(pair.ours(), small, 2) == 0);
    CHECK(send_without_waiting(pair.ours(), gathered, 2) == 0);
    pair.close_theirs();
    CHECK(send_without_waiting(pair.ours(), small, 2) == -EPIPE);
    CHECK(send_without_waiting(pair.ours(), gathered, 2) == -EPIPE);
}
