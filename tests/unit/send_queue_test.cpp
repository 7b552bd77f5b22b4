#include "surge/core/send_queue.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

using surge::SendQueue;
using surge::SharedBytes;

namespace {

iovec piece(const std::string& s) { return {const_cast<char*>(s.data()), s.size()}; }

// Everything the queue would write next, in order.
std::string pending(const SendQueue& queue) {
    iovec iov[64];
    const int count = queue.gather(iov, 64);
    std::string out;
    for (int i = 0; i < count; ++i) out.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    return out;
}

}  // namespace

TEST_CASE("a copy skips what the socket already took, across pieces, and counts the rest") {
    SendQueue queue;
    const std::string a = "header", b = "payload";
    const iovec iov[2] = {piece(a), piece(b)};
    for (std::size_t skip = 0; skip <= a.size() + b.size(); ++skip) {
        CAPTURE(skip);
        REQUIRE(queue.push_copy(iov, 2, skip));
        CHECK(pending(queue) == (a + b).substr(skip));
        CHECK(queue.bytes() == a.size() + b.size() - skip);
        CHECK(queue.empty() == (skip == a.size() + b.size()));
        queue.clear();
        CHECK(queue.empty());
        CHECK(queue.bytes() == 0);
    }
}

TEST_CASE("chunks leave oldest first, a partial write keeps its offset, and every byte is accounted") {
    SendQueue queue;
    const std::vector<std::string> parts = {"one", "two2", "three"};
    std::string all;
    for (const std::string& p : parts) {
        const iovec iov = piece(p);
        REQUIRE(queue.push_copy(&iov, 1, 0));
        all += p;
    }
    // Consumed in every step size, the queue always holds exactly the unsent suffix.
    for (std::size_t step = 1; step <= all.size(); ++step) {
        CAPTURE(step);
        SendQueue q;
        for (const std::string& p : parts) {
            const iovec iov = piece(p);
            REQUIRE(q.push_copy(&iov, 1, 0));
        }
        std::size_t sent = 0;
        while (!q.empty()) {
            CHECK(pending(q) == all.substr(sent));
            CHECK(q.bytes() == all.size() - sent);
            const std::size_t n = std::min(step, all.size() - sent);
            q.consume(n);
            sent += n;
        }
        CHECK(sent == all.size());
        CHECK(q.bytes() == 0);
    }
    queue.clear();
}

TEST_CASE("gather stops at the caller's limit, and the rest follows in the next gather") {
    SendQueue queue;
    std::vector<std::string> parts;
    for (int i = 0; i < 10; ++i) parts.push_back(std::string(static_cast<std::size_t>(i + 1), char('a' + i)));
    for (const std::string& p : parts) {
        const iovec iov = piece(p);
        REQUIRE(queue.push_copy(&iov, 1, 0));
    }
    iovec iov[4];
    REQUIRE(queue.gather(iov, 4) == 4);
    CHECK(iov[0].iov_len == 1);
    CHECK(iov[3].iov_len == 4);
    queue.consume(1 + 2 + 3 + 4);
    REQUIRE(queue.gather(iov, 4) == 4);
    CHECK(static_cast<const char*>(iov[0].iov_base)[0] == 'e');
    queue.clear();
}

TEST_CASE("a shared frame is referenced, not copied, and its reference goes once it is sent or cleared") {
    SharedBytes* frame = SharedBytes::make(5, 1);  // the fan-out's own reference
    REQUIRE(frame);
    std::memcpy(frame->data(), "hello", 5);
    SendQueue sent_queue, dropped_queue;
    frame->retain(2);  // one per queue, taken before the pushes as the fan-out does
    REQUIRE(sent_queue.push_shared(frame, frame->data() + 1, 4));
    REQUIRE(dropped_queue.push_shared(frame, frame->data(), 5));
    CHECK(frame->references() == 3);
    iovec iov[2];
    REQUIRE(sent_queue.gather(iov, 2) == 1);
    CHECK(iov[0].iov_base == frame->data() + 1);  // the frame's own bytes
    CHECK(pending(sent_queue) == "ello");
    sent_queue.consume(3);
    CHECK(frame->references() == 3);  // one byte still to go
    sent_queue.consume(1);
    CHECK(frame->references() == 2);
    dropped_queue.clear();
    CHECK(frame->references() == 1);
    frame->release();
}

TEST_CASE("copies and shared frames interleave in order") {
    SharedBytes* frame = SharedBytes::make(3, 2);
    REQUIRE(frame);
    std::memcpy(frame->data(), "BBB", 3);
    SendQueue queue;
    const std::string a = "aa", c = "c";
    const iovec ia = piece(a), ic = piece(c);
    REQUIRE(queue.push_copy(&ia, 1, 0));
    REQUIRE(queue.push_shared(frame, frame->data(), 3));
    REQUIRE(queue.push_copy(&ic, 1, 0));
    CHECK(pending(queue) == "aaBBBc");
    CHECK(queue.bytes() == 6);
    queue.consume(4);
    CHECK(pending(queue) == "Bc");
    queue.clear();
    CHECK(frame->references() == 1);
    frame->release();
}
