#include "surge/core/timer_wheel.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <random>
#include <vector>

using surge::TimerNode;
using surge::TimerWheel;

namespace {
struct Timer {
    TimerNode node;
    int id = 0;
    std::uint64_t fired_at = 0;
};
Timer& owner(TimerNode& node) { return *reinterpret_cast<Timer*>(&node); }  // node is Timer's first member
}  // namespace

TEST_CASE("timers fire at their tick, in any order of adding") {
    TimerWheel wheel(64);
    Timer t[4];
    wheel.add(t[0].node, 5);
    wheel.add(t[1].node, 1);
    wheel.add(t[2].node, 63);
    wheel.add(t[3].node, 200);  // beyond one lap of 64 slots
    CHECK(wheel.armed_count() == 4);
    std::vector<std::uint64_t> fired_ticks;
    for (std::uint64_t tick = 1; tick <= 250; ++tick) {
        wheel.advance_to(tick, [&](TimerNode& n) { owner(n).fired_at = wheel.now(); });
    }
    CHECK(t[0].fired_at == 5);
    CHECK(t[1].fired_at == 1);
    CHECK(t[2].fired_at == 63);
    CHECK(t[3].fired_at == 200);
    CHECK(wheel.armed_count() == 0);
}

TEST_CASE("cancel and re-add") {
    TimerWheel wheel(16);
    Timer a, b;
    wheel.add(a.node, 3);
    wheel.add(b.node, 3);
    wheel.cancel(a.node);
    wheel.cancel(a.node);  // twice is harmless
    CHECK_FALSE(a.node.armed());
    wheel.add(b.node, 10);  // moves, not duplicates
    CHECK(wheel.armed_count() == 1);
    int fired = 0;
    wheel.advance_to(9, [&](TimerNode&) { ++fired; });
    CHECK(fired == 0);
    wheel.advance_to(10, [&](TimerNode& n) { fired += &n == &b.node ? 1 : 100; });
    CHECK(fired == 1);
}

TEST_CASE("a jump of many laps fires everything due, once") {
    TimerWheel wheel(8);
    std::vector<Timer> timers(100);
    for (std::size_t i = 0; i < timers.size(); ++i) wheel.add(timers[i].node, i + 1);
    int fired = 0;
    CHECK(wheel.advance_to(1000, [&](TimerNode&) { ++fired; }) == 100);
    CHECK(fired == 100);
    CHECK(wheel.now() == 1000);
}

TEST_CASE("a callback may cancel a timer due in the same tick, and re-arm itself") {
    TimerWheel wheel(8);
    Timer a, b;
    a.id = 1;
    b.id = 2;
    wheel.add(a.node, 2);
    wheel.add(b.node, 2);
    std::vector<int> order;
    wheel.advance_to(2, [&](TimerNode& n) {
        Timer& t = owner(n);
        order.push_back(t.id);
        wheel.cancel((t.id == 1 ? b : a).node);
        wheel.add(n, 3);
    });
    CHECK(order.size() == 1);
    CHECK(wheel.armed_count() == 1);
    order.clear();
    wheel.advance_to(5, [&](TimerNode& n) { order.push_back(owner(n).id); });
    CHECK(order.size() == 1);
}

TEST_CASE("random schedule agrees with a simple model") {
    std::mt19937_64 rng(42);
    TimerWheel wheel(32);
    std::vector<Timer> timers(300);
    std::map<int, std::uint64_t> due;  // id -> tick, the model
    for (std::size_t i = 0; i < timers.size(); ++i) timers[i].id = static_cast<int>(i);
    std::uint64_t now = 0;
    for (int step = 0; step < 3000; ++step) {
        Timer& t = timers[rng() % timers.size()];
        switch (rng() % 3) {
        case 0: {
            const std::uint64_t delay = 1 + rng() % 100;
            wheel.add(t.node, delay);
            due[t.id] = now + delay;
            break;
        }
        case 1:
            wheel.cancel(t.node);
            due.erase(t.id);
            break;
        default: {
            now += rng() % 5;
            wheel.advance_to(now, [&](TimerNode& n) {
                const Timer& fired = owner(n);
                REQUIRE(due.count(fired.id) == 1);
                CHECK(due[fired.id] == wheel.now());
                due.erase(fired.id);
            });
            for (const auto& [id, tick] : due) CHECK(tick > now);
        }
        }
        CHECK(wheel.armed_count() == due.size());
    }
}
