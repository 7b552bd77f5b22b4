#include "tools/loadgen/sequence_check.hpp"

#include <doctest/doctest.h>

#include <string>

#include "tools/loadgen/stamp.hpp"

using surge::loadgen::SequenceCheck;
using surge::loadgen::SequenceCounts;

TEST_CASE("sequence mark: written and read back after the stamp and refused where absent") {
    std::string payload(40, 'x');
    surge::loadgen::write_stamp(payload.data(), 0x0123456789abcdefULL);
    surge::loadgen::write_sequence(payload.data(), 0xdeadbeefu, 0x00c0ffeeu);
    CHECK(payload.substr(0, 32) == "0123456789abcdefdeadbeef00c0ffee");
    std::uint64_t stamp = 0;
    std::uint32_t publisher = 0, number = 0;
    REQUIRE(surge::loadgen::read_stamp(payload, stamp));
    CHECK(stamp == 0x0123456789abcdefULL);
    REQUIRE(surge::loadgen::read_sequence(payload, publisher, number));
    CHECK(publisher == 0xdeadbeefu);
    CHECK(number == 0x00c0ffeeu);
    // A stamp alone (a 16-byte message), a cut mark, and filler where the mark would be: no mark.
    CHECK_FALSE(surge::loadgen::read_sequence(payload.substr(0, 16), publisher, number));
    CHECK_FALSE(surge::loadgen::read_sequence(payload.substr(0, 31), publisher, number));
    std::string unmarked(32, 'x');
    surge::loadgen::write_stamp(unmarked.data(), 1);
    CHECK(surge::loadgen::read_stamp(unmarked, stamp));
    CHECK_FALSE(surge::loadgen::read_sequence(unmarked, publisher, number));
}

TEST_CASE("sequence check: an unbroken stream counts nothing lost from wherever it starts") {
    SequenceCheck check;
    SequenceCounts counts;
    CHECK(check.empty());
    for (std::uint32_t n = 7; n < 107; ++n) check.see(1, n, counts);  // joined while number 7 was under way
    CHECK_FALSE(check.empty());
    CHECK(counts.checked == 100);
    CHECK(counts.lost == 0);
    CHECK(counts.repeated == 0);
}

TEST_CASE("sequence check: gaps count every skipped number while repeats and late arrivals count apart") {
    SequenceCheck check;
    SequenceCounts counts;
    for (const std::uint32_t n : {0u, 1u, 2u, 5u, 6u, 10u}) check.see(1, n, counts);
    CHECK(counts.lost == 2 + 3);
    CHECK(counts.repeated == 0);
    check.see(1, 6, counts);  // a duplicate
    check.see(1, 4, counts);  // one of the lost arriving late
    CHECK(counts.repeated == 2);
    check.see(1, 11, counts);  // the stream goes on from its highest number
    CHECK(counts.lost == 5);
    CHECK(counts.checked == 9);
}

TEST_CASE("sequence check: the streams of several publishers are kept apart when interleaved") {
    SequenceCheck check;
    SequenceCounts counts;
    for (std::uint32_t n = 0; n < 50; ++n) {
        check.see(0xa0001, n, counts);
        if (n % 2 == 0) check.see(0xb0001, n / 2, counts);
        check.see(0xa0002, 1000 + n, counts);
    }
    CHECK(counts.lost == 0);
    CHECK(counts.repeated == 0);
    check.see(0xb0001, 30, counts);  // 25..29 never came
    CHECK(counts.lost == 5);
    check.reset();  // the connection opened again: every stream starts afresh
    CHECK(check.empty());
    check.see(0xa0001, 3, counts);
    CHECK(counts.lost == 5);
    CHECK(counts.repeated == 0);
}
