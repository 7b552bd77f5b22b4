#include "core/buffer_pool.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

using surge::BufferPool;
using surge::PooledBuffer;

TEST_CASE("chunks are reused up to the cache bound, then returned to the allocator") {
    BufferPool pool(4096, 2);
    std::byte* a = pool.acquire();
    std::byte* b = pool.acquire();
    std::byte* c = pool.acquire();
    REQUIRE((a && b && c));
    CHECK(pool.in_use() == 3);
    CHECK(reinterpret_cast<std::uintptr_t>(a) % 64 == 0);
    std::memset(a, 0xAB, 4096);  // the whole chunk is ours
    pool.release(a);
    pool.release(b);
    pool.release(c);  // over the cache bound: freed
    CHECK(pool.in_use() == 0);
    CHECK(pool.cached() == 2);
    std::set<std::byte*> reused{pool.acquire(), pool.acquire()};
    CHECK(reused == std::set<std::byte*>{a, b});  // last in, first out, both from the cache
    CHECK(pool.cached() == 0);
    for (std::byte* chunk : reused) pool.release(chunk);
    pool.release(nullptr);  // harmless
    CHECK(pool.in_use() == 0);
}

TEST_CASE("PooledBuffer gives its chunk back") {
    BufferPool pool(256, 8);
    {
        PooledBuffer first(pool);
        CHECK(first);
        CHECK(first.size() == 256);
        PooledBuffer moved = std::move(first);
        CHECK_FALSE(first);  // NOLINT(bugprone-use-after-move): checking the moved-from state is the point
        CHECK(pool.in_use() == 1);
        PooledBuffer other(pool);
        other = std::move(moved);
        CHECK(pool.in_use() == 1);
    }
    CHECK(pool.in_use() == 0);
    CHECK(pool.cached() == 2);
}

TEST_CASE("many acquire/release cycles stay bounded") {
    BufferPool pool(1024, 16);
    std::vector<std::byte*> held;
    for (int round = 0; round < 50; ++round) {
        for (int i = 0; i < 40; ++i) held.push_back(pool.acquire());
        for (std::byte* chunk : held) pool.release(chunk);
        held.clear();
        CHECK(pool.cached() <= 16);
    }
    CHECK(pool.in_use() == 0);
}
