// A broker on Redis (ws/broker.hpp), so that several surge nodes share topics, offsets and history. Layer: ws,
// in its own library (surge::redis, linked to hiredis); surge::ws does not need it.
//
// In Redis, per topic (names under `prefix`):
//   <prefix>m:<topic>  a hash: the epoch ("e") and the last offset ("o"); kept epoch_seconds after the last use;
//   <prefix>s:<topic>  a stream, one entry per kept publication, id "<offset>-0" (so offsets are read by range),
//                      fields d (the bytes), k (1 text, 2 binary), t (unix ms), in that order; at most
//                      history_size entries, none older than history_seconds (trimmed at each publish, and the
//                      whole key expires history_seconds after the last one);
//   <prefix>c:<topic>  the channel the publications go out on.
// A publish is one script (one round trip): it takes the next offset, appends to the stream, trims it and
// publishes, atomically, so every node sees a topic's publications in offset order and a history read never
// misses one that was delivered. A new epoch is made when the hash is missing (first use, Redis lost its data,
// or the topic was idle past epoch_seconds).
// Threads: one of the broker's own holds the subscribing connection (and delivers to the sink); publish() and
// history() take a connection from a small pool, so any thread may call them at once.
// hiredis 0.14 (Debian 12) has no TLS: reach a remote Redis over a private network or a TLS tunnel.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "surge/core/result.hpp"
#include "surge/ws/broker.hpp"

struct redisContext;
struct redisReply;

namespace surge {

struct RedisOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 6379;
    std::string username{};  // Redis 6 ACL user; empty: AUTH with the password alone
    std::string password{};
    unsigned database = 0;
    std::string prefix = "surge:";
    std::size_t history_size = 1000;  // publications kept per topic (0: none: resume needs history)
    unsigned history_seconds = 300;
    unsigned epoch_seconds = 86400;  // a topic's offsets and epoch outlive its history by this much
    std::chrono::milliseconds timeout{1000};  // to connect, and for each command

    // redis://[[user]:password@]host[:port][/database]. `why` says what is wrong otherwise (rediss:// included:
    // no TLS in this hiredis).
    static bool parse_url(std::string_view url, RedisOptions& options, std::string& why);
};

// The two scripts the broker runs (by EVALSHA), for a server that serves this broker without being Redis
// (surge-push's worker hub, tools/push/worker_hub.hpp): what each takes and answers is written above it in
// redis_broker.cpp.
std::string_view redis_publish_script() noexcept;
std::string_view redis_history_script() noexcept;
// A script's SHA-1 in hex, as EVALSHA names it.
std::string redis_script_sha(std::string_view script);

class RedisBroker final : public Broker {
public:
    explicit RedisBroker(RedisOptions options);
    ~RedisBroker() override;
    RedisBroker(const RedisBroker&) = delete;
    RedisBroker& operator=(const RedisBroker&) = delete;

    bool start(BrokerSink& sink) override;
    void stop() noexcept override;
    PublishResult publish(std::string_view topic, std::string_view data, Opcode opcode,
                          std::string_view origin) override;
    bool interest(std::string_view topic, bool on) override;
    BrokerHistory history(std::string_view topic, std::uint64_t after, std::size_t limit) override;
    // All in one round trip on one pooled connection (pipelined); after a Redis restart (the scripts forgotten),
    // loads the history script and asks those again. An answer whose read failed is not ok.
    std::vector<BrokerHistory> histories(std::span<const HistoryQuery> queries) override;
    BrokerStats stats() const noexcept override;

    // One round trip on a pooled connection (PING): whether Redis answers now. Any thread.
    bool reachable();
    const RedisOptions& options() const noexcept { return options_; }

private:
    struct Interest {
        bool wanted = false;
        bool heard = false;     // Redis confirmed the subscription
        unsigned pending = 0;   // SUBSCRIBE commands sent or queued, not confirmed yet
    };
    struct Order {
        bool subscribe;
        std::string channel;
    };

    // A connected, authenticated context on options_.database, or null (`why` says why).
    redisContext* connect(std::string& why) const;
    // A pooled connection (one that Redis closed meanwhile is dropped unused), or a new one; null when Redis
    // cannot be reached. give_back() pools it again, only with nothing left to read on it.
    redisContext* borrow();
    void give_back(redisContext* context) noexcept;
    // Runs a command on a pooled connection (a pooled one that Redis closed meanwhile is dropped unused); null
    // when it failed, and then `sent` says whether the whole command had been written (its effect is unknown)
    // or not (it had none).
    redisReply* command(const std::vector<std::string_view>& args, bool& sent);
    // EVALSHA, or EVAL when Redis does not have the script yet.
    redisReply* script(const std::string& body, const std::string& sha, const std::vector<std::string_view>& args,
                       bool& sent);
    // The history script's KEYS and ARGV for a query: stream, hash, after, limit, epoch seconds.
    std::vector<std::string> history_arguments(const HistoryQuery& query) const;
    // histories() in one pipeline: sets the answers it could read, and returns the indexes Redis answered
    // NOSCRIPT for (their answers untouched).
    std::vector<std::size_t> pipeline_histories(std::span<const HistoryQuery> queries,
                                                std::vector<BrokerHistory>& answers);
    void subscriber_loop();
    // One connection's life on the subscriber thread: returns when it is lost or stop() was called.
    void serve(redisContext* context, bool reconnected);
    void handle(redisReply* reply);
    void wake() noexcept;
    std::string key(char kind, std::string_view topic) const;

    RedisOptions options_;
    std::string publish_sha_;
    std::string history_sha_;
    BrokerSink* sink_ = nullptr;

    std::mutex pool_lock_;
    std::vector<redisContext*> pool_;

    mutable std::mutex interest_lock_;
    std::condition_variable heard_;
    std::unordered_map<std::string, Interest> interests_;  // by topic
    std::deque<Order> orders_;                              // for the subscriber thread

    int wake_fd_ = -1;
    std::thread subscriber_;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> connected_{false};
    std::atomic<std::uint64_t> reconnects_{0};
    std::atomic<std::uint64_t> publish_failures_{0};
    std::atomic<std::uint64_t> delivered_{0};
};

}  // namespace surge
