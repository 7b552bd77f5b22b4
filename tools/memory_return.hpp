// Gives memory freed after a burst back to the system, for the shipped servers. Layer: tools.
// mimalloc (what the shipped binaries allocate with) keeps the pages a thread frees, for that thread to reuse,
// and decommits them only when the thread allocates again after a delay; a shard that goes quiet after a burst
// never does, and the process kept hundreds of MB with no connection left. While a MemoryReturn lives, every
// `period` each shard runs mi_collect(true) on its own thread (Server::defer), which decommits what its heap
// holds free. Without mimalloc (the sanitizer builds) it does nothing.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "ws/server.hpp"

namespace surge::tools {

class MemoryReturn {
public:
    explicit MemoryReturn(Server& server, std::chrono::milliseconds period = std::chrono::seconds(2));
    ~MemoryReturn();  // stops asking; call before the server is destroyed
    MemoryReturn(const MemoryReturn&) = delete;
    MemoryReturn& operator=(const MemoryReturn&) = delete;

private:
    Server& server_;
    std::chrono::milliseconds period_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace surge::tools
