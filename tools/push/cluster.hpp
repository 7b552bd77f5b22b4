// surge-push as a node of a cluster (--redis), and --workers on their hub: which broker a worker process uses,
// from the flags and the environment. Layer: tools. Without hiredis in the build, --redis and --workers are said
// to be unavailable (status 2) rather than half-working.
#pragma once

#include <memory>
#include <string>

#include "surge/ws/server.hpp"

namespace surge::push {

class WorkerHub;

struct ClusterFlags {
    bool redis = false;  // --redis (or SURGE_REDIS_URL) given, or the workers' hub's address set by open_hub()
    std::string url;
    std::string prefix = "surge:";
};

// After the command line: SURGE_REDIS_URL and SURGE_REDIS_PREFIX fill what the flags left, and the URL is
// checked. Returns -1 to go on, or the exit status after saying on stderr what is wrong (naming --redis).
int settle_cluster_flags(ClusterFlags& flags);

struct HubCloser {
    void operator()(WorkerHub* hub) const noexcept;
};
using HubHandle = std::unique_ptr<WorkerHub, HubCloser>;

// In the parent of --workers without Redis: binds the workers' hub (tools/push/worker_hub.hpp) and points
// `flags` at it; null with nothing to do. `exit_status` is -1, or the status to exit with (said on stderr).
HubHandle open_hub(ClusterFlags& flags, unsigned workers, const ServerConfig& config, std::size_t max_message,
                   int& exit_status);
// Starts serving the hub (after the fork, in the parent). Nothing when `hub` is null.
void start_hub(WorkerHub* hub);

// The broker a worker's server uses, or null without --redis (or the hub). SURGE_REDIS_PASSWORD gives the
// password when the URL has none; the history bounds are the server's.
std::shared_ptr<Broker> make_broker(const ClusterFlags& flags, const ServerConfig& config);

}  // namespace surge::push
