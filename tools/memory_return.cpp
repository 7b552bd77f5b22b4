#include "tools/memory_return.hpp"

#if SURGE_WITH_MIMALLOC
#include <mimalloc.h>
#endif

namespace surge::tools {

MemoryReturn::MemoryReturn(Server& server, std::chrono::milliseconds period) : server_(server), period_(period) {
#if SURGE_WITH_MIMALLOC
    thread_ = std::thread([this] {
        std::unique_lock lock(mutex_);
        while (!wake_.wait_for(lock, period_, [this] { return stopping_; })) {
            // defer() refuses while the server is not running; nothing is lost by asking again next period.
            for (unsigned shard = 0; shard < server_.thread_count(); ++shard) {
                server_.defer(shard, [] { mi_collect(true); });
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
