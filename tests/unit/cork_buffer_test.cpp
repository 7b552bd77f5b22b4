#include "surge/core/cork_buffer.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace surge;

namespace {

std::string text_of(const iovec& piece) { return {static_cast<const char*>(piece.iov_base), piece.iov_len}; }

}  // namespace

TEST_CASE("CorkBuffer keeps the pieces it takes in order, as one piece, and refuses what does not fit") {
    CorkBuffer cork;
    CHECK(cork.empty());
    std::string header = "H1";
    std::string payload = "first";
    const iovec two[2] = {{header.data(), header.size()}, {payload.data(), payload.size()}};
    REQUIRE(cork.take(two, 2, 7));
    const iovec empty_payload[2] = {{header.data(), header.size()}, {nullptr, 0}};  // a null base with no bytes
    REQUIRE(cork.take(empty_payload, 2, 2));
    CHECK_FALSE(cork.empty());
    header = "xx";  // the cork holds copies, not the caller's bytes
    CHECK(text_of(cork.drain()) == "H1firstH1");
    CHECK(cork.empty());

    // Full: a piece that would pass kCapacity is refused whole, and what was taken stays.
    const std::string big(CorkBuffer::kCapacity - 3, 'b');
    const iovec big_piece{const_cast<char*>(big.data()), big.size()};
    REQUIRE(cork.take(&big_piece, 1, big.size()));
    const std::string four = "four";
    const iovec four_piece{const_cast<char*>(four.data()), four.size()};
    CHECK_FALSE(cork.take(&four_piece, 1, four.size()));
    const std::string three = "333";
    const iovec three_piece{const_cast<char*>(three.data()), three.size()};
    CHECK(cork.take(&three_piece, 1, three.size()));  // exactly full
    const iovec held = cork.drain();
    CHECK(held.iov_len == CorkBuffer::kCapacity);
    CHECK(text_of(held).substr(held.iov_len - 3) == "333");

    // clear() forgets what it held.
    REQUIRE(cork.take(&four_piece, 1, four.size()));
    cork.clear();
    CHECK(cork.empty());
    CHECK(cork.drain().iov_len == 0);
}
