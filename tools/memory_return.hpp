// Gives memory freed after a burst back to the system, for the shipped servers. Layer: tools.
// mimalloc (what the shipped binaries allocate with) keeps what a thread frees for that thread to reuse. Two kinds
// stay with a shard that goes quiet after a burst (the process kept hundreds of MB with no connection left):
//  - whole free segments (large buffers): mi_collect(true) decommits them; every `period` each shard runs it on
//    its own thread (Server::defer);
//  - free parts of segments still in use (the small objects of subscriptions, say): mimalloc 2.0 decommits those
//    only when the owning thread next takes a page from that segment, or when the segment is abandoned (its thread
//    ended) and another thread collects. So once a shard has been busy and then quiet for a whole period, it
//    abandons its segments (mi_thread_done, then mi_thread_init to go on) before the collect, which decommits their
//    free parts. A busy shard is left alone: abandoning costs its warm pages, and MIMALLOC_DECOMMIT_DELAY=0, the
//    other way to get this memory back, cost the fan-out a fifth of its throughput (README).
// Without mimalloc (the sanitizer builds) it does nothing.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "surge/ws/server.hpp"

namespace surge::tools {

class MemoryReturn {
public:
    explicit MemoryReturn(Server& server, std::chrono::milliseconds period = std::chrono::seconds(2));
    ~MemoryReturn();  // stops asking; call before the server is destroyed
    MemoryReturn(const MemoryReturn&) = delete;
    MemoryReturn& operator=(const MemoryReturn&) = delete;

    // What changes when a shard does anything: its traffic, connections, handshakes, subscriptions, refusals.
    // The same values one period apart mean the shard was quiet for that period.
    using Activity = std::array<std::uint64_t, 10>;
    static Activity activity(const ShardStats& stats) noexcept;

private:
    Server& server_;
    std::chrono::milliseconds period_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace surge::tools
