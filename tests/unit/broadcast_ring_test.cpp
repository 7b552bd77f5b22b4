// The broadcast ring: every item reaches every consumer exactly once, in claim order per producer; a full ring
// refuses claims (and charges the consumer holding it back) instead of blocking; slots come back once every
// consumer has passed them. Random single-thread schedules probe the claim/publish/poll interleavings
// deterministically; a multi-thread stress (run under TSan in CI) probes the memory ordering.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <random>
#include <thread>
#include <vector>

#include "surge/core/broadcast_ring.hpp"
#include "surge/core/shared_bytes.hpp"

namespace {

struct Item {
    std::uint32_t producer;
    std::uint32_t number;  // per producer, from 0
};

}  // namespace

TEST_CASE("broadcast ring: capacity is a power of two and a full ring refuses claims") {
    surge::BroadcastRing<int> ring(5, 2);
    CHECK(ring.capacity() == 8);
    for (int i = 0; i < 8; ++i) CHECK(ring.try_push(i));
    CHECK_FALSE(ring.try_push(8));
    CHECK(ring.full_count() == 1);
    CHECK(ring.lag(0) == 8);

    // Consumer 0 reads everything; consumer 1 still holds every slot, so the ring stays full and 1 is charged.
    std::vector<int> seen;
    CHECK(ring.poll(0, [&](int v) { seen.push_back(v); }) == 8);
    CHECK(seen == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7});
    CHECK_FALSE(ring.ready(0));
    CHECK_FALSE(ring.try_push(8));
    CHECK(ring.stalls(1) >= 1);
    CHECK(ring.lag(0) == 0);
    CHECK(ring.lag(1) == 8);

    // Consumer 1 reads three: three slots come back, no more.
    CHECK(ring.poll(1, [](int) {}, 3) == 3);
    for (int i = 8; i < 11; ++i) CHECK(ring.try_push(i));
    CHECK_FALSE(ring.try_push(11));
    seen.clear();
    CHECK(ring.poll(1, [&](int v) { seen.push_back(v); }) == 8);
    CHECK(seen == std::vector<int>{3, 4, 5, 6, 7, 8, 9, 10});
}

TEST_CASE("broadcast ring: a claimed but unpublished slot holds consumers back, in order") {
    surge::BroadcastRing<int> ring(4, 1);
    const auto first = ring.try_claim();
    REQUIRE(first);
    CHECK(ring.try_push(2));
    CHECK_FALSE(ring.ready(0));  // the item behind the gap is published, but order comes first
    CHECK(ring.poll(0, [](int) {}) == 0);
    ring.publish(*first, 1);
    std::vector<int> seen;
    CHECK(ring.poll(0, [&](int v) { seen.push_back(v); }) == 2);
    CHECK(seen == std::vector<int>{1, 2});
}

TEST_CASE("broadcast ring: claim_until gives up at its deadline and succeeds once a slot frees") {
    surge::BroadcastRing<int> ring(2, 1);
    CHECK(ring.try_push(1));
    CHECK(ring.try_push(2));
    const auto start = std::chrono::steady_clock::now();
    CHECK_FALSE(ring.claim_until(start + std::chrono::milliseconds(20)));
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(20));

    std::thread consumer([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        ring.poll(0, [](int) {}, 1);
    });
    const auto sequence = ring.claim_until(std::chrono::steady_clock::now() + std::chrono::seconds(30));
    consumer.join();
    REQUIRE(sequence);
    CHECK(*sequence == 2);
    ring.publish(*sequence, 3);
}

TEST_CASE("broadcast ring: random schedules deliver every item exactly once to every consumer, in order") {
    for (unsigned seed = 1; seed <= 300; ++seed) {
        CAPTURE(seed);
        std::mt19937 rng(seed);
        const unsigned producers = 1 + rng() % 4;
        const unsigned consumers = 1 + rng() % 4;
        surge::BroadcastRing<Item> ring(std::size_t{1} << (1 + rng() % 4), consumers);
        const std::uint32_t per_producer = 20 + rng() % 60;

        std::vector<std::uint32_t> made(producers, 0);
        struct Open {
            std::uint64_t sequence;
            Item item;
        };
        std::vector<Open> open;  // claimed, not yet published (any producer, any order)
        std::vector<std::vector<std::uint32_t>> next_expected(consumers, std::vector<std::uint32_t>(producers, 0));
        std::vector<std::uint64_t> seen(consumers, 0);
        bool ok = true;
        auto consume = [&](unsigned c, std::size_t max) {
            ring.poll(c, [&](const Item& item) {
                ok = ok && item.number == next_expected[c][item.producer];  // exactly once, in order
                ++next_expected[c][item.producer];
                ++seen[c];
            }, max);
        };

        const std::uint64_t total = std::uint64_t{producers} * per_producer;
        for (int step = 0; step < 100000; ++step) {
            const unsigned what = rng() % 3;
            if (what == 0) {
                const unsigned p = rng() % producers;
                if (made[p] == per_producer) continue;
                std::uint64_t slowest = UINT64_MAX;
                for (unsigned c = 0; c < consumers; ++c) slowest = std::min(slowest, seen[c]);
                const bool room = ring.claimed() - slowest < ring.capacity();
                const auto sequence = ring.try_claim();
                ok = ok && sequence.has_value() == room;  // refused exactly when a consumer is a lap behind
                if (sequence) open.push_back({*sequence, {p, made[p]++}});
            } else if (what == 1 && !open.empty()) {
                const std::size_t i = rng() % open.size();
                ring.publish(open[i].sequence, open[i].item);
                open.erase(open.begin() + static_cast<std::ptrdiff_t>(i));
            } else {
                consume(rng() % consumers, 1 + rng() % 8);
            }
            bool done = open.empty();
            for (unsigned c = 0; c < consumers && done; ++c) done = seen[c] == total;
            if (done) break;
        }
        // Finish whatever the schedule left: publish open claims, then drain every consumer.
        for (const Open& o : open) ring.publish(o.sequence, o.item);
        for (unsigned c = 0; c < consumers; ++c) consume(c, SIZE_MAX);
        for (unsigned p = 0; p < producers; ++p) {
            while (made[p] < per_producer) {
                const auto sequence = ring.try_claim();
                if (!sequence) {
                    for (unsigned c = 0; c < consumers; ++c) consume(c, SIZE_MAX);
                    continue;
                }
                ring.publish(*sequence, {p, made[p]++});
            }
        }
        for (unsigned c = 0; c < consumers; ++c) consume(c, SIZE_MAX);
        CHECK(ok);
        for (unsigned c = 0; c < consumers; ++c) CHECK(seen[c] == total);
    }
}

TEST_CASE("broadcast ring: concurrent producers and consumers (the TSan build checks the ordering)") {
    constexpr unsigned kProducers = 3;
    constexpr unsigned kConsumers = 3;
    constexpr std::uint32_t kPerProducer = 20000;
    surge::BroadcastRing<Item> ring(64, kConsumers);
    std::atomic<bool> ok{true};

    std::vector<std::thread> threads;
    for (unsigned c = 0; c < kConsumers; ++c) {
        threads.emplace_back([&, c] {
            std::vector<std::uint32_t> expected(kProducers, 0);
            std::uint64_t seen = 0;
            while (seen < std::uint64_t{kProducers} * kPerProducer) {
                const std::size_t n = ring.poll(c, [&](const Item& item) {
                    if (item.producer >= kProducers || item.number != expected[item.producer]) ok = false;
                    else ++expected[item.producer];
                }, 1 + c * 7);  // consumers read at different speeds
                seen += n;
                if (n == 0) std::this_thread::yield();
            }
        });
    }
    for (unsigned p = 0; p < kProducers; ++p) {
        threads.emplace_back([&, p] {
            for (std::uint32_t i = 0; i < kPerProducer; ++i) {
                const auto sequence = ring.claim_until(std::chrono::steady_clock::now() + std::chrono::seconds(60));
                if (!sequence) {
                    ok = false;
                    return;
                }
                ring.publish(*sequence, {p, i});
            }
        });
    }
    for (auto& t : threads) t.join();
    CHECK(ok.load());
    CHECK(ring.claimed() == std::uint64_t{kProducers} * kPerProducer);
    for (unsigned c = 0; c < kConsumers; ++c) CHECK(ring.lag(c) == 0);
}

TEST_CASE("shared bytes: the last release frees, across threads") {
    surge::SharedBytes* bytes = surge::SharedBytes::make(5, 1);
    REQUIRE(bytes);
    std::memcpy(bytes->data(), "hello", 5);
    bytes->retain(4);
    CHECK(bytes->references() == 5);
    std::vector<std::thread> holders;
    std::atomic<int> matched{0};
    for (int i = 0; i < 4; ++i) {
        holders.emplace_back([&] {
            if (std::string_view(bytes->data(), bytes->size()) == "hello") ++matched;
            bytes->release();
        });
    }
    for (auto& t : holders) t.join();
    CHECK(matched == 4);
    CHECK(bytes->references() == 1);
    bytes->release();  // ASan reports a leak if this did not free it
}
