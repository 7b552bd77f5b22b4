// What the workers of `surge-push --workers N` share when no Redis is given: a hub in the parent process that
// numbers, keeps and hands out every publication, so a publish taken by any worker reaches the subscribers of
// all, with one offset, and a subscriber resumes on whichever worker its reconnection lands. Layer: tools.
// The hub serves the subset of Redis's protocol that surge::RedisBroker speaks (tools/push/resp.hpp: AUTH, PING,
// SELECT, SUBSCRIBE, UNSUBSCRIBE, and EVALSHA/EVAL of the broker's two scripts, done here in C++ with the same
// effect), so each worker is a node with the very broker a cluster on Redis uses, and nothing of the delivery
// path is written twice. It listens on 127.0.0.1 on a port of its own, and a connection must AUTH with a password
// made for the run (handed to the workers in memory, never on a command line).
// Nothing is lost silently: a worker whose connection falls more than max_output_bytes behind is disconnected;
// it reconnects and reads what it missed from the hub's history (or, past it, tells its subscribers that
// resume "not recovered"), exactly as against Redis.
#pragma once

#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "tools/push/resp.hpp"

namespace surge::push {

struct HubLimits {
    std::size_t history_size = 1000;  // per topic
    unsigned history_seconds = 300;
    std::size_t max_topics = 100'000;
    std::size_t max_output_bytes = 64 * 1024 * 1024;  // per worker connection, then it is cut (and catches up)
    std::size_t max_message_bytes = 64 * 1024;
};

class WorkerHub {
public:
    // Binds 127.0.0.1:0 (before the workers are forked: they connect to it). Null, with `why`, on failure.
    static std::unique_ptr<WorkerHub> open(const HubLimits& limits, std::string& why);
    ~WorkerHub();
    WorkerHub(const WorkerHub&) = delete;
    WorkerHub& operator=(const WorkerHub&) = delete;

    // redis://:<password>@127.0.0.1:<port>: what the workers' broker connects to.
    std::string url() const;
    // Serves on a thread of its own (in the parent, after the fork) until destroyed.
    void start();

private:
    struct Connection {
        int fd = -1;
        bool authenticated = false;
        std::string input;
        std::string output;
        std::size_t output_sent = 0;
        std::set<std::string> channels;
    };
    struct Entry {
        std::uint64_t offset;
        std::string data;
        std::string kind;
        std::int64_t unix_ms;
    };
    struct Topic {
        std::string epoch;
        std::uint64_t last = 0;
        std::deque<Entry> kept;
        const std::string* key = nullptr;      // its key in topics_ (the map's nodes never move)
        std::list<Topic*>::iterator in_order;  // its place in idle_, or idle_.end() once it has history
    };

    explicit WorkerHub(const HubLimits& limits);
    void serve();
    void accept_all();
    // Reads and answers what `connection` sent; false when it must be closed.
    bool read_from(Connection& connection);
    void run(Connection& connection, const std::vector<std::string_view>& command);
    void publish(Connection& connection, const std::vector<std::string_view>& command);
    void history(Connection& connection, const std::vector<std::string_view>& command);
    void subscribe(Connection& connection, const std::vector<std::string_view>& command, bool on);
    // The topic, made if new (with a new epoch); null when max_topics are held and every one has history.
    Topic* topic(std::string_view key, std::int64_t now_ms);
    // Moves `topic` to the recent end of idle_, or off it for good once it has history.
    void used(Topic& topic);
    void trim(Topic& topic, std::size_t keep, std::int64_t keep_ms, std::int64_t now_ms);
    // Writes what `connection` has waiting; false when it must be closed (gone, or too far behind).
    bool flush(Connection& connection);
    void close(int fd);

    HubLimits limits_;
    RespLimits resp_;
    std::string password_;
    std::string publish_sha_;
    std::string history_sha_;
    int listener_ = -1;
    int epoll_ = -1;
    int stop_fd_ = -1;
    std::uint16_t port_ = 0;
    std::thread thread_;
    std::unordered_map<int, std::unique_ptr<Connection>> connections_;
    std::unordered_map<std::string, Topic> topics_;                  // by the topic's hash key
    // The topics without history, least recently used first: the first to be forgotten for room (as a Redis key
    // would have expired); a topic with history is never forgotten, so it is not listed. Room is made in constant
    // time, where a scan of max_topics per new topic let a client who names new topics occupy the hub.
    std::list<Topic*> idle_;
    std::unordered_map<std::string, std::set<int>> subscribers_;    // channel -> connections
    std::uint64_t epochs_made_ = 0;
};

}  // namespace surge::push
