// Test support: a broker held in memory (ws/broker.hpp), so that several surge::Servers in one test are nodes of
// one cluster, and faults can be made on purpose: deliveries lost to one node (a gap it must notice and fill), a
// lost connection (resync), history trimmed, the broker's data lost (a new epoch). It is also the proof that the
// seam takes a second implementation.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "surge/core/clock.hpp"
#include "surge/ws/broker.hpp"

namespace surge::test {

class MemoryBroker;

// What Redis is to the nodes: each topic's epoch, last offset and kept publications.
class MemoryBus {
public:
    explicit MemoryBus(std::size_t keep = 1000) : keep_(keep) {}

    // Forgets every topic, as a Redis restarted without its data: the next use makes a new epoch.
    void lose_everything() {
        const std::lock_guard<std::mutex> hold(lock_);
        topics_.clear();
        ++epochs_;
    }
    void set_keep(std::size_t keep) {
        const std::lock_guard<std::mutex> hold(lock_);
        keep_ = keep;
    }

private:
    friend class MemoryBroker;
    struct Topic {
        std::string epoch;
        std::uint64_t last = 0;
        std::deque<BrokerEntry> kept;
    };
    Topic& topic(const std::string& name) {
        Topic& t = topics_[name];
        if (t.epoch.empty()) t.epoch = "epoch" + std::to_string(++epochs_);
        return t;
    }

    std::mutex lock_;
    std::size_t keep_;
    std::uint64_t epochs_ = 0;
    std::map<std::string, Topic> topics_;
    std::vector<MemoryBroker*> nodes_;
};

class MemoryBroker final : public Broker {
public:
    explicit MemoryBroker(MemoryBus& bus) : bus_(bus) {
        const std::lock_guard<std::mutex> hold(bus_.lock_);
        bus_.nodes_.push_back(this);
    }
    ~MemoryBroker() override {
        stop();
        const std::lock_guard<std::mutex> hold(bus_.lock_);
        std::erase(bus_.nodes_, this);
    }

    // The next `count` publications meant for this node never reach it.
    void lose_next(int count) {
        const std::lock_guard<std::mutex> hold(bus_.lock_);
        lose_ = count;
    }
    // As if the connection was lost and made again: the sink is told to catch up.
    void reconnect() {
        Queued marker;
        marker.resync = true;
        push(std::move(marker));
    }
    // Publications handed to the sink so far.
    std::uint64_t delivered() const { return delivered_.load(); }

    bool start(BrokerSink& sink) override {
        sink_ = &sink;
        thread_ = std::thread([this] { run(); });
        return true;
    }
    void stop() noexcept override {
        {
            const std::lock_guard<std::mutex> hold(queue_lock_);
            stopping_ = true;
        }
        ready_.notify_all();
        if (thread_.joinable()) thread_.join();
    }
    PublishResult publish(std::string_view topic, std::string_view data, Opcode opcode,
                          std::string_view origin) override {
        const std::lock_guard<std::mutex> hold(bus_.lock_);
        MemoryBus::Topic& t = bus_.topic(std::string(topic));
        const std::uint64_t offset = ++t.last;
        t.kept.push_back({offset, std::string(data), opcode, unix_ms()});
        while (t.kept.size() > bus_.keep_) t.kept.pop_front();
        for (MemoryBroker* node : bus_.nodes_) {
            if (!node->interests_.count(std::string(topic))) continue;
            if (node->lose_ > 0) {
                --node->lose_;
                continue;
            }
            node->push({false, std::string(topic), offset, t.epoch, std::string(data), opcode, std::string(origin)});
        }
        return {PublishStatus::Success, offset};
    }
    bool interest(std::string_view topic, bool on) override {
        const std::lock_guard<std::mutex> hold(bus_.lock_);
        if (on) interests_.insert(std::string(topic));
        else interests_.erase(std::string(topic));
        return true;
    }
    BrokerHistory history(std::string_view topic, std::uint64_t after, std::size_t limit) override {
        const std::lock_guard<std::mutex> hold(bus_.lock_);
        MemoryBus::Topic& t = bus_.topic(std::string(topic));
        BrokerHistory h{true, t.epoch, t.last, {}};
        for (const BrokerEntry& e : t.kept) {
            if (after != kNewest && e.offset <= after) continue;
            h.entries.push_back(e);
        }
        if (h.entries.size() > limit) {
            if (after == kNewest) h.entries.erase(h.entries.begin(), h.entries.end() - static_cast<long>(limit));
            else h.entries.resize(limit);
        }
        return h;
    }
    BrokerStats stats() const noexcept override {
        BrokerStats stats;
        stats.connected = true;
        stats.delivered = delivered_.load();
        return stats;
    }

private:
    struct Queued {
        bool resync = false;
        std::string topic;
        std::uint64_t offset = 0;
        std::string epoch;
        std::string data;
        Opcode opcode = Opcode::Binary;
        std::string origin;
    };
    void push(Queued item) {
        {
            const std::lock_guard<std::mutex> hold(queue_lock_);
            queue_.push_back(std::move(item));
        }
        ready_.notify_all();
    }
    void run() {
        for (;;) {
            Queued item;
            {
                std::unique_lock<std::mutex> hold(queue_lock_);
                ready_.wait(hold, [&] { return stopping_ || !queue_.empty(); });
                if (stopping_) return;
                item = std::move(queue_.front());
                queue_.pop_front();
            }
            if (item.resync) {
                sink_->resync();
                continue;
            }
            sink_->deliver({item.topic, item.offset, item.epoch, item.data, item.opcode, item.origin});
            delivered_.fetch_add(1);
        }
    }

    MemoryBus& bus_;
    BrokerSink* sink_ = nullptr;
    std::set<std::string> interests_;  // guarded by the bus's lock
    int lose_ = 0;                     // likewise
    std::mutex queue_lock_;
    std::condition_variable ready_;
    std::deque<Queued> queue_;
    bool stopping_ = false;
    std::thread thread_;
    std::atomic<std::uint64_t> delivered_{0};
};

}  // namespace surge::test
