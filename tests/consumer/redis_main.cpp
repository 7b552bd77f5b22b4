// The Redis broker as a consumer links it: surge::redis (or pkg-config surge-redis). No Redis is needed: it checks
// that the broker is made from a URL and taken by a server, and that an unreachable Redis is said, not hung on.
#include <cstdio>
#include <memory>
#include <string>

#include <surge/ws/redis_broker.hpp>
#include <surge/ws/server.hpp>

int main() {
    surge::RedisOptions options;
    std::string why;
    if (!surge::RedisOptions::parse_url("redis://127.0.0.1:1/0", options, why)) {
        std::printf("parse_url: %s\n", why.c_str());
        return 1;
    }
    options.timeout = std::chrono::milliseconds(200);
    auto broker = std::make_shared<surge::RedisBroker>(options);
    surge::ServerConfig config;
    config.broker = broker;
    const surge::Server server(config);
    // Port 1 answers nothing: a publish says Unavailable (nothing published) rather than waiting.
    const surge::PublishResult r = broker->publish("news", "hello", surge::Opcode::Text, {});
    std::printf("surge redis broker: publish without Redis is %s\n",
                r.status == surge::PublishStatus::Unavailable ? "Unavailable" : "something else");
    return r.status == surge::PublishStatus::Unavailable ? 0 : 1;
}
