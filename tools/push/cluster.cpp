#include "tools/push/cluster.hpp"

#include <cstdio>
#include <cstdlib>

#ifdef SURGE_PUSH_REDIS
#include "surge/ws/redis_broker.hpp"
#include "tools/push/worker_hub.hpp"
#endif

namespace surge::push {

#ifdef SURGE_PUSH_REDIS

int settle_cluster_flags(ClusterFlags& flags) {
    if (!flags.redis) {
        if (const char* url = std::getenv("SURGE_REDIS_URL"); url && *url) {
            flags.redis = true;
            flags.url = url;
        }
    }
    if (const char* prefix = std::getenv("SURGE_REDIS_PREFIX"); prefix && *prefix && flags.prefix == "surge:") {
        flags.prefix = prefix;
    }
    if (!flags.redis) return -1;
    RedisOptions checked;
    std::string why;
    if (!RedisOptions::parse_url(flags.url, checked, why)) {
        std::fprintf(stderr, "surge-push: --redis: %s\n", why.c_str());
        return 2;
    }
    return -1;
}

void HubCloser::operator()(WorkerHub* hub) const noexcept { delete hub; }

HubHandle open_hub(ClusterFlags& flags, unsigned workers, const ServerConfig& config, std::size_t max_message,
                   int& exit_status) {
    exit_status = -1;
    if (workers <= 1 || flags.redis) return nullptr;
    HubLimits limits;
    limits.history_size = config.history_per_topic;
    limits.history_seconds = config.history_seconds;
    limits.max_topics = config.max_topic_logs;
    limits.max_message_bytes = max_message;
    std::string why;
    HubHandle hub(WorkerHub::open(limits, why).release());
    if (!hub) {
        std::fprintf(stderr, "surge-push: %s\n", why.c_str());
        exit_status = 1;
        return nullptr;
    }
    flags.redis = true;
    flags.url = hub->url();
    return hub;
}

void start_hub(WorkerHub* hub) {
    if (hub) hub->start();
}

std::shared_ptr<Broker> make_broker(const ClusterFlags& flags, const ServerConfig& config) {
    if (!flags.redis) return nullptr;
    RedisOptions redis;
    std::string why;
    RedisOptions::parse_url(flags.url, redis, why);  // checked by settle_cluster_flags()
    if (const char* password = std::getenv("SURGE_REDIS_PASSWORD"); password && redis.password.empty()) {
        redis.password = password;
    }
    redis.prefix = flags.prefix;
    redis.history_size = config.history_per_topic;
    redis.history_seconds = config.history_seconds;
    return std::make_shared<RedisBroker>(std::move(redis));
}

#else  // built without hiredis: no broker for --redis, none for the workers to share

int settle_cluster_flags(ClusterFlags& flags) {
    if (!flags.redis && !std::getenv("SURGE_REDIS_URL")) return -1;
    std::fprintf(stderr, "surge-push: --redis: this build has no Redis broker (install libhiredis-dev, then build "
                         "again)\n");
    return 2;
}

void HubCloser::operator()(WorkerHub*) const noexcept {}

HubHandle open_hub(ClusterFlags&, unsigned workers, const ServerConfig&, std::size_t, int& exit_status) {
    exit_status = -1;
    if (workers > 1) {
        std::fprintf(stderr, "surge-push: --workers: this build has no broker for the workers to share (install "
                             "libhiredis-dev, then build again)\n");
        exit_status = 2;
    }
    return nullptr;
}

void start_hub(WorkerHub*) {}

std::shared_ptr<Broker> make_broker(const ClusterFlags&, const ServerConfig&) { return nullptr; }

#endif

}  // namespace surge::push
