#include "tools/memory_return.hpp"

#if SURGE_WITH_MIMALLOC
#include <mimalloc.h>
#endif

namespace surge::tools {

MemoryReturn::Activity MemoryReturn::activity(const ShardStats& s) noexcept {
    return {s.messages_in, s.messages_out, s.connections, s.subscriptions, s.handshakes, s.handshakes_evicted,
            s.refused_per_address, s.refused_at_capacity, s.input_bytes_held, s.dropped};
}

MemoryReturn::MemoryReturn(Server& server, std::chrono::milliseconds period) : server_(server), period_(period) {
#if SURGE_WITH_MIMALLOC
    thread_ = std::thread([this] {
        std::vector<Activity> last;  // each shard's activity a period ago
        std::vector<bool> busy;           // active since its last trim
        std::unique_lock lock(mutex_);
        while (!wake_.wait_for(lock, period_, [this] { return stopping_; })) {
            const std::vector<ShardStats> stats = server_.stats();
            last.resize(stats.size(), Activity{});
            busy.resize(stats.size(), false);
            // defer() refuses while the server is not running; nothing is lost by asking again next period.
            for (unsigned shard = 0; shard < stats.size(); ++shard) {
                const Activity now = activity(stats[shard]);
                const bool quiet = now == last[shard];
                last[shard] = now;
                if (!quiet) busy[shard] = true;
                const bool trim = quiet && busy[shard];
                if (trim) busy[shard] = false;
                server_.defer(shard, [trim] {
                    if (trim) {
                        mi_thread_done();  // abandons this thread's segments: the collect below decommits them
                        mi_thread_init();
                    }
                    mi_collect(true);
                });
            }
        }
    });
#endif
}

MemoryReturn::~MemoryReturn() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

}  // namespace surge::tools
