#include "surge/ws/detail/fan_out.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "surge/ws/detail/slab.hpp"

using namespace surge;
using namespace surge::detail;

namespace {

// A shard's fan-out state without its sockets: subscribers are real slab slots, messages real ring items.
struct Bench {
    TopicDirectory directory;
    ShardTopics topics{directory};
    ConnectionSlab slab{sizeof(WebSocket)};
    BroadcastRing<BroadcastItem> ring{1024, 1};
    FanOut fan_out;
    std::vector<WebSocket*> subscribers;

    ~Bench() {
        for (WebSocket* ws : subscribers) topics.unsubscribe_all(*ws);
    }

    void subscribe(std::size_t count, std::string_view topic) {
        for (std::size_t i = 0; i < count; ++i) {
            WebSocket& ws = slab.allocate();
            REQUIRE(topics.subscribe(ws, topic));
            subscribers.push_back(&ws);
        }
    }
    // Publishes `frame` to `topic` with the shard's one reference.
    SharedBytes* publish(std::string_view topic, std::string_view frame) {
        SharedBytes* bytes = SharedBytes::make(topic.size() + frame.size(), 1);
        std::memcpy(bytes->data(), topic.data(), topic.size());
        std::memcpy(bytes->data() + topic.size(), frame.data(), frame.size());
        const auto sequence = ring.try_claim();
        REQUIRE(sequence);
        ring.publish(*sequence, {bytes, static_cast<std::uint16_t>(topic.size()), kNoShard, 0, 0, 0});
        return bytes;
    }
};

}  // namespace

TEST_CASE("a large topic is served a part per turn, each subscriber getting the whole window in order") {
    Bench bench;
    const std::size_t many = FanOut::kFanOutPerTurn + 500;
    bench.subscribe(many, "big");
    bench.subscribe(3, "small");
    SharedBytes* a = bench.publish("big", "A");
    SharedBytes* b = bench.publish("big", "B");
    SharedBytes* c = bench.publish("small", "C");
    a->retain();  // the test's own, to read the counts after the fan-out lets go
    b->retain();
    c->retain();

    std::map<const WebSocket*, std::string> got;
    std::size_t calls = 0;
    auto stage = [&](WebSocket& ws, const BroadcastItem& item) {
        ++calls;
        got[&ws] += std::string(item.frame());
        return item.frame() != "B";  // as if B were encrypted at once (no reference kept)
    };
    bench.fan_out.take(bench.ring, 0);
    CHECK(bench.fan_out.taken() == 3);
    bench.fan_out.turn(bench.topics, stage);
    CHECK(calls == 2 * FanOut::kFanOutPerTurn);  // one turn's subscribers, both messages of the window each
    CHECK(bench.fan_out.taken() == 3);
    bench.fan_out.turn(bench.topics, stage);
    CHECK(bench.fan_out.taken() == 0);  // the rest of "big", then "small", within the second turn's budget
    CHECK(calls == 2 * many + 3);
    std::size_t whole_windows = 0;
    for (std::size_t i = 0; i < many; ++i) whole_windows += got[bench.subscribers[i]] == "AB";
    CHECK(whole_windows == many);
    for (std::size_t i = many; i < many + 3; ++i) CHECK(got[bench.subscribers[i]] == "C");
    // The shard's reference is gone; each kept copy holds one, taken in one add per message.
    CHECK(a->references() == 1 + many);
    CHECK(b->references() == 1);
    CHECK(c->references() == 1 + 3);
    a->release(static_cast<std::uint32_t>(1 + many));
    b->release();
    c->release(4);
}

TEST_CASE("a message to a topic without subscribers here is dropped with its reference") {
    Bench bench;
    SharedBytes* lonely = bench.publish("nobody", "x");
    lonely->retain();
    bench.fan_out.take(bench.ring, 0);
    bench.fan_out.turn(bench.topics, [](WebSocket&, const BroadcastItem&) { return true; });
    CHECK(bench.fan_out.taken() == 0);
    CHECK(lonely->references() == 1);
    lonely->release();
}

TEST_CASE("no more than kMaxTaken items are held, the ring keeps the rest, and dropping releases them") {
    Bench bench;
    std::vector<SharedBytes*> frames;
    for (std::size_t i = 0; i < FanOut::kMaxTaken + 10; ++i) {
        frames.push_back(bench.publish("t", "m"));
        frames.back()->retain();
    }
    bench.fan_out.take(bench.ring, 0);
    CHECK(bench.fan_out.taken() == FanOut::kMaxTaken);
    CHECK(bench.ring.lag(0) == 10);
    bench.fan_out.drop_all();
    CHECK_FALSE(bench.fan_out.busy());
    for (std::size_t i = 0; i < FanOut::kMaxTaken; ++i) CHECK(frames[i]->references() == 1);
    bench.ring.poll(0, [](const BroadcastItem& item) { item.bytes->release(); });
    for (SharedBytes* f : frames) f->release();
}
