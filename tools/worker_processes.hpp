// --workers N for the shipped servers: N processes, each a whole surge::Server with its own shards, sharing one
// port through SO_REUSEPORT. Layer: tools. Why processes and not only threads: the per-process descriptor limit
// (20000 on the benchmark machine, and not raisable there) caps one process's connections, and a million
// connections need about fifty such processes. The parent forks the workers, waits until every one is listening,
// forwards SIGINT and SIGTERM to them, and exits with the worst status among them. A worker dies with its parent.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace surge::tools {

// In a worker: `ready` tells the parent this worker is listening; the return value is its exit status.
using WorkerBody = std::function<int(unsigned index, const std::function<void()>& ready)>;

// Forks `workers` processes running `body`; calls `on_ready` in the parent once all are listening. Returns the
// exit status for the parent: 0 when every worker exited 0.
int run_worker_processes(unsigned workers, const WorkerBody& body, const std::function<void()>& on_ready);

// With --workers and --port 0 the workers must agree on a port before they exist: this binds a SO_REUSEPORT
// socket on `address` port 0 and returns the port the kernel chose (0 on failure). The socket stays open, keeping
// the port reserved, until close_reserved_port() (after the workers listen on it).
std::uint16_t reserve_port(const std::string& address);
void close_reserved_port();

}  // namespace surge::tools
