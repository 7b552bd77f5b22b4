// Publishing across surge-push's worker processes (--workers N). Layer: tools.
// Each worker is a whole surge::Server with its own broadcast ring, so a POST that lands on one worker would reach
// only that worker's subscribers. The mesh gives every worker a Unix datagram socket in the abstract namespace,
// named after the parent's pid and the worker's index; a worker that takes a POST publishes it locally and sends it
// to its siblings, whose receiving thread publishes it into their own server. Sends never block a shard: a sibling
// whose queue is full misses the message (forward() says how many siblings took it, so the caller counts misses).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string_view>
#include <thread>

#include "surge/ws/opcode.hpp"

namespace surge::push {

class WorkerMesh {
public:
    using Deliver = std::function<void(std::string_view topic, std::string_view message, Opcode opcode)>;

    // Binds this worker's socket. `group` names the set of workers (the parent's pid). ok() says whether it worked.
    WorkerMesh(unsigned self, unsigned workers, pid_t group, std::size_t max_message);
    ~WorkerMesh();
    WorkerMesh(const WorkerMesh&) = delete;
    WorkerMesh& operator=(const WorkerMesh&) = delete;

    bool ok() const noexcept { return fd_ >= 0; }
    // Starts the thread that hands what siblings send to `deliver`.
    void start(Deliver deliver);
    unsigned siblings() const noexcept { return workers_ - 1; }
    // Sends to every sibling; returns how many took it.
    unsigned forward(std::string_view topic, std::string_view message, Opcode opcode) noexcept;

private:
    void receive_loop(const Deliver& deliver);

    unsigned self_;
    unsigned workers_;
    pid_t group_;
    std::size_t max_datagram_;
    int fd_ = -1;
    std::atomic<bool> stopping_{false};
    std::thread receiver_;
};

}  // namespace surge::push
